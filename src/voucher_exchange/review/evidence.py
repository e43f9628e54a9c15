"""A held trade's file for the reviewer: evidence, the seller's history, linked accounts; code reveal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.db.schema import payout_destinations, users
from voucher_exchange.db.schema import trades as trades_table
from voucher_exchange.errors import Forbidden, NotFound
from voucher_exchange.review.service import evidence_for
from voucher_exchange.risk import sanctions_customers
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import Trade
from voucher_exchange.trades.service import view

HISTORY = 20


def _emails(conn: Connection, user_ids: set[str]) -> list[dict[str, str]]:
    if not user_ids:
        return []
    rows = conn.execute(select(users.c.id, users.c.email).where(users.c.id.in_(user_ids)))
    return sorted(({"id": r.id, "email": r.email} for r in rows), key=lambda u: u["email"])


def _linked(conn: Connection, row: Trade) -> dict[str, list[dict[str, str]]]:
    """Other accounts that used the same device or the same bank account."""
    t = trades_table.c
    device: set[str] = set()
    if row.device_id:
        device = {
            r[0] for r in conn.execute(select(t.user_id).distinct().where(t.device_id == row.device_id))
        }
    account: set[str] = set()
    if row.account_fingerprint:
        p = payout_destinations.c
        account = {
            r[0]
            for r in conn.execute(
                select(p.user_id).distinct().where(p.account_fingerprint == row.account_fingerprint)
            )
        }
    return {
        "device": _emails(conn, device - {row.user_id}),
        "payout_account": _emails(conn, account - {row.user_id}),
    }


def trade_file(conn: Connection, trade_id: str, lang: str) -> dict[str, Any]:
    """Everything a reviewer needs to decide one trade (the code stays masked)."""
    row = trade_repo.get(conn, trade_id)
    if row is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    seller = account_repo.by_id(conn, row.user_id)
    assert seller is not None
    data = view(conn, row, lang).data
    data["evidence"] = evidence_for(conn, trade_id)
    data["issuer_answer"] = row.issuer_answer or {}
    data["seller"] = {
        "id": seller.id,
        "email": seller.email,
        "kyc_tier": seller.kyc_tier,
        "legal_name": seller.legal_name,
        "flags": [{"kind": kind, "at": at} for kind, at in trade_repo.flags_for(conn, row.user_id)],
        "history": [
            {
                "id": r.id,
                "status": r.status.value,
                "brand": r.brand_slug,
                "face_value": r.face_value.as_json(),
                "created_at": r.created_at,
            }
            for r in trade_repo.list_for_user(conn, row.user_id, HISTORY)
            if r.id != row.id
        ],
    }
    data["linked"] = _linked(conn, row)
    data["sanctions"] = sanctions_customers.reviewer_view(conn, row.user_id, row.payout_destination_id)
    data["decisions"] = [
        {"stage": d.stage.value, "outcome": d.outcome, "by": d.decided_by, "note": d.note, "at": d.created_at}
        for d in trade_repo.all_decisions(conn, trade_id)
    ]
    return data


def reveal_voucher_code(ctx: Context, actor: User, trade_id: str) -> dict[str, Any]:
    """Use case: show a voucher's code to a permitted staff member; the reveal is audited."""
    with ctx.uow() as uow:
        secret = reveal_code(uow.conn, ctx.vault, actor, trade_id, ctx.clock.now())
        uow.commit()
    return secret


def reveal_code(conn: Connection, vault: Vault, actor: User, trade_id: str, now: datetime) -> dict[str, Any]:
    """The voucher's code and PIN for a staff member allowed to see them; the reveal is audited."""
    if not actor.has(Role.REVEAL_CODES):
        raise Forbidden("reveal_forbidden", "Revealing a voucher code needs the reveal_codes permission.")
    row = trade_repo.get(conn, trade_id)
    if row is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    audit.record(conn, actor.email, "voucher.reveal", trade_id, {"last4": row.voucher_last4}, now)
    return dict(vault.decrypt_json(row.voucher_enc, trade_id))
