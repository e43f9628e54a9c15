"""Bad input gets a clear 4xx with a stable error code, never a 5xx, and nothing is written."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.exchange import Exchange, Seller

KRW = "KRW"


def _money(amount: Any, currency: Any = KRW) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


QUOTE_CASES: list[tuple[Any, int, str]] = [
    ({"brand": "cultureland", "face_value": _money(-50000)}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money(0)}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money(50000.5)}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money("50000")}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money(10**30)}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money(True)}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": 50000}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money(50000, "USD")}, 422, "currency_mismatch"),
    ({"brand": "cultureland", "face_value": _money(50000, "XXX")}, 422, "currency_unsupported"),
    ({"brand": "cultureland", "face_value": _money(50000, "krw")}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money(12345)}, 422, "face_value_invalid"),
    ({"brand": "no-such-brand", "face_value": _money(50000)}, 404, "brand_unknown"),
    ({"brand": "amazon-us", "face_value": _money(5000, "USD")}, 422, "currency_mismatch"),
    ({"brand": "x" * 10_000, "face_value": _money(50000)}, 422, "invalid_request"),
    ({"brand": "cultureland"}, 422, "invalid_request"),
    ({"brand": "cultureland", "face_value": _money(50000), "extra": 1}, 422, "invalid_request"),
    ([], 422, "invalid_request"),
    (None, 422, "invalid_request"),
]


@pytest.mark.parametrize(("body", "status", "code"), QUOTE_CASES)
def test_bad_quotes_are_refused(seller: Seller, body: Any, status: int, code: str) -> None:
    response = seller.api.post("/quotes", body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_malformed_json_is_refused(seller: Seller) -> None:
    response = seller.api.http.post(
        "/quotes",
        content=b'{"brand": "cultureland", "face_value": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "malformed_json"


def _trade(seller: Seller, quote: str, **changes: Any) -> dict[str, Any]:
    body = seller.trade_body(quote, "1234567812345670")
    for path, value in changes.items():
        target = body
        *parents, leaf = path.split("__")
        for p in parents:
            target = target[p]
        target[leaf] = value
    return body


TRADE_CASES: list[tuple[dict[str, Any], int, str]] = [
    ({"voucher__code": "12345"}, 422, "voucher_code_format"),
    ({"voucher__code": "ABCDEFGHABCDEFGH"}, 422, "voucher_code_format"),
    ({"voucher__code": "1234567812345678"}, 422, "voucher_code_format"),  # Luhn check digit wrong
    ({"voucher__code": "9" * 5000}, 422, "invalid_request"),
    ({"voucher__code": 1234567812345670}, 422, "invalid_request"),
    ({"voucher__pin": "1234"}, 422, "voucher_pin_format"),
    ({"acquisition__method": "stolen"}, 422, "invalid_request"),
    ({"acquisition__acquired_on": "2999-01-01"}, 422, "acquired_on_invalid"),
    ({"acquisition__acquired_on": "yesterday"}, 422, "invalid_request"),
    ({"payout_destination_id": "nope"}, 404, "payout_destination_unknown"),
    ({"quote_id": "nope"}, 404, "quote_unknown"),
]


@pytest.mark.parametrize(("changes", "status", "code"), TRADE_CASES)
def test_bad_trades_are_refused_and_write_nothing(
    exchange: Exchange, seller: Seller, changes: dict[str, Any], status: int, code: str
) -> None:
    quote = seller.quote()
    response = seller.api.post("/trades", _trade(seller, quote["id"], **changes))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert "1234567812345670" not in response.text
    assert seller.api.get("/trades").json() == {"trades": []}
    # The quote was not used up by the refusal: the corrected request still works.
    voucher = exchange.mint("cultureland", 50000)
    ok = seller.api.post("/trades", seller.trade_body(quote["id"], voucher["code"]))
    assert ok.status_code == 202


def test_error_messages_never_echo_the_submitted_code(seller: Seller) -> None:
    quote = seller.quote()
    secret = "SECRETCODE123456789"
    response = seller.api.post("/trades", _trade(seller, quote["id"], voucher__code=secret))
    assert response.status_code == 422
    assert secret not in response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/accounts", {"email": "not-an-email", "password": "long-enough-pass"}),
        ("/accounts", {"email": "a@example.com", "password": "short"}),
        ("/sessions", {"email": "nobody@example.com", "password": "whatever-pass"}),
        ("/me/identity", {"legal_name": "Kim", "birth_date": "1990-02-30", "phone": "010"}),
        (
            "/me/payout-destinations",
            {"kind": "crypto", "bank_code": "004", "account_number": "1", "holder_name": "x"},
        ),
        ("/review/trades/x/decision", {"outcome": "approve", "note": "ok"}),
    ],
)
def test_other_endpoints_refuse_bad_input_with_a_code(seller: Seller, path: str, body: Any) -> None:
    response = seller.api.post(path, body)
    assert 400 <= response.status_code < 500, response.text
    assert isinstance(response.json()["error"]["code"], str)


def test_unknown_routes_and_methods_use_the_error_shape(exchange: Exchange) -> None:
    missing = httpx.get(exchange.base_url + "/api/v1/nothing-here")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    wrong = httpx.delete(exchange.base_url + "/api/v1/brands")
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (405, "method_not_allowed")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "brand": st.sampled_from(["cultureland", "amazon-us", ""]) | st.text(max_size=80),
            "face_value": json_values,
            "quote_id": st.text(max_size=50),
            "voucher": json_values,
            "acquisition": json_values,
            "payout_destination_id": json_values,
        },
    ),
    path=st.sampled_from(["/quotes", "/trades", "/me/identity", "/me/payout-destinations"]),
)
def test_no_json_body_makes_a_server_error(seller: Seller, body: dict[str, Any], path: str) -> None:
    response = seller.api.post(path, body)
    assert response.status_code < 500, response.text
