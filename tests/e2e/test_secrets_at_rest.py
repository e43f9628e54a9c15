"""A stolen database gives away no secret: no plaintext fragment, no unkeyed hash (issue 12, item 1).

A fresh exchange on each database runs what a demo runs — sign up, verify, add a bank
account, sell vouchers with Idempotency-Keys, a cancellation — then every column of every
table is searched for the secrets it was given.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from tests.conftest import database_url
from tests.support.exchange import Exchange, new_account, new_account_number, running_exchange

pytestmark = pytest.mark.both_backends

PASSWORD = "correct-horse-battery"
FRAGMENT = 8  # any run of this many characters of a secret counts as a leak


@pytest.fixture(scope="module")
def fresh(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    var_dir: Path = tmp_path_factory.mktemp(f"var-secrets-{backend}")
    url = database_url(request, backend, var_dir, "vx_secrets")
    with running_exchange(var_dir, url) as running:
        yield running


def _old_unkeyed_hash(method_path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method_path}\n{canonical}".encode()).hexdigest()


def _digests(value: str) -> set[str]:
    raw = value.encode()
    found = set()
    for algorithm in ("md5", "sha1", "sha256", "sha512"):
        digest = hashlib.new(algorithm, raw).digest()
        found |= {digest.hex(), base64.b64encode(digest).decode(), base64.urlsafe_b64encode(digest).decode()}
    return found


def _everything(exchange: Exchange) -> list[tuple[str, str, str]]:
    """(table, column, text) for every non-null value in the database."""
    metadata = MetaData()
    metadata.reflect(exchange.ctx.engine)
    cells = []
    with exchange.ctx.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    if value is None:
                        continue
                    if isinstance(value, bytes | memoryview):
                        blob = bytes(value)
                        text = blob.hex() + "\n" + blob.decode("latin-1")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value, ensure_ascii=False)
                    else:
                        text = str(value)
                    cells.append((table.name, str(column), text))
    return cells


def _demo_run(exchange: Exchange) -> tuple[list[str], list[tuple[str, Any]]]:
    """Sell like a demo does; returns the secrets used and the (method path, body) of keyed requests."""
    api, _ = new_account(exchange)
    name = f"Lee Secret {uuid.uuid4().hex[:6]}"
    assert (
        api.post(
            "/me/identity", {"legal_name": name, "birth_date": "1988-03-02", "phone": "010-9876-5432"}
        ).status_code
        == 200
    )
    account = new_account_number()
    exchange.sandbox(
        "POST", "/rail/accounts", {"bank_code": "004", "account_number": account, "holder_name": name}
    )
    dest_body = {"kind": "bank_account", "bank_code": "004", "account_number": account, "holder_name": name}
    added = api.post("/me/payout-destinations", dest_body, headers={"Idempotency-Key": "dest-1"})
    assert added.status_code == 201 and added.json()["status"] == "verified", added.text
    replay = api.post("/me/payout-destinations", dest_body, headers={"Idempotency-Key": "dest-1"})
    assert replay.json() == added.json()

    secrets, keyed = [account], [("POST /me/payout-destinations", dest_body)]
    for n, (brand, face) in enumerate((("cultureland", 50000), ("booknlife", 10000))):
        voucher = exchange.mint(brand, face)
        secrets += [voucher["code"]] + ([voucher["pin"]] if voucher.get("pin") else [])
        quote = api.post(
            "/quotes", {"brand": brand, "face_value": {"amount": face, "currency": "KRW"}}
        ).json()
        body = {
            "quote_id": quote["id"],
            "voucher": {"code": voucher["code"], **({"pin": voucher["pin"]} if voucher.get("pin") else {})},
            "acquisition": {"method": "gift", "acquired_on": "2026-11-01"},
            "payout_destination_id": added.json()["id"],
        }
        submitted = api.post("/trades", body, headers={"Idempotency-Key": f"trade-{n}"})
        assert submitted.status_code == 202, submitted.text
        keyed.append(("POST /trades", body))
        assert api.wait_for(submitted.json()["id"])["status"] == "paid"
    # A victim reports the sold codes and one never seen: the report keeps fingerprints only.
    unseen = exchange.mint("cultureland", 10000)["code"]
    secrets.append(unseen)
    report = {
        "codes": [*secrets[1:2], unseen],
        "reporter": {"name": "Victim", "contact": "victim@example.com"},
        "description": "Scammed.",
    }
    assert exchange.client().post("/fraud-reports", report).status_code == 202
    return secrets, keyed


def test_no_column_of_any_table_holds_a_secret_or_an_unkeyed_hash_of_one(fresh: Exchange) -> None:
    secrets, keyed = _demo_run(fresh)
    cells = _everything(fresh)
    assert {table for table, _, _ in cells} >= {
        "idempotency_keys", "trades", "payout_destinations", "users", "fraud_reports", "fraud_report_codes",
    }  # fmt: skip

    needles: dict[str, str] = {}
    for secret in secrets:
        # Runs of FRAGMENT characters (a 4-digit PIN is too short to search as text; its digests
        # and the bodies holding it are searched below). The last four may be shown: they are not
        # a run of eight.
        for start in range(len(secret) - FRAGMENT + 1):
            needles[secret[start : start + FRAGMENT]] = f"plaintext of a secret (…{secret[-4:]})"
        for digest in _digests(secret):
            needles[digest] = f"unkeyed digest of a secret (…{secret[-4:]})"
    for method_path, body in keyed:
        needles[_old_unkeyed_hash(method_path, body)] = f"unkeyed hash of a {method_path} body"
        for digest in _digests(json.dumps(body, sort_keys=True, separators=(",", ":"))):
            needles[digest] = f"unkeyed digest of a {method_path} body"

    leaks = [
        (table, column, why)
        for table, column, text in cells
        for needle, why in needles.items()
        if needle in text
    ]
    assert leaks == []
    assert any(len(secret) == 4 for secret in secrets)  # the booknlife PIN was in play
    # The keyed hashes are there (the scan looked at them), one per keyed request.
    with fresh.ctx.engine.connect() as conn:
        hashes = [
            row.request_hash
            for row in conn.execute(select(MetaData().tables.get("x") or _table(fresh, "idempotency_keys")))
        ]
    assert len(hashes) == len(keyed) and all(len(h) == 64 for h in hashes)


def _table(exchange: Exchange, name: str) -> Any:
    metadata = MetaData()
    metadata.reflect(exchange.ctx.engine, only=[name])
    return metadata.tables[name]


def test_an_idempotency_record_expires_after_its_time_and_the_key_can_be_used_again(fresh: Exchange) -> None:
    api, _ = new_account(fresh)
    first = api.post(
        "/quotes",
        {"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}},
        headers={"Idempotency-Key": "q"},
    )
    other_body = {"brand": "cultureland", "face_value": {"amount": 10000, "currency": "KRW"}}
    assert api.post("/quotes", other_body, headers={"Idempotency-Key": "q"}).status_code == 409
    try:
        fresh.clock.offset = timedelta(seconds=fresh.ctx.settings.idempotency_ttl_seconds + 1)
        again = api.post("/quotes", other_body, headers={"Idempotency-Key": "q"})
    finally:
        fresh.clock.offset = timedelta(0)
    assert again.status_code == 201, again.text
    assert again.json()["id"] != first.json()["id"]
    assert again.json()["face_value"] == {"amount": 10000, "currency": "KRW"}
    with fresh.ctx.engine.connect() as conn:
        table = _table(fresh, "idempotency_keys")
        user_id = api.get("/me").json()["id"]
        rows = list(conn.execute(select(table).where(table.c.user_id == user_id)))
    # The expired record is gone; only the new one is kept.
    assert len(rows) == 1 and rows[0].response_body["id"] == again.json()["id"]
