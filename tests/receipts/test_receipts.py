"""Signed receipts over real HTTP: issue, verify, tamper, rotate, refuse, CLI.

On SQLite only: signing and verifying do not depend on the database's dialect.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, select

from tests.support.cli import invoke_cli
from tests.support.exchange import Exchange, Seller, make_seller
from voucher_exchange.db.schema import receipts, trades
from voucher_exchange.receipts import service as receipt_service
from voucher_exchange.receipts.models import verify
from voucher_exchange.trust.models import DEMO_PROFILE

KEYS = "/.well-known/voucher-exchange/keys"


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _keys(exchange: Exchange) -> list[dict[str, str]]:
    """The published keys, fetched anonymously from the site root."""
    response = httpx.get(exchange.base_url + KEYS, timeout=10)
    assert response.status_code == 200, response.text
    keys: list[dict[str, str]] = response.json()["keys"]
    return keys


def _independently_valid(document: dict[str, Any], keys: list[dict[str, str]]) -> bool:
    """docs/api.md's receipt format, checked without our code: sorted keys, no spaces, base64url."""
    by_id = {k["key_id"]: k for k in keys}
    key = by_id[document["key_id"]]
    assert key["alg"] == "Ed25519"
    signed = json.dumps(document["receipt"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        Ed25519PublicKey.from_public_bytes(_b64(key["public_key"])).verify(
            _b64(document["signature"]), signed.encode("utf-8")
        )
    except InvalidSignature:
        return False
    return True


def _paid_trade(exchange: Exchange, seller: Seller) -> tuple[str, dict[str, Any]]:
    voucher = exchange.mint("cultureland", 50000)
    trade_id = seller.sell(voucher)
    assert seller.api.wait_for(trade_id)["status"] == "paid"
    return trade_id, voucher


def _receipt(seller: Seller, trade_id: str) -> dict[str, Any]:
    response = seller.api.get(f"/trades/{trade_id}/receipt")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _stored_receipts(exchange: Exchange, trade_ids: list[str]) -> int:
    with exchange.ctx.uow(readonly=True) as uow:
        count: int = uow.conn.execute(
            select(func.count()).select_from(receipts).where(receipts.c.trade_id.in_(trade_ids))
        ).scalar_one()
    return count


def test_a_paid_trades_receipt_verifies_with_the_published_key(exchange: Exchange, seller: Seller) -> None:
    trade_id, voucher = _paid_trade(exchange, seller)
    response = seller.api.get(f"/trades/{trade_id}/receipt")
    assert response.status_code == 200, response.text
    document = response.json()
    assert voucher["code"] not in response.text
    assert sorted(document) == ["key_id", "receipt", "signature"]
    receipt = document["receipt"]
    trade = seller.api.get(f"/trades/{trade_id}").json()
    with exchange.ctx.uow(readonly=True) as uow:
        fingerprint = uow.conn.execute(
            select(trades.c.voucher_fingerprint).where(trades.c.id == trade_id)
        ).scalar_one()
    paid_at = next(e["at"] for e in trade["events"] if e["status"] == "paid")
    paid = datetime.fromisoformat(receipt["paid_at"].replace("Z", "+00:00"))
    assert paid == datetime.fromisoformat(paid_at.replace("Z", "+00:00"))
    times = {"paid_at", "submitted_at", "secured_at", "issued_at", "liability_ends_at"}
    assert {k: v for k, v in receipt.items() if k not in times} == {
        "version": 1,
        "trade_id": trade_id,
        "brand": "cultureland",
        "face_value": {"amount": 50000, "currency": "KRW"},
        "rate_bps": 9100,
        "fee": {"amount": 4500, "currency": "KRW"},
        "payout": {"amount": 45500, "currency": "KRW"},
        "voucher_fingerprint": fingerprint,
        "issuer_verification": {
            "state": "active",
            "balance": {"amount": 50000, "currency": "KRW"},
            "channel": "card",
        },
        "liability_window_days": 90,
        # Who issued it: the demo business profile until the operator saves theirs (marked demo).
        "issuer": DEMO_PROFILE.issuer_block(),
    }  # fmt: skip
    assert receipt["liability_ends_at"] == (paid + timedelta(days=90)).isoformat().replace("+00:00", "Z")
    assert receipt["submitted_at"] <= receipt["secured_at"] <= receipt["paid_at"] <= receipt["issued_at"]
    assert all(receipt[k].endswith("Z") for k in ("submitted_at", "secured_at", "paid_at", "issued_at"))

    keys = _keys(exchange)
    assert document["key_id"] in [k["key_id"] for k in keys]
    assert _independently_valid(document, keys)
    # Issued once: asking again gives the very same signed bytes.
    assert _receipt(seller, trade_id) == document
    assert _stored_receipts(exchange, [trade_id]) == 1


def test_altering_any_field_fails_verification(exchange: Exchange, seller: Seller) -> None:
    trade_id, _ = _paid_trade(exchange, seller)
    document = _receipt(seller, trade_id)
    keys = _keys(exchange)
    published = {k["key_id"]: _b64(k["public_key"]) for k in keys}
    assert verify(document, published).code == "valid"

    forged = json.loads(json.dumps(document))
    forged["receipt"]["payout"]["amount"] = 45501
    assert not _independently_valid(forged, keys)
    verdict = verify(forged, published)
    assert (verdict.valid, verdict.code) == (False, "receipt_signature_invalid")

    for field in document["receipt"]:
        altered = json.loads(json.dumps(document))
        altered["receipt"][field] = "altered"
        assert verify(altered, published).code == "receipt_signature_invalid", field
    added = json.loads(json.dumps(document))
    added["receipt"]["note"] = "paid in full"
    assert verify(added, published).code == "receipt_signature_invalid"
    unknown = {**document, "key_id": "0000000000000000"}
    assert verify(unknown, published).code == "receipt_key_unknown"
    damaged = {**document, "signature": document["signature"][:-4]}
    assert verify(damaged, published).code == "receipt_signature_malformed"
    # The server checks the same way, against the keys it publishes.
    with exchange.ctx.uow(readonly=True) as uow:
        assert receipt_service.check(uow.conn, document).code == "valid"
        assert receipt_service.check(uow.conn, forged).code == "receipt_signature_invalid"


def test_a_receipt_signed_before_a_rotation_still_verifies_after_it(
    exchange: Exchange, seller: Seller, tmp_path: Path
) -> None:
    old_trade, _ = _paid_trade(exchange, seller)
    before = _receipt(seller, old_trade)
    old_key = before["key_id"]
    key_dir = exchange.var_dir / "keys" / "receipts"
    assert (key_dir / f"{old_key}.key").is_file()

    env = {"VX_VAR_DIR": str(exchange.var_dir), "VX_DATABASE_URL": exchange.database_url}
    rotated = invoke_cli(tmp_path, "receipt", "keys", "rotate", env=env)
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    new_key = rotated.stdout.split("new signing key ")[1].split()[0]
    assert new_key != old_key and f"retired {old_key}" in rotated.stdout
    private = (key_dir / f"{new_key}.key").read_bytes()
    assert stat.S_IMODE((key_dir / f"{new_key}.key").stat().st_mode) == 0o600
    assert not (key_dir / f"{old_key}.key").exists()
    printed = rotated.stdout + rotated.stderr
    assert private.hex() not in printed
    assert base64.urlsafe_b64encode(private).decode().rstrip("=") not in printed

    listed = invoke_cli(tmp_path, "receipt", "keys", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in listed.stdout.splitlines()]
    rows = {row[0]: row[2:] for row in cells if row and row[0] in {old_key, new_key}}
    assert rows[old_key][0].startswith("retired ") and rows[old_key][1] == "no"
    assert rows[new_key] == ["signing", "yes"]

    keys = _keys(exchange)
    ids = [k["key_id"] for k in keys]
    assert old_key in ids and new_key in ids and ids.index(old_key) < ids.index(new_key)
    assert all(k["alg"] == "Ed25519" and len(_b64(k["public_key"])) == 32 for k in keys)
    after = _receipt(seller, old_trade)
    assert after == before
    assert _independently_valid(after, keys)

    new_trade, _ = _paid_trade(exchange, seller)
    fresh = _receipt(seller, new_trade)
    assert fresh["key_id"] == new_key
    assert _independently_valid(fresh, keys)


def test_an_unpaid_or_another_sellers_trade_gets_no_receipt(exchange: Exchange, seller: Seller) -> None:
    paid, _ = _paid_trade(exchange, seller)
    refused_voucher = exchange.mint("cultureland", 50000, purchase_channel="carrier_billing")
    refused = seller.sell(refused_voucher, method="carrier_billing")
    assert seller.api.wait_for(refused)["status"] == "rejected"

    response = seller.api.get(f"/trades/{refused}/receipt")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "receipt_not_ready"

    intruder = make_seller(exchange)
    response = intruder.api.get(f"/trades/{paid}/receipt")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "trade_unknown"
    assert "signature" not in response.text
    response = exchange.client().get(f"/trades/{paid}/receipt")
    assert response.status_code == 401
    response = seller.api.get("/trades/00000000-0000-0000-0000-000000000000/receipt")
    assert response.status_code == 404 and response.json()["error"]["code"] == "trade_unknown"
    # Nothing was issued for any of them.
    assert _stored_receipts(exchange, [paid, refused]) == 0


def test_the_cli_verifies_a_real_file_offline_and_through_the_keys_url(
    exchange: Exchange, seller: Seller, tmp_path: Path
) -> None:
    trade_id, _ = _paid_trade(exchange, seller)
    document = _receipt(seller, trade_id)
    receipt_file = tmp_path / "receipt.json"
    receipt_file.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(json.dumps({"keys": _keys(exchange)}), encoding="utf-8")

    valid = invoke_cli(tmp_path, "receipt", "verify", str(receipt_file), "--keys", str(keys_file))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.startswith(f"valid: trade {trade_id}, signed by key {document['key_id']}")

    online = invoke_cli(
        tmp_path, "receipt", "verify", str(receipt_file), env={"VX_PUBLIC_URL": exchange.base_url}
    )
    assert online.returncode == 0, online.stdout + online.stderr

    forged = json.loads(json.dumps(document))
    forged["receipt"]["payout"]["amount"] = 455000
    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps(forged), encoding="utf-8")
    invalid = invoke_cli(tmp_path, "receipt", "verify", str(forged_file), "--keys", str(keys_file))
    assert invalid.returncode == 1
    assert invalid.stdout.startswith("invalid (receipt_signature_invalid): The signature does not match")

    stranger_file = tmp_path / "stranger.json"
    stranger_file.write_text(json.dumps({**document, "key_id": "ffffffffffffffff"}), encoding="utf-8")
    unknown = invoke_cli(tmp_path, "receipt", "verify", str(stranger_file), "--keys", str(keys_file))
    assert unknown.returncode == 1
    assert unknown.stdout.startswith("invalid (receipt_key_unknown): Unknown key 'ffffffffffffffff'")


def _csrf(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/receipts/verify").text)
    assert found is not None
    return found.group(1)


def test_the_verify_page_checks_on_the_server_in_english(exchange: Exchange, seller: Seller) -> None:
    trade_id, _ = _paid_trade(exchange, seller)
    document = _receipt(seller, trade_id)
    forged = json.loads(json.dumps(document))
    forged["receipt"]["fee"]["amount"] = 0
    with httpx.Client(base_url=exchange.base_url, headers={"Accept-Language": "en"}, timeout=20) as anyone:
        token = _csrf(anyone)
        valid = anyone.post("/receipts/verify", data={"csrf_token": token, "receipt": json.dumps(document)})
        assert valid.status_code == 200
        assert "Valid: this receipt was signed by this exchange and has not been changed." in valid.text
        assert f'<dd id="verify-trade">{trade_id}</dd>' in valid.text
        invalid = anyone.post("/receipts/verify", data={"csrf_token": token, "receipt": json.dumps(forged)})
        assert invalid.status_code == 422
        assert "Invalid: the signature does not match." in invalid.text
        assert 'id="verify-trade"' not in invalid.text
        nested = anyone.post("/receipts/verify", data={"csrf_token": token, "receipt": "[" * 19_000})
        assert nested.status_code == 422 and "This is not a receipt." in nested.text
        no_token = anyone.post("/receipts/verify", data={"receipt": json.dumps(document)})
        assert no_token.status_code == 403 and "Valid:" not in no_token.text


def test_concurrent_first_requests_get_one_and_the_same_receipt(exchange: Exchange, seller: Seller) -> None:
    trade_id, _ = _paid_trade(exchange, seller)
    token = seller.api.http.headers["Authorization"]
    url = f"{exchange.base_url}/api/v1/trades/{trade_id}/receipt"
    start = threading.Barrier(6)

    def fetch(_: int) -> tuple[int, str]:
        with httpx.Client(headers={"Authorization": token}, timeout=30) as client:
            start.wait(timeout=10)
            response = client.get(url)
            return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(fetch, range(6)))
    assert [status for status, _ in answers] == [200] * 6
    assert len({json.dumps(json.loads(text), sort_keys=True) for _, text in answers}) == 1
    assert _stored_receipts(exchange, [trade_id]) == 1
