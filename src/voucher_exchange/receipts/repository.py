"""Receipt SQL: the published signing keys and the issued receipts, as typed records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import receipt_keys, receipts
from voucher_exchange.receipts.models import ReceiptKey, SignedReceipt


def _key(row: Any) -> ReceiptKey:
    return ReceiptKey(row.key_id, row.public_key, row.created_at, row.retired_at)


def add_key(conn: Connection, key_id: str, public_key: str, now: datetime) -> None:
    """Register (and so publish) a new signing key."""
    conn.execute(insert(receipt_keys).values(key_id=key_id, public_key=public_key, created_at=now))


def retire_all_but(conn: Connection, key_id: str, now: datetime) -> list[str]:
    """Retire every other signing key (they stay published); returns the ids retired now."""
    rows = conn.execute(
        update(receipt_keys)
        .where((receipt_keys.c.key_id != key_id) & receipt_keys.c.retired_at.is_(None))
        .values(retired_at=now)
        .returning(receipt_keys.c.key_id)
    ).all()
    return sorted(r.key_id for r in rows)


def all_keys(conn: Connection) -> list[ReceiptKey]:
    """Every key receipts were ever signed with, oldest first: retired keys before the ones still signing."""
    still_signing = receipt_keys.c.retired_at.is_(None)
    rows = conn.execute(
        select(receipt_keys).order_by(still_signing, receipt_keys.c.created_at, receipt_keys.c.key_id)
    )
    return [_key(r) for r in rows]


def signing_keys(conn: Connection) -> list[ReceiptKey]:
    """Keys that may still sign, newest first."""
    rows = conn.execute(
        select(receipt_keys)
        .where(receipt_keys.c.retired_at.is_(None))
        .order_by(receipt_keys.c.created_at.desc(), receipt_keys.c.key_id)
    )
    return [_key(r) for r in rows]


def get(conn: Connection, trade_id: str) -> SignedReceipt | None:
    """A trade's issued receipt."""
    row = conn.execute(select(receipts).where(receipts.c.trade_id == trade_id)).first()
    if row is None:
        return None
    return SignedReceipt(row.trade_id, json.loads(row.body), row.signature, row.key_id, row.issued_at)


def by_number(conn: Connection, hex8: str) -> list[SignedReceipt]:
    """Receipts whose trade id starts with these 8 hex digits (a receipt's short number); at most 5."""
    rows = conn.execute(select(receipts).where(receipts.c.trade_id.like(f"{hex8}-%")).limit(5))
    return [SignedReceipt(r.trade_id, json.loads(r.body), r.signature, r.key_id, r.issued_at) for r in rows]


def add(conn: Connection, trade_id: str, body: bytes, signature: str, key_id: str, now: datetime) -> bool:
    """Store an issued receipt unless the trade already has one; True when this call stored it."""
    values = {
        "trade_id": trade_id,
        "key_id": key_id,
        "body": body.decode("utf-8"),
        "signature": signature,
        "issued_at": now,
    }
    return insert_ignore(conn, receipts, values, ["trade_id"])
