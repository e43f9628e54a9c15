"""Hostile input is a 4xx on both databases (issue 12, item 5), and nothing reaches the database.

NUL and other control characters, lone surrogates and over-long text, in every place a
request carries text: JSON bodies, paths, query strings, web forms; plus the request
body limit, e-mail and password rules, and web amount fields.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.exchange import Exchange, Seller, new_account
from voucher_exchange.db.schema import users

NUL = "\x00"
TRADE = {
    "quote_id": str(uuid.uuid4()),
    "voucher": {"code": "1234567812345670"},
    "acquisition": {"method": "gift", "acquired_on": "2026-11-01"},
    "payout_destination_id": str(uuid.uuid4()),
}


def _with(body: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(body))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


# (method, path, body, the text field to poison)
TEXT_FIELDS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("/accounts", {"email": "a@example.com", "password": "correct-horse-battery"}, ["email"]),
    ("/accounts", {"email": "a@example.com", "password": "correct-horse-battery"}, ["password"]),
    ("/sessions", {"email": "a@example.com", "password": "whatever-pass"}, ["email"]),
    ("/sessions", {"email": "a@example.com", "password": "whatever-pass"}, ["password"]),
    (
        "/me/identity",
        {"legal_name": "Kim", "birth_date": "1990-01-01", "phone": "010-1234-5678"},
        ["legal_name"],
    ),
    ("/me/identity", {"legal_name": "Kim", "birth_date": "1990-01-01", "phone": "010-1234-5678"}, ["phone"]),
    (
        "/me/payout-destinations",
        {"kind": "bank_account", "bank_code": "004", "account_number": "123456789012", "holder_name": "Kim"},
        ["holder_name"],
    ),
    (
        "/me/payout-destinations",
        {"kind": "bank_account", "bank_code": "004", "account_number": "123456789012", "holder_name": "Kim"},
        ["bank_code"],
    ),
    ("/quotes", {"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}, ["brand"]),
    ("/trades", TRADE, ["voucher", "code"]),
    ("/trades", TRADE, ["voucher", "pin"]),
    ("/trades", TRADE, ["quote_id"]),
]


@pytest.mark.parametrize(
    "poison", [NUL, "a\x00b", "\x01", "\x7f", "\ud800"], ids=["nul", "inner-nul", "soh", "del", "surrogate"]
)
@pytest.mark.parametrize(
    ("path", "body", "field"), TEXT_FIELDS, ids=[f"{p}:{'.'.join(f)}" for p, _, f in TEXT_FIELDS]
)
def test_control_characters_in_any_text_field_are_a_422(
    seller: Seller, path: str, body: dict[str, Any], field: list[str], poison: str
) -> None:
    raw = json.dumps(_with(body, field, f"x{poison}y"))  # \ud800 is sent as the escape JSON allows
    response = seller.api.http.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["field"] == ".".join(field)


def test_a_reviewer_note_with_nul_is_a_422(exchange: Exchange) -> None:
    reviewer = exchange.operator()
    response = reviewer.post(
        f"/review/trades/{uuid.uuid4()}/decision", {"outcome": "approve", "note": f"ok{NUL}"}
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "note"


@pytest.mark.parametrize(
    "url",
    [
        "/trades/%00",
        "/trades/abc%00def",
        "/trades/%00/cancel",
        "/trades?status=paid%00",
        "/review/trades?reason=x%00",
        "/trades/%01",
    ],
)
def test_control_characters_in_paths_and_queries_are_a_400(
    exchange: Exchange, seller: Seller, url: str
) -> None:
    method = "POST" if url.endswith("cancel") else "GET"
    for api in (seller.api, exchange.operator(), exchange.client()):
        response = api.http.request(method, url)
        assert response.status_code == 400, (url, response.text)
        assert response.json()["error"]["code"] == "invalid_request"


def test_names_and_phones_longer_than_the_vendors_take_are_a_422(exchange: Exchange) -> None:
    api, _ = new_account(exchange)
    long_name = api.post(
        "/me/identity", {"legal_name": "김" * 101, "birth_date": "1990-01-01", "phone": "010-1234-5678"}
    )
    assert long_name.status_code == 422 and long_name.json()["error"]["field"] == "legal_name"
    # The identity vendor takes 32 characters; 33 used to come back as a 500.
    long_phone = api.post(
        "/me/identity", {"legal_name": "Kim", "birth_date": "1990-01-01", "phone": "0" * 33}
    )
    assert long_phone.status_code == 422 and long_phone.json()["error"]["field"] == "phone"
    assert api.get("/me").json()["identity_status"] == "none"


def _users(exchange: Exchange) -> int:
    with exchange.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(users)).scalar_one())


def test_a_body_over_the_limit_is_a_413_before_anything_reads_it(exchange: Exchange) -> None:
    before = _users(exchange)
    big = b'{"email": "' + b"a" * (2 * 1024 * 1024) + b'@example.com", "password": "correct-horse-battery"}'
    response = httpx.post(
        exchange.base_url + "/api/v1/accounts", content=big, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Any:  # no Content-Length: the limit counts what arrives
        yield b'{"email": "'
        for _ in range(40):
            yield b"a" * 64 * 1024

    streamed = httpx.post(
        exchange.base_url + "/api/v1/accounts", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "payload_too_large"
    page = httpx.post(
        exchange.base_url + "/signup",
        content=b"email=" + b"a" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 413
    assert _users(exchange) == before


@pytest.mark.parametrize(
    "email", ["a\r\nBcc: x@example.com", "a@example.com\n", "no-at-sign", "a@b", "a @example.com"]
)
def test_an_e_mail_is_checked_the_same_way_by_the_api_and_the_web(exchange: Exchange, email: str) -> None:
    before = _users(exchange)
    api = httpx.post(
        exchange.base_url + "/api/v1/accounts", json={"email": email, "password": "correct-horse-battery"}
    )
    assert api.status_code == 422, api.text
    with httpx.Client(base_url=exchange.base_url) as client:
        csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/signup").text)
        assert csrf
        web = client.post(
            "/signup", data={"email": email, "password": "correct-horse-battery", "csrf_token": csrf.group(1)}
        )
    assert web.status_code == 422
    assert _users(exchange) == before


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("password1234", "password_common"),
        ("Qwerty2026!", "password_common"),
        ("1234567890", "password_common"),
        ("zzzzzzzzzzzz", "password_common"),
        ("{local}2024", "password_like_email"),
    ],
)
def test_common_passwords_and_the_e_mail_are_refused(exchange: Exchange, password: str, code: str) -> None:
    local = f"minji{uuid.uuid4().hex[:6]}"
    response = httpx.post(
        exchange.base_url + "/api/v1/accounts",
        json={"email": f"{local}@example.com", "password": password.format(local=local)},
    )
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": code,
        "message": response.json()["error"]["message"],
        "field": "password",
    }


@pytest.mark.parametrize(
    "face", ["1e999999999", "sNaN", "NaN", "-Infinity", "1E+1000000000000000000", "0x10", "١٢٣"]
)
def test_amounts_that_decimal_chokes_on_are_a_4xx_on_anonymous_pages(exchange: Exchange, face: str) -> None:
    with httpx.Client(base_url=exchange.base_url) as client:
        home = client.get("/", params={"brand": "cultureland", "face": face})
        calc = client.get("/calculator", params={"brand": "cultureland", "face": face})
    assert home.status_code == 200 and calc.status_code == 200
    assert "Enter an amount in numbers." in calc.text or "숫자" in calc.text
