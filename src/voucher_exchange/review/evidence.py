"""A held trade's file for the reviewer: evidence, the seller's history, linked accounts; code reveal."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.db.schema import payout_destinations, users
from voucher_exchange.db.schema import trades as trades_table
from voucher_exchange.errors import Conflict, Forbidden, NotFound
from voucher_exchange.review import repository as reveal_repo
from voucher_exchange.review.service import evidence_for
from voucher_exchange.risk import sanctions_customers
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import Trade
from voucher_exchange.trades.seller_view import view

HISTORY = 20
# How long a request to reveal a code (and its approval) stays usable.
REVEAL_REQUEST_LASTS = timedelta(hours=24)


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
    # Redeemed at the issuer: the code is spent, and may be revealed without a second approval.
    data["secured"] = row.secured_at is not None
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


def _may_reveal(actor: User) -> None:
    if not actor.has(Role.REVEAL_CODES):
        raise Forbidden("reveal_forbidden", "Revealing a voucher code needs the reveal_codes permission.")


def _trade(conn: Connection, trade_id: str) -> Trade:
    row = trade_repo.get(conn, trade_id)
    if row is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    return row


def reveal_code(conn: Connection, vault: Vault, actor: User, trade_id: str, now: datetime) -> dict[str, Any]:
    """The voucher's code and PIN for a staff member allowed to see them; the reveal is audited.

    A voucher redeemed at the issuer (`secured_at`) is spent: its code can be shown. Any other
    code is still worth its face value to whoever holds it, so it is shown only on the actor's
    own request that a different staff member with reveal_codes approved (used once). Whoever
    saw a code may not decide that trade (`review.service.decide`).
    """
    _may_reveal(actor)
    row = _trade(conn, trade_id)
    before: dict[str, Any] = {"status": "approved"}
    if row.secured_at is not None:
        approved_by = None
        before = {"status": None}
        reveal_repo.add(
            conn, str(uuid.uuid4()), trade_id, actor.id, now, now, reveal_repo.RevealStatus.REVEALED
        )
    else:
        spent = reveal_repo.use_approval(conn, trade_id, actor.id, now)
        if spent is None:
            raise Forbidden(
                "reveal_needs_approval",
                "This voucher is not redeemed yet: ask to reveal its code, and a second staff member "
                "with the reveal_codes permission must approve.",
            )
        approver = account_repo.by_id(conn, spent.approved_by) if spent.approved_by else None
        approved_by = approver.email if approver else spent.approved_by
    audit.record_change(
        conn, actor.email, "voucher.reveal", trade_id, before, {"status": "revealed"}, now,
        last4=row.voucher_last4, approved_by=approved_by,
    )  # fmt: skip
    return dict(vault.decrypt_json(row.voucher_enc, trade_id))


def request_reveal(ctx: Context, actor: User, trade_id: str) -> reveal_repo.RevealRequest:
    """Use case: ask to see a voucher's code; a different staff member with reveal_codes approves.

    A pending or approved request of the actor's own for the trade is returned, not repeated.
    """
    _may_reveal(actor)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        _trade(uow.conn, trade_id)
        mine = [r for r in reveal_repo.open_for(uow.conn, trade_id, now) if r.requested_by == actor.id]
        if mine:
            return mine[0]
        request_id = str(uuid.uuid4())
        reveal_repo.add(
            uow.conn, request_id, trade_id, actor.id, now, now + REVEAL_REQUEST_LASTS,
            reveal_repo.RevealStatus.PENDING,
        )  # fmt: skip
        audit.record_change(
            uow.conn, actor.email, "voucher.reveal_requested", trade_id, {"status": None},
            {"status": "pending"}, now, request=request_id,
        )  # fmt: skip
        filed = reveal_repo.get(uow.conn, request_id)
        assert filed is not None
        uow.commit()
    return filed


def approve_reveal(ctx: Context, actor: User, request_id: str) -> reveal_repo.RevealRequest:
    """Use case: a second staff member with reveal_codes approves someone else's reveal request."""
    _may_reveal(actor)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        request = reveal_repo.get(uow.conn, request_id, lock=True)
        if request is None:
            raise NotFound("reveal_request_unknown", "There is no such reveal request.")
        if request.requested_by == actor.id:
            raise Forbidden(
                "reveal_second_staff_required",
                "You asked to reveal this code; a different staff member must approve it.",
            )
        if request.status is not reveal_repo.RevealStatus.PENDING or request.expires_at <= now:
            raise Conflict("reveal_request_closed", "This reveal request was decided already or expired.")
        if not reveal_repo.approve(uow.conn, request.id, actor.id, now):
            raise Conflict("reveal_request_closed", "This reveal request was decided already or expired.")
        audit.record_change(
            uow.conn, actor.email, "voucher.reveal_approved", request.trade_id, {"status": "pending"},
            {"status": "approved"}, now, request=request.id, requested_by=request.requested_by_email,
        )  # fmt: skip
        uow.commit()
    return request


def reveal_requests_for(conn: Connection, trade_id: str, now: datetime) -> list[reveal_repo.RevealRequest]:
    """A trade's reveal requests still waiting or approved (for its review page)."""
    return reveal_repo.open_for(conn, trade_id, now)
