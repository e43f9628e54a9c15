"""Read-only queries across trades, payouts, jobs and the ledger, for verification and staff screens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select

from voucher_exchange.db.schema import payouts, trades
from voucher_exchange.jobs import queue
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.money import Money
from voucher_exchange.payouts.models import PayoutPurpose, PayoutStatus
from voucher_exchange.trades.models import PROCESS_TRADE, TERMINAL, TradeStatus


@dataclass(frozen=True)
class PayoutSecurity:
    """When a payout was created and when its trade's voucher was secured."""

    payout_id: str
    trade_id: str
    created_at: datetime
    secured_at: datetime | None


@dataclass(frozen=True)
class PaidTrade:
    """A paid trade and its payout, if any."""

    trade_id: str
    quoted: Money
    payout_id: str | None
    payout_status: PayoutStatus | None
    paid: Money | None


def payouts_with_security(conn: Connection) -> list[PayoutSecurity]:
    """Every payout with its trade's `secured_at`."""
    rows = conn.execute(
        select(payouts.c.id, payouts.c.trade_id, payouts.c.created_at, trades.c.secured_at).join(
            trades, trades.c.id == payouts.c.trade_id
        )
    )
    return [PayoutSecurity(r.id, r.trade_id, r.created_at, r.secured_at) for r in rows]


def posted_payout_ids(conn: Connection) -> set[str]:
    """Payouts whose pending ledger transfer was posted."""
    return {ref.removeprefix("payout:") for ref in ledger_repo.posted_references(conn, "payout:")}


def trades_with_payouts(conn: Connection, statuses: frozenset[TradeStatus]) -> list[PaidTrade]:
    """Trades in some statuses with their executed payout, if any (one row per executed payout)."""
    rows = conn.execute(
        select(
            trades.c.id,
            trades.c.payout,
            trades.c.currency,
            payouts.c.id.label("payout_id"),
            payouts.c.amount,
            payouts.c.currency.label("payout_currency"),
            payouts.c.status,
        )
        .select_from(trades)
        .outerjoin(
            payouts,
            (payouts.c.trade_id == trades.c.id)
            & (payouts.c.status == PayoutStatus.EXECUTED.value)
            & (payouts.c.purpose == PayoutPurpose.TRADE.value),
        )
        .where(trades.c.status.in_([s.value for s in statuses]))
    )
    return [
        PaidTrade(
            r.id,
            Money(int(r.payout), r.currency),
            r.payout_id,
            PayoutStatus(r.status) if r.status else None,
            Money(int(r.amount), r.payout_currency) if r.payout_id else None,
        )
        for r in rows
    ]


def executed_payouts_of_unpaid_trades(
    conn: Connection, paid: frozenset[TradeStatus]
) -> list[tuple[str, TradeStatus]]:
    """(payout id, trade status) for executed payouts whose trade is not paid."""
    rows = conn.execute(
        select(payouts.c.id, trades.c.status)
        .join(trades, trades.c.id == payouts.c.trade_id)
        .where(
            (payouts.c.status == PayoutStatus.EXECUTED.value)
            & trades.c.status.not_in([s.value for s in paid])
        )
    )
    return [(r.id, TradeStatus(r.status)) for r in rows]


def trades_with_live_jobs(conn: Connection) -> set[str]:
    """Trades with a queued or running pipeline job."""
    return queue.live_refs(conn, PROCESS_TRADE)


def open_trades(conn: Connection) -> list[tuple[str, TradeStatus, str]]:
    """(id, status, seller id) of every trade not in a terminal status."""
    rows = conn.execute(
        select(trades.c.id, trades.c.status, trades.c.user_id).where(
            trades.c.status.not_in([s.value for s in TERMINAL])
        )
    )
    return [(r.id, TradeStatus(r.status), r.user_id) for r in rows]


def references_of_trade(conn: Connection, trade_id: str) -> list[str]:
    """The ledger references a trade's money moved under: the trade's own and its payouts'."""
    payout_ids = conn.execute(select(payouts.c.id).where(payouts.c.trade_id == trade_id)).scalars()
    return [f"trade:{trade_id}", *(f"payout:{p}" for p in payout_ids)]


def trades_paid_twice(conn: Connection) -> list[str]:
    """Trades with more than one executed payout of one purpose (the database forbids it; verify
    checks anyway)."""
    rows = conn.execute(
        select(payouts.c.trade_id)
        .where(payouts.c.status == PayoutStatus.EXECUTED.value)
        .group_by(payouts.c.trade_id, payouts.c.purpose)
        .having(func.count() > 1)
    )
    return sorted({r.trade_id for r in rows})


@dataclass(frozen=True)
class CompensationPayout:
    """A promise's compensation sent on its own, after a trade payout the bank executed late."""

    payout_id: str
    trade_id: str
    amount: int
    status: PayoutStatus


def compensation_payouts(conn: Connection) -> list[CompensationPayout]:
    """Every compensation payout, refused ones too (one per trade: nothing sends it again)."""
    rows = conn.execute(
        select(payouts.c.id, payouts.c.trade_id, payouts.c.amount, payouts.c.status).where(
            payouts.c.purpose == PayoutPurpose.COMPENSATION.value
        )
    )
    return [CompensationPayout(r.id, r.trade_id, int(r.amount), PayoutStatus(r.status)) for r in rows]


def netted_by_trade(conn: Connection) -> dict[str, int]:
    """trade id → what its payable settled of the seller's debt after a reversal (netting)."""
    found = ledger_repo.amounts_by_reference(conn, ":netting")
    return {ref.removeprefix("trade:"): amount for ref, amount in found.items()}


@dataclass(frozen=True)
class SecuredTrade:
    """A trade whose voucher was redeemed at the issuer, with when and under which reference."""

    trade_id: str
    redemption_ref: str
    currency: str
    secured_at: datetime
    brand_slug: str


def trades_secured_between(conn: Connection, start: datetime, end: datetime) -> list[SecuredTrade]:
    """Trades secured in [start, end), oldest first."""
    rows = conn.execute(
        select(
            trades.c.id, trades.c.redemption_ref, trades.c.currency, trades.c.secured_at, trades.c.brand_slug
        )
        .where((trades.c.secured_at >= start) & (trades.c.secured_at < end))
        .order_by(trades.c.secured_at, trades.c.id)
    )
    return [
        SecuredTrade(r.id, r.redemption_ref or r.id, r.currency, r.secured_at, r.brand_slug) for r in rows
    ]


@dataclass(frozen=True)
class SettledPayout:
    """A payout the rail executed or refused, with our settlement time."""

    payout_id: str
    idempotency_key: str
    status: PayoutStatus
    amount: Money
    settled_at: datetime


def payouts_settled_between(conn: Connection, start: datetime, end: datetime) -> list[SettledPayout]:
    """Payouts settled (executed or refused by the rail) in [start, end), oldest first."""
    rows = conn.execute(
        select(payouts.c.id, payouts.c.idempotency_key, payouts.c.status, payouts.c.amount)
        .add_columns(payouts.c.currency, payouts.c.settled_at)
        .where(
            (payouts.c.settled_at >= start)
            & (payouts.c.settled_at < end)
            & payouts.c.status.in_([PayoutStatus.EXECUTED.value, PayoutStatus.REJECTED.value])
        )
        .order_by(payouts.c.settled_at, payouts.c.id)
    )
    return [
        SettledPayout(
            r.id, r.idempotency_key, PayoutStatus(r.status), Money(int(r.amount), r.currency), r.settled_at
        )
        for r in rows
    ]
