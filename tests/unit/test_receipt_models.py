"""Receipts without a database: the exact signed bytes, the fields, signing and the key files."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from voucher_exchange.config import Settings
from voucher_exchange.money import Money
from voucher_exchange.receipts import keyfiles
from voucher_exchange.receipts.models import (
    ReceiptFacts,
    b64url,
    build_receipt,
    canonical,
    from_b64url,
    key_id_for,
    parse_keys,
    sign,
    verify,
)

PAID = datetime(2026, 11, 27, 3, 4, 5, tzinfo=UTC)


def _facts(window: int = 90, operator: str | None = None) -> ReceiptFacts:
    krw = "KRW"
    return ReceiptFacts(
        trade_id="t-1",
        brand="cultureland",
        face_value=Money(50000, krw),
        rate_bps=9100,
        fee=Money(4500, krw),
        payout=Money(45500, krw),
        submitted_at=datetime(2026, 11, 27, 3, 4, 1, tzinfo=UTC),
        secured_at=datetime(2026, 11, 27, 3, 4, 3, 250000, tzinfo=UTC),
        paid_at=PAID,
        voucher_fingerprint="ab" * 32,
        issuer_answer={"issuer_state": "active", "issuer_balance": 50000, "issuer_channel": "gift"},
        liability_window_days=window,
        operator_name=operator,
    )


def test_the_signed_bytes_are_sorted_compact_utf8_json() -> None:
    assert canonical({"b": {"z": 1, "a": "한"}, "a": [2, 1]}) == '{"a":[2,1],"b":{"a":"한","z":1}}'.encode()


def test_a_receipt_holds_exactly_these_fields() -> None:
    receipt = build_receipt(_facts(window=30, operator="(주)바우처익스체인지"), PAID)
    assert receipt == {
        "version": 1,
        "trade_id": "t-1",
        "brand": "cultureland",
        "face_value": {"amount": 50000, "currency": "KRW"},
        "rate_bps": 9100,
        "fee": {"amount": 4500, "currency": "KRW"},
        "payout": {"amount": 45500, "currency": "KRW"},
        "submitted_at": "2026-11-27T03:04:01Z",
        "secured_at": "2026-11-27T03:04:03.250000Z",
        "paid_at": "2026-11-27T03:04:05Z",
        "voucher_fingerprint": "ab" * 32,
        "issuer_verification": {
            "state": "active",
            "balance": {"amount": 50000, "currency": "KRW"},
            "channel": "gift",
        },
        "liability_window_days": 30,
        "liability_ends_at": "2026-12-27T03:04:05Z",
        "issued_at": "2026-11-27T03:04:05Z",
        "operator": "(주)바우처익스체인지",
    }
    assert "operator" not in build_receipt(_facts(), PAID)
    assert build_receipt(_facts(), PAID)["liability_ends_at"] == "2027-02-25T03:04:05Z"


def test_the_liability_window_is_a_setting_of_ninety_days() -> None:
    assert Settings().liability_window_days == 90
    assert Settings().operator_name is None


def test_base64url_has_no_padding_and_reads_either_form() -> None:
    assert b64url(b"\xff\xfe") == "__4"
    assert from_b64url("__4") == from_b64url("__4=") == b"\xff\xfe"
    with pytest.raises(ValueError, match="not base64url"):
        from_b64url("ab+/")


def test_a_key_file_is_private_and_signs_what_its_public_half_verifies(tmp_path: Path) -> None:
    key_dir = tmp_path / "keys" / "receipts"
    key_id, public_key = keyfiles.create(key_dir)
    path = key_dir / f"{key_id}.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert key_id == key_id_for(public_key) and len(key_id) == 16
    private_key = keyfiles.load(key_dir, key_id)
    assert private_key is not None
    receipt = build_receipt(_facts(), PAID)
    document = {"receipt": receipt, "signature": sign(receipt, private_key), "key_id": key_id}
    keys = parse_keys({"keys": [{"key_id": key_id, "alg": "Ed25519", "public_key": b64url(public_key)}]})
    assert verify(document, keys).code == "valid"
    tampered = {**document, "receipt": {**receipt, "rate_bps": 9200}}
    assert verify(tampered, keys).code == "receipt_signature_invalid"
    assert verify({"receipt": receipt}, keys).code == "receipt_malformed"
    assert verify([], keys).code == "receipt_malformed"
    assert keyfiles.load(key_dir, "0123456789abcdef") is None
    # A key file renamed to another id is refused, not trusted.
    path.rename(key_dir / "0123456789abcdef.key")
    with pytest.raises(ValueError, match="does not hold the key its name says"):
        keyfiles.load(key_dir, "0123456789abcdef")
