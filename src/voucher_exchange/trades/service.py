"""Trade use cases for sellers: submit, cancel, read."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from voucher_exchange.accounts.models import User
from voucher_exchange.catalog import service as catalog
from voucher_exchange.clock import Clock
from voucher_exchange.db.schema import payout_destinations, voucher_claims
from voucher_exchange.errors import Conflict, InvalidInput, NotFound
from voucher_exchange.jobs import queue
from voucher_exchange.money import Money
from voucher_exchange.quotes import repository as quotes
from voucher_exchange.risk.reasons import render
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades import repository
from voucher_exchange.trades.models import (
    CANCELLABLE,
    AcquisitionMethod,
    TradeStatus,
    check_transition,
)

PROCESS_TRADE = "trade.process"
EARLIEST_ACQUISITION = date(2000, 1, 1)


@dataclass(frozen=True)
class SubmitTrade:
    """A seller's request to sell one voucher under a quote."""

    quote_id: str
    code: str
    pin: str | None
    method: AcquisitionMethod
    acquired_on: date
    payout_destination_id: str
    client_ip: str | None = None
    device_id: str | None = None


def voucher_fingerprint(vault: Vault, brand: str, normalised_code: str) -> str:
    """The keyed hash that finds a code submitted before, by anyone."""
    return vault.fingerprint(f"voucher:{brand}", normalised_code)


def submit(conn: Connection, clock: Clock, vault: Vault, user: User, cmd: SubmitTrade) -> str:
    """Accept a trade for processing; the worker screens, verifies, secures and pays it."""
    now = clock.now()
    quote = quotes.get(conn, cmd.quote_id)
    if quote is None or quote.user_id != user.id:
        raise NotFound("quote_unknown", "There is no such quote. Ask for a new one.", "quote_id")
    if quote.trade_id is not None:
        raise Conflict("quote_used", "This quote was already used. Ask for a new one.", "quote_id")
    if quote.is_expired(now):
        raise Conflict(
            "quote_expired",
            "Your quote has expired. Ask for a new one; it is valid for 15 minutes.",
            "quote_id",
        )
    brand = catalog.require_brand(conn, quote.brand)
    code, pin = brand.code_format.validate(cmd.code, cmd.pin)
    if not EARLIEST_ACQUISITION <= cmd.acquired_on <= now.date():
        raise InvalidInput(
            "acquired_on_invalid",
            "The acquisition date must be a real date, not in the future.",
            "acquisition.acquired_on",
        )
    destination = conn.execute(
        select(payout_destinations.c.id, payout_destinations.c.account_fingerprint).where(
            (payout_destinations.c.id == cmd.payout_destination_id)
            & (payout_destinations.c.user_id == user.id)
        )
    ).first()
    if destination is None:
        raise NotFound(
            "payout_destination_unknown",
            "Add a bank account first and use its id.",
            "payout_destination_id",
        )
    trade_id = str(uuid.uuid4())
    if not quotes.take(conn, quote.id, trade_id):
        raise Conflict("quote_used", "This quote was already used. Ask for a new one.", "quote_id")
    repository.insert_trade(
        conn,
        {
            "id": trade_id,
            "user_id": user.id,
            "quote_id": quote.id,
            "brand_slug": brand.slug,
            "currency": quote.face_value.currency,
            "face_value": quote.face_value.amount,
            "rate_bps": quote.rate_bps,
            "fee": quote.fee.amount,
            "payout": quote.payout.amount,
            "status": TradeStatus.RECEIVED.value,
            "voucher_enc": vault.encrypt_json({"code": code, "pin": pin}, trade_id),
            "voucher_fingerprint": voucher_fingerprint(vault, brand.slug, code),
            "voucher_last4": code[-4:],
            "acquisition_method": cmd.method.value,
            "acquired_on": cmd.acquired_on,
            "payout_destination_id": cmd.payout_destination_id,
            "client_ip": cmd.client_ip,
            "device_id": cmd.device_id,
            "account_fingerprint": destination.account_fingerprint,
            "created_at": now,
            "updated_at": now,
        },
    )
    repository.add_event(conn, trade_id, None, TradeStatus.RECEIVED, now, user.email, None)
    queue.enqueue(conn, PROCESS_TRADE, trade_id, now)
    return trade_id


def cancel(conn: Connection, clock: Clock, user: User, trade_id: str) -> None:
    """Withdraw a trade before verification; the voucher's claim is released."""
    row = repository.get(conn, trade_id)
    if row is None or row.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    current = TradeStatus(row.status)
    if current not in CANCELLABLE:
        raise Conflict(
            "trade_not_cancellable",
            f"The trade is {current.value}; it can be cancelled only before verification.",
        )
    check_transition(current, TradeStatus.CANCELLED)
    if not repository.transition(
        conn,
        trade_id,
        current,
        TradeStatus.CANCELLED,
        clock.now(),
        user.email,
        "cancelled by seller",
    ):
        raise Conflict(
            "trade_not_cancellable", "The trade moved on meanwhile; it can no longer be cancelled."
        )
    conn.execute(voucher_claims.delete().where(voucher_claims.c.trade_id == trade_id))


@dataclass(frozen=True)
class TradeView:
    """A trade as its seller (or staff) sees it: amounts, status, reasons, history; code masked."""

    data: dict[str, Any]


def _money(amount: int, currency: str) -> dict[str, Any]:
    return Money(int(amount), currency).as_json()


# Event notes a seller may read: their own and the pipeline's. Staff notes are internal.
SELLER_VISIBLE_ACTORS = frozenset({"worker"})


def view(conn: Connection, row: Any, lang: str, seller: User | None = None) -> TradeView:
    """Render one trade row with its decision and events.

    With `seller`, the view is the seller's own: notes written by staff are left out.
    """
    decision = repository.latest_decision(conn, row.id)
    return TradeView(
        {
            "id": row.id,
            "status": row.status,
            "brand": row.brand_slug,
            "quote_id": row.quote_id,
            "face_value": _money(row.face_value, row.currency),
            "rate_bps": row.rate_bps,
            "fee": _money(row.fee, row.currency),
            "payout": _money(row.payout, row.currency),
            "voucher": {"masked": "••••" + row.voucher_last4},
            "acquisition": {
                "method": row.acquisition_method,
                "acquired_on": row.acquired_on.isoformat(),
            },
            "payout_destination_id": row.payout_destination_id,
            "decision": {
                "outcome": decision.outcome,
                "reasons": render(list(decision.reasons), lang, (decision.evidence or {}).get("messages")),
            }
            if decision
            else None,
            "events": [
                {"at": _iso(e.at), "status": e.to_status, "note": _note_for(e, seller)}
                for e in repository.events(conn, row.id)
            ],
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
        }
    )


def _note_for(event: Any, seller: User | None) -> str | None:
    if seller is None or event.actor in SELLER_VISIBLE_ACTORS or event.actor == seller.email:
        return str(event.note) if event.note is not None else None
    return None


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def get_own(conn: Connection, user: User, trade_id: str, lang: str) -> TradeView:
    """One of the seller's own trades."""
    row = repository.get(conn, trade_id)
    if row is None or row.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    return view(conn, row, lang, seller=user)


def list_own(conn: Connection, user: User, lang: str, limit: int, status: str | None) -> list[TradeView]:
    """The seller's trades, newest first."""
    return [view(conn, r, lang, seller=user) for r in repository.list_for_user(conn, user.id, limit, status)]
