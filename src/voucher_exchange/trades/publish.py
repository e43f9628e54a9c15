"""Webhook events for changes a seller can see in their trades, written in the change's transaction.

The payload's `data.trade` is the seller's own view (`seller_view.view`, the shape of
`GET /trades/{id}`), built once here and stored with the event. Event payloads are in English
(reasons' messages too): a program reads codes, not prose.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import seller_receivable
from voucher_exchange.money import Money
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import TradeStatus
from voucher_exchange.trades.seller_view import view
from voucher_exchange.webhooks import events
from voucher_exchange.webhooks.models import EventType

S = TradeStatus
PAYLOAD_LANGUAGE = "en"
ON_STATUS = {
    S.RECEIVED: EventType.TRADE_RECEIVED,
    S.IN_REVIEW: EventType.TRADE_IN_REVIEW,
    S.PAID: EventType.TRADE_PAID,
    S.REJECTED: EventType.TRADE_REJECTED,
    S.CANCELLED: EventType.TRADE_CANCELLED,
    S.FAILED: EventType.TRADE_FAILED,
    S.REVERSED: EventType.TRADE_REVERSED,
}


def trade_event(
    conn: Connection,
    trade_id: str,
    event_type: EventType,
    now: datetime,
    seller_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record `event_type` for the trade's seller, if one of their endpoints listens for it.

    With `seller_id` (the status change returned it) an account with no endpoint costs one
    indexed read and the trade is not read at all.
    """
    if seller_id is not None and not events.wanted(conn, seller_id, event_type):
        return
    trade = trade_repo.get(conn, trade_id)
    if trade is None or (seller_id is None and not events.wanted(conn, trade.user_id, event_type)):
        return
    seller = account_repo.by_id(conn, trade.user_id)
    data = {"trade": view(conn, trade, PAYLOAD_LANGUAGE, seller=seller).data, **(extra or {})}
    events.record(conn, trade.user_id, event_type, data, now)


def status_event(
    conn: Connection, trade_id: str, status: TradeStatus, now: datetime, seller_id: str | None = None
) -> None:
    """The event for a trade that just reached `status`, if that status has one."""
    event_type = ON_STATUS.get(status)
    if event_type is not None:
        trade_event(conn, trade_id, event_type, now, seller_id)


def receivable_changed(conn: Connection, trade_id: str, why: str, now: datetime) -> None:
    """What the trade's seller owes after reversals moved (`why`: reversal, netting, write_off)."""
    trade = trade_repo.get(conn, trade_id)
    if trade is None or not events.wanted(conn, trade.user_id, EventType.RECEIVABLE_CHANGED):
        return
    account = ledger_repo.account(conn, seller_receivable(trade.user_id, trade.currency))
    owed = 0 if account is None else account.debits_posted - account.credits_posted
    extra = {"receivable": Money(owed, trade.currency).as_json(), "reason": why}
    trade_event(conn, trade_id, EventType.RECEIVABLE_CHANGED, now, trade.user_id, extra)
