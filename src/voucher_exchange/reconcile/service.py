"""`ledger verify`: invariants 1–4 (docs/api.md, "What always holds") checked on the stored data.

The ledger checks its own books (balanced, totals); this module adds what only the
whole picture shows: payouts only after the voucher was secured, one executed and
posted payout per paid trade, and no open trade without a job to move it on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection

from voucher_exchange.context import Context
from voucher_exchange.jobs import queue
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.ledger.models import Transfer
from voucher_exchange.payouts.models import PayoutStatus
from voucher_exchange.promises import service as promise_service
from voucher_exchange.reconcile import daily, views
from voucher_exchange.reconcile.matching import Result
from voucher_exchange.reconcile.models import StoredRun
from voucher_exchange.risk import sanctions_customers
from voucher_exchange.trades.models import PAY_COMPENSATION, TradeStatus

PAID_OR_AFTER = frozenset({TradeStatus.PAID, TradeStatus.REVERSED})


@dataclass
class VerifyReport:
    """What `ledger verify` found."""

    checked: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    attention: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no invariant is broken."""
        return not self.violations


def verify(conn: Connection) -> VerifyReport:
    """Check the invariants on the stored data; read-only."""
    books = ledger_service.check_books(conn)
    report = VerifyReport(checked=dict(books.checked), violations=list(books.violations))
    _check_secure_before_pay(conn, report)
    _check_exactly_once(conn, report)
    _check_nothing_lost(conn, report)
    return report


def _check_secure_before_pay(conn: Connection, report: VerifyReport) -> None:
    rows = views.payouts_with_security(conn)
    for r in rows:
        if r.secured_at is None or r.secured_at > r.created_at:
            report.violations.append(
                f"payout {r.payout_id} started before trade {r.trade_id}'s voucher was secured"
            )
    report.checked["payouts"] = len(rows)


def _check_exactly_once(conn: Connection, report: VerifyReport) -> None:
    posted = views.posted_payout_ids(conn)
    paid = views.trades_with_payouts(conn, PAID_OR_AFTER)
    netted = views.netted_by_trade(conn)
    compensated = promise_service.compensations_by_trade(conn)
    sent_apart = {c.trade_id: c for c in views.compensation_payouts(conn)}
    for r in paid:
        # What a seller owed after a reversal may settle part or all of a later payout (netting);
        # a payout handed to the bank later than promised carries its compensation on top (one
        # the bank executed late has it sent apart: checked below).
        carried = 0 if r.trade_id in sent_apart else compensated.get(r.trade_id, 0)
        offset = netted.get(r.trade_id, 0) - carried
        if r.payout_id is None or r.paid is None:
            if offset != r.quoted.amount:
                report.violations.append(f"trade {r.trade_id} is paid without an executed payout")
        elif r.paid.amount + offset != r.quoted.amount:
            report.violations.append(
                f"trade {r.trade_id} paid {r.paid.amount} (+{offset} netted less compensation),"
                f" quoted {r.quoted.amount}"
            )
        elif r.payout_id not in posted:
            report.violations.append(f"trade {r.trade_id}'s payout is not posted in the ledger")
    for trade_id in views.trades_paid_twice(conn):
        report.violations.append(f"trade {trade_id} has more than one executed payout")
    for payout_id, status in views.executed_payouts_of_unpaid_trades(conn, PAID_OR_AFTER):
        report.violations.append(f"payout {payout_id} executed but its trade is {status.value}")
    report.checked["paid_trades"] = len(paid)
    _check_compensations_sent_apart(conn, report, compensated, list(sent_apart.values()))


def _check_compensations_sent_apart(
    conn: Connection, report: VerifyReport, compensated: dict[str, int], sent: list[views.CompensationPayout]
) -> None:
    """A compensation sent on its own pays exactly the promise's compensation, and one not yet
    answered by the bank has a job to send it."""
    sending = queue.live_refs(conn, PAY_COMPENSATION)
    for c in sent:
        if compensated.get(c.trade_id) != c.amount:
            report.violations.append(
                f"compensation payout {c.payout_id} pays {c.amount},"
                f" trade {c.trade_id}'s promise owed {compensated.get(c.trade_id, 0)}"
            )
        elif c.status is PayoutStatus.REJECTED:
            report.attention.append(
                f"compensation payout {c.payout_id} was refused by the bank: trade {c.trade_id}'s"
                f" {c.amount} stays owed to the seller (payable); pay it by hand"
            )
        elif c.status is not PayoutStatus.EXECUTED and c.payout_id not in sending:
            report.violations.append(
                f"compensation payout {c.payout_id} is {c.status.value} with no job to send it"
            )
    report.checked["compensations_sent_apart"] = len(sent)


def _check_nothing_lost(conn: Connection, report: VerifyReport) -> None:
    moving = views.trades_with_live_jobs(conn)
    open_trades = views.open_trades(conn)
    for trade_id, status, user_id in open_trades:
        if status is TradeStatus.IN_REVIEW:
            continue
        if status is TradeStatus.FAILED:
            report.attention.append(f"trade {trade_id} failed and needs an operator")
        elif status is TradeStatus.CREDITED and sanctions_customers.payouts_frozen(conn, user_id):
            report.attention.append(f"trade {trade_id} waits: its seller's payouts are frozen (sanctions)")
        elif trade_id not in moving:
            report.violations.append(f"trade {trade_id} is {status.value} with no job to move it on")
    report.checked["open_trades"] = len(open_trades)


def trade_transfers(conn: Connection, trade_id: str) -> list[Transfer]:
    """Every ledger transfer made for a trade or for its payouts, oldest first."""
    return ledger_service.transfers(conn, views.references_of_trade(conn, trade_id))


def payout_transfers(conn: Connection, payout_id: str) -> list[Transfer]:
    """Every ledger transfer made for one payout, oldest first."""
    return ledger_service.transfers(conn, [f"payout:{payout_id}"])


def transfers_of(conn: Connection, trade_id: str = "", payout_id: str = "") -> list[Transfer]:
    """The transfers of a trade (with its payouts'), or of one payout; nothing when neither is named."""
    if trade_id:
        found = trade_transfers(conn, trade_id)
        return [t for t in found if t.reference == f"payout:{payout_id}"] if payout_id else found
    return payout_transfers(conn, payout_id) if payout_id else []


def reconcile_statement(
    ctx: Context, statement: daily.Statement, tolerance: timedelta, actor: str
) -> tuple[StoredRun, list[Result]]:
    """Use case: match a day's statement to the books, store the run and audit it (see `daily.run`)."""
    with ctx.uow() as uow:
        run, results = daily.run(uow.conn, statement, tolerance, actor, ctx.clock.now())
        uow.commit()
    return run, results
