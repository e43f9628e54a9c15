"""Ledger use cases: balances, and `verify`, which checks invariants 1–4 of PRODUCT.md §4."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from voucher_exchange.db.schema import jobs, ledger_transfers, payouts, trades
from voucher_exchange.jobs.models import JobStatus
from voucher_exchange.ledger import repository
from voucher_exchange.ledger.models import AccountKind, Phase
from voucher_exchange.payouts.models import PayoutStatus
from voucher_exchange.trades.models import TERMINAL, TradeStatus
from voucher_exchange.trades.service import PROCESS_TRADE


def balances(conn: Connection) -> list[dict[str, Any]]:
    """Every account's posted and pending balance (debits − credits)."""
    return [
        {
            "account": r.code,
            "kind": r.kind,
            "currency": r.currency,
            "balance": int(r.debits_posted) - int(r.credits_posted),
            "pending": int(r.debits_pending) - int(r.credits_pending),
        }
        for r in repository.all_accounts(conn)
    ]


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
    report = VerifyReport()
    _check_balanced(conn, report)
    _check_secure_before_pay(conn, report)
    _check_exactly_once(conn, report)
    _check_nothing_lost(conn, report)
    return report


def _check_balanced(conn: Connection, report: VerifyReport) -> None:
    accounts = repository.all_accounts(conn)
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    recomputed = repository.recomputed_totals(conn)
    empty = {"debits_posted": 0, "credits_posted": 0, "debits_pending": 0, "credits_pending": 0}
    for acct in accounts:
        sums[acct.currency][0] += int(acct.debits_posted) - int(acct.credits_posted)
        sums[acct.currency][1] += int(acct.debits_pending) - int(acct.credits_pending)
        stored = {k: int(getattr(acct, k)) for k in empty}
        if stored != recomputed.get(acct.id, empty):
            report.violations.append(
                f"account {acct.code} ({acct.currency}) totals differ from its transfers"
            )
        if acct.kind == AccountKind.SELLER_PAYABLE.value:
            owed = int(acct.credits_posted) - int(acct.debits_posted) - int(acct.debits_pending)
            if owed < 0:
                report.violations.append(f"{acct.code} is negative ({owed}) without a recorded reversal")
    for currency, (posted, pending) in sums.items():
        if posted or pending:
            report.violations.append(
                f"{currency} accounts do not sum to zero (posted {posted}, pending {pending})"
            )
    bad = conn.execute(
        select(func.count())
        .select_from(ledger_transfers)
        .where(
            (ledger_transfers.c.amount <= 0)
            | (ledger_transfers.c.debit_account_id == ledger_transfers.c.credit_account_id)
        )
    ).scalar_one()
    if bad:
        report.violations.append(f"{bad} transfers are not a positive amount between two accounts")
    report.checked["accounts"] = len(accounts)
    report.checked["transfers"] = repository.count_transfers(conn)


def _check_secure_before_pay(conn: Connection, report: VerifyReport) -> None:
    rows = conn.execute(
        select(payouts.c.id, payouts.c.created_at, trades.c.secured_at, trades.c.id.label("trade_id")).join(
            trades, trades.c.id == payouts.c.trade_id
        )
    ).all()
    for r in rows:
        if r.secured_at is None or r.secured_at > r.created_at:
            report.violations.append(f"payout {r.id} started before trade {r.trade_id}'s voucher was secured")
    report.checked["payouts"] = len(rows)


def _check_exactly_once(conn: Connection, report: VerifyReport) -> None:
    posted = {
        r.payout_id
        for r in conn.execute(
            select(ledger_transfers.c.payout_id).where(ledger_transfers.c.phase == Phase.POST.value)
        )
    }
    paid = conn.execute(
        select(
            trades.c.id,
            trades.c.payout,
            payouts.c.id.label("payout_id"),
            payouts.c.amount,
            payouts.c.status,
        )
        .select_from(trades)
        .outerjoin(payouts, payouts.c.trade_id == trades.c.id)
        .where(trades.c.status.in_([TradeStatus.PAID.value, TradeStatus.REVERSED.value]))
    ).all()
    for r in paid:
        if r.payout_id is None or r.status != PayoutStatus.EXECUTED.value:
            report.violations.append(f"trade {r.id} is paid without an executed payout")
        elif r.amount != r.payout:
            report.violations.append(f"trade {r.id} paid {r.amount}, quoted {r.payout}")
        elif r.payout_id not in posted:
            report.violations.append(f"trade {r.id}'s payout is not posted in the ledger")
    executed_elsewhere = conn.execute(
        select(payouts.c.id, trades.c.status)
        .join(trades, trades.c.id == payouts.c.trade_id)
        .where(
            (payouts.c.status == PayoutStatus.EXECUTED.value)
            & trades.c.status.not_in([TradeStatus.PAID.value, TradeStatus.REVERSED.value])
        )
    ).all()
    for r2 in executed_elsewhere:
        report.violations.append(f"payout {r2.id} executed but its trade is {r2.status}")
    report.checked["paid_trades"] = len(paid)


def _check_nothing_lost(conn: Connection, report: VerifyReport) -> None:
    live = {
        r.ref
        for r in conn.execute(
            select(jobs.c.ref).where(
                (jobs.c.kind == PROCESS_TRADE)
                & jobs.c.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
            )
        )
    }
    open_trades = conn.execute(
        select(trades.c.id, trades.c.status).where(trades.c.status.not_in([s.value for s in TERMINAL]))
    ).all()
    for r in open_trades:
        status = TradeStatus(r.status)
        if status is TradeStatus.IN_REVIEW:
            continue
        if status is TradeStatus.FAILED:
            report.attention.append(f"trade {r.id} failed and needs an operator")
        elif r.id not in live:
            report.violations.append(f"trade {r.id} is {status.value} with no job to move it on")
    report.checked["open_trades"] = len(open_trades)


def transfers(
    conn: Connection, trade_id: str | None = None, payout_id: str | None = None, key_prefix: str | None = None
) -> list[dict[str, Any]]:
    """The transfers of one trade or payout (or by key prefix), each with its accounts and phase."""
    if not (trade_id or payout_id or key_prefix):
        return []
    return [
        {
            "id": r.id,
            "key": r.key,
            "debit": r.debit_code,
            "credit": r.credit_code,
            "amount": {"amount": int(r.amount), "currency": r.currency},
            "phase": r.phase,
            "pending_id": r.pending_id,
            "trade_id": r.trade_id,
            "payout_id": r.payout_id,
            "memo": r.memo,
            "at": r.created_at,
        }
        for r in repository.transfers_where(conn, trade_id, payout_id, key_prefix)
    ]
