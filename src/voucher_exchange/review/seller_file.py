"""A seller as staff see them, and the trades linked to a trade: read-only views for the review pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import User
from voucher_exchange.errors import NotFound
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import Destination
from voucher_exchange.risk.sanctions_customers import payouts_frozen
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import DecisionStage, StoredDecision, Trade

TRADES = 50
# Decisions that say something about the seller's risk (not the worker's own bookkeeping).
RISK_STAGES = {DecisionStage.SCREENING, DecisionStage.ISSUER, DecisionStage.RISK, DecisionStage.REVIEW}


@dataclass(frozen=True)
class RiskEvent:
    """One risk or review decision on one of the seller's trades."""

    trade_id: str
    decision: StoredDecision


@dataclass(frozen=True)
class SellerFile:
    """Who the seller is, how to pay them (masked), what they sold and what risk said about it."""

    user: User
    flags: list[tuple[str, datetime]]
    destinations: list[Destination]
    trades: list[Trade]
    risk_history: list[RiskEvent]
    same_identity: list[User]
    payouts_frozen: bool


@dataclass(frozen=True)
class Related:
    """Other trades linked to one trade, by what links them."""

    device: list[Trade]
    payout_account: list[Trade]
    voucher: list[Trade]
    identity: list[Trade]
    sellers: dict[str, str]  # user id → e-mail, for every seller named above

    @property
    def any(self) -> bool:
        """True when anything at all is linked."""
        return bool(self.device or self.payout_account or self.voucher or self.identity)


def seller_file(conn: Connection, user_id: str) -> SellerFile:
    """Everything a reviewer looks at about one seller (codes and account numbers stay masked)."""
    user = account_repo.by_id(conn, user_id)
    if user is None:
        raise NotFound("user_unknown", "There is no such account.")
    sold = trade_repo.list_for_user(conn, user.id, TRADES)
    history = [
        RiskEvent(t.id, d)
        for t in sold
        for d in trade_repo.all_decisions(conn, t.id)
        if d.stage in RISK_STAGES and (d.outcome != "approve" or d.stage is DecisionStage.REVIEW)
    ]
    history.sort(key=lambda e: e.decision.created_at, reverse=True)
    return SellerFile(
        user=user,
        flags=trade_repo.flags_for(conn, user.id),
        destinations=payout_repo.destinations_of(conn, user.id),
        trades=sold,
        risk_history=history,
        same_identity=account_repo.same_identity(conn, user),
        payouts_frozen=payouts_frozen(conn, user.id),
    )


def related(conn: Connection, trade_id: str) -> Related:
    """Trades sharing this one's device, bank account, voucher code, or seller identity."""
    trade = trade_repo.get(conn, trade_id)
    if trade is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    shared = trade_repo.sharing(conn, trade)
    seller = account_repo.by_id(conn, trade.user_id)
    twins = {u.id for u in account_repo.same_identity(conn, seller)} if seller else set()
    identity = trade_repo.of_users(conn, twins)
    user_ids = {t.user_id for group in (*shared.values(), identity) for t in group}
    sellers = {uid: u.email for uid in user_ids if (u := account_repo.by_id(conn, uid)) is not None}
    return Related(shared["device"], shared["payout_account"], shared["voucher"], identity, sellers)
