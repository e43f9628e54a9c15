"""The signed evidence record of a refusal: issuer facts, offline verification, appeal, answer.

Real HTTP against the real sandbox issuer; both databases.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from tests.support.cli import invoke_cli
from tests.support.exchange import Exchange, make_seller
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.db.schema import ledger_transfers, payouts
from voucher_exchange.disputes import service as dispute_service
from voucher_exchange.errors import Forbidden
from voucher_exchange.receipts import service as receipt_service

pytestmark = pytest.mark.both_backends

KEYS = "/.well-known/voucher-exchange/keys"
USED_AT = "2026-12-01T05:03:00Z"  # 14:03 in Seoul


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _offline_valid(document: dict[str, Any], keys: list[dict[str, str]]) -> bool:
    """Checked with `cryptography` alone, as docs/receipts.md describes: sorted keys, no spaces, UTF-8."""
    key = {k["key_id"]: k for k in keys}[document["key_id"]]
    assert key["alg"] == "Ed25519"
    signed = json.dumps(document["record"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        Ed25519PublicKey.from_public_bytes(_b64(key["public_key"])).verify(
            _b64(document["signature"]), signed.encode("utf-8")
        )
    except InvalidSignature:
        return False
    return True


def _keys(exchange: Exchange) -> list[dict[str, str]]:
    response = httpx.get(exchange.base_url + KEYS, timeout=10)
    assert response.status_code == 200, response.text
    keys: list[dict[str, str]] = response.json()["keys"]
    return keys


def test_an_already_used_voucher_gets_a_signed_record_the_seller_appeals_and_a_reviewer_answers(
    exchange: Exchange, tmp_path: Path
) -> None:
    seller = make_seller(exchange)
    voucher = exchange.mint("cultureland", 50000, state="redeemed", redeemed_at=USED_AT)
    issuer_said = exchange.lookup(voucher["code"], voucher.get("pin"))
    assert issuer_said["redeemed_at"] == "2026-12-01T05:03:00+00:00"
    reference = issuer_said["redeemed_by"]
    assert reference.startswith("POS-")

    trade = seller.api.wait_for(seller.sell(voucher), {"rejected"}, timeout=30)
    assert [r["code"] for r in trade["decision"]["reasons"]] == ["voucher_already_redeemed"]
    # Nothing moved: no payout, no ledger transfer for the trade.
    with exchange.ctx.uow(readonly=True) as uow:
        assert uow.conn.execute(select(payouts.c.id).where(payouts.c.trade_id == trade["id"])).first() is None
        moved = select(ledger_transfers.c.id).where(ledger_transfers.c.reference == f"trade:{trade['id']}")
        assert uow.conn.execute(moved).first() is None

    response = seller.api.get(f"/trades/{trade['id']}/evidence")
    assert response.status_code == 200, response.text
    document = response.json()
    assert set(document) == {"record", "signature", "key_id"}
    record = document["record"]
    assert (record["trade_id"], record["reason"], record["status"]) == (
        trade["id"],
        "voucher_already_redeemed",
        "rejected",
    )
    [fact] = record["facts"]
    assert (fact["source"], fact["what"]) == ("issuer", "issuer.lookup")
    assert fact["details"]["state"] == "redeemed"
    assert fact["details"]["redeemed_at"] == USED_AT
    assert fact["details"]["reference"] == reference
    assert fact["details"]["asked"] == "lookup"
    assert fact["details"]["asked_at"] <= fact["at"]
    # The hash of the issuer's answer as the exchange received it: what the sandbox answers.
    raw = httpx.post(
        exchange.sandbox_url + "/issuer/vouchers/lookup",
        json={"brand": "cultureland", "code": voucher["code"], "pin": voucher.get("pin")},
        timeout=10,
    ).content
    assert fact["answer_sha256"] == hashlib.sha256(raw).hexdigest()
    # Its place in the trade's history chain: after the refusal event, whose hash it names.
    assert fact["chain"]["events"] == len(trade["events"])
    assert fact["chain"]["head"] == record["history"]["head"]
    assert record["first_seen_at"] is not None and record["first_seen_at"].endswith("Z")
    assert "appeal" not in record
    keys = _keys(exchange)
    assert _offline_valid(document, keys)
    with exchange.ctx.uow(readonly=True) as uow:
        assert receipt_service.check(uow.conn, document).kind == "record"
    # `voucher-exchange receipt verify` checks it offline, with a saved copy of the keys.
    record_file, keys_file = tmp_path / "evidence.json", tmp_path / "keys.json"
    record_file.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    keys_file.write_text(json.dumps({"keys": keys}), encoding="utf-8")
    checked = invoke_cli(tmp_path, "receipt", "verify", str(record_file), "--keys", str(keys_file))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith(
        f"valid evidence record: trade {trade['id']} (voucher_already_redeemed), 1 fact(s), "
        f"signed by key {document['key_id']}"
    )
    # The same record, asked again: the same signature (nothing is re-dated).
    assert seller.api.get(f"/trades/{trade['id']}/evidence").json() == document

    # Tampered: the time of use moved, or the answer's hash swapped: the signature fails.
    for path, value in ((("facts", 0, "details", "redeemed_at"), "2026-12-02T00:00:00Z"), (("reason",), "x")):
        forged = copy.deepcopy(document)
        target: Any = forged["record"]
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        assert not _offline_valid(forged, keys)
        with exchange.ctx.uow(readonly=True) as uow:
            assert receipt_service.check(uow.conn, forged).code == "receipt_signature_invalid"
        record_file.write_text(json.dumps(forged), encoding="utf-8")
        refused_cli = invoke_cli(tmp_path, "receipt", "verify", str(record_file), "--keys", str(keys_file))
        assert refused_cli.returncode == 1
        assert refused_cli.stdout.startswith("invalid (receipt_signature_invalid)")
    # A receipt's signature cannot be passed off as a record's: the record says what it is.
    relabelled = {
        "receipt": document["record"],
        "signature": document["signature"],
        "key_id": document["key_id"],
    }
    with exchange.ctx.uow(readonly=True) as uow:
        assert receipt_service.check(uow.conn, relabelled).code == "receipt_malformed"

    appealed = seller.api.post(
        f"/trades/{trade['id']}/appeal",
        {"message": "I bought it at a shop on Dec 3."},
        headers={"Idempotency-Key": "appeal-1"},
    )
    assert appealed.status_code == 202, appealed.text
    replay = seller.api.post(
        f"/trades/{trade['id']}/appeal",
        {"message": "I bought it at a shop on Dec 3."},
        headers={"Idempotency-Key": "appeal-1"},
    )
    assert replay.status_code == 202 and replay.json() == appealed.json()
    again = seller.api.post(f"/trades/{trade['id']}/appeal", {"message": "again"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "appeal_already_made")

    with_appeal = seller.api.get(f"/trades/{trade['id']}/evidence").json()
    assert with_appeal["record"]["appeal"] == {
        "message": "I bought it at a shop on Dec 3.",
        "appealed_at": with_appeal["record"]["appeal"]["appealed_at"],
        "status": "open",
        "answer": None,
        "answered_at": None,
    }
    assert with_appeal["signature"] != document["signature"]
    assert _offline_valid(with_appeal, keys)

    # Separation of duties: the seller, were they a reviewer, cannot answer their own appeal.
    with exchange.ctx.uow() as uow:
        found = account_repo.by_email(uow.conn, seller.email)
        assert found is not None
        with pytest.raises(Forbidden) as refused:
            dispute_service.answer_appeal(
                uow.conn, exchange.ctx.clock, found[0], trade["id"], "overturned", "mine"
            )
    assert refused.value.code == "reviewer_conflict"

    reviewer = exchange.operator()
    waiting = reviewer.get("/review/appeals").json()["appeals"]
    mine = next(a for a in waiting if a["trade_id"] == trade["id"])
    assert (mine["kind"], mine["reason"], mine["message"]) == (
        "refusal",
        "voucher_already_redeemed",
        "I bought it at a shop on Dec 3.",
    )
    wrong = reviewer.post(f"/review/appeals/{trade['id']}/decision", {"outcome": "written_off", "note": "x"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "outcome_invalid")
    answer = reviewer.post(
        f"/review/appeals/{trade['id']}/decision",
        {"outcome": "upheld", "note": "The issuer's log shows it used on Dec 1 at 14:03."},
    )
    assert answer.status_code == 200, answer.text
    twice = reviewer.post(f"/review/appeals/{trade['id']}/decision", {"outcome": "overturned", "note": "no"})
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "appeal_already_answered")

    answered = seller.api.get(f"/trades/{trade['id']}/evidence").json()
    assert answered["record"]["appeal"]["status"] == "upheld"
    assert answered["record"]["appeal"]["answer"] == "The issuer's log shows it used on Dec 1 at 14:03."
    assert answered["record"]["appeal"]["answered_at"] is not None
    assert answered["record"]["facts"] == record["facts"]
    assert answered["record"]["history"]["events"] == record["history"]["events"] + 2
    assert answered["signature"] not in (document["signature"], with_appeal["signature"])
    assert _offline_valid(answered, keys)
    assert all(a["trade_id"] != trade["id"] for a in reviewer.get("/review/appeals").json()["appeals"])


def test_first_seen_names_only_an_instant_never_the_other_seller(exchange: Exchange) -> None:
    first, second = make_seller(exchange), make_seller(exchange)
    # A balance mismatch releases the claim, so the second seller's trade reaches the issuer too.
    voucher = exchange.mint("cultureland", 50000, balance=20000)
    earlier = first.api.wait_for(first.sell(voucher), {"rejected"}, timeout=30)
    later = second.api.wait_for(second.sell(voucher), {"rejected"}, timeout=30)
    assert [r["code"] for r in later["decision"]["reasons"]] == ["balance_mismatch"]

    document = second.api.get(f"/trades/{later['id']}/evidence").json()
    record = document["record"]
    assert record["facts"][0]["details"]["balance"] == {"amount": 20000, "currency": "KRW"}
    mine = first.api.get(f"/trades/{earlier['id']}/evidence").json()["record"]
    # The first seller's own record: first seen when they sold it; the second's names that instant.
    assert mine["first_seen_at"] == mine["submitted_at"] == record["first_seen_at"]
    assert record["first_seen_at"] < record["submitted_at"]
    text = json.dumps(document)
    first_id = first.api.get("/me").json()["id"]
    for secret in (earlier["id"], first.email, first_id, first.legal_name, first.account_number):
        assert secret not in text


def test_no_record_for_a_paid_trade_nor_for_someone_elses(exchange: Exchange) -> None:
    seller, other = make_seller(exchange), make_seller(exchange)
    paid = seller.api.wait_for(seller.sell(exchange.mint("cultureland", 10000), amount=10000), timeout=30)
    assert paid["status"] == "paid"
    response = seller.api.get(f"/trades/{paid['id']}/evidence")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "evidence_not_available")
    refused = seller.api.post(f"/trades/{paid['id']}/appeal", {"message": "why"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "appeal_not_possible")
    after = seller.api.get(f"/trades/{paid['id']}").json()
    assert (after["status"], after["events"]) == ("paid", paid["events"])  # no appeal recorded
    strange = other.api.get(f"/trades/{paid['id']}/evidence")
    assert (strange.status_code, strange.json()["error"]["code"]) == (404, "trade_unknown")
    empty = seller.api.post(f"/trades/{paid['id']}/appeal", {})
    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "message_required")


def test_a_partner_key_reads_the_record_with_trades_read_only(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    trade = seller.api.wait_for(seller.sell(exchange.mint("cultureland", 50000, state="expired")), timeout=30)
    assert [r["code"] for r in trade["decision"]["reasons"]] == ["voucher_expired"]
    keys = {}
    for scopes in (["trades:read"], ["receipts:read", "trades:write"]):
        made = seller.api.post("/api-keys", {"name": f"shop {scopes[0]}", "scopes": scopes})
        assert made.status_code == 201, made.text
        keys[scopes[0]] = exchange.client(made.json()["key"])

    read = keys["trades:read"].get(f"/trades/{trade['id']}/evidence")
    assert read.status_code == 200, read.text
    assert read.json() == seller.api.get(f"/trades/{trade['id']}/evidence").json()
    assert read.json()["record"]["facts"][0]["details"]["state"] == "expired"
    other = keys["receipts:read"].get(f"/trades/{trade['id']}/evidence")
    assert (other.status_code, other.json()["error"]["code"]) == (403, "insufficient_scope")
    # The appeal needs trades:write: the key with it may appeal; the appeal shows on the record.
    appealed = keys["receipts:read"].post(
        f"/trades/{trade['id']}/appeal", {"message": "It was valid on the day."}
    )
    assert appealed.status_code == 202, appealed.text
    assert (
        keys["trades:read"].get(f"/trades/{trade['id']}/evidence").json()["record"]["appeal"]["status"]
        == "open"
    )
