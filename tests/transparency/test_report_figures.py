"""The transparency report's figures equal those computed here, independently, from the raw tables.

Trades run through the real pipeline with the clock moved across November and December 2026 and
January 2027 (KST): paid, held and reviewed, refused for several reasons, one reversed and
its receivable partly recovered from a later trade. The month's expected figures are computed
below from every row of the tables in plain Python, not through the report's queries.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.support.core import Core
from tests.support.exchange import ShiftableClock
from tests.support.staff import verify_identity
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.db.schema import (
    audit_log,
    decisions,
    ledger_accounts,
    ledger_transfers,
    trade_events,
    trades,
)
from voucher_exchange.ports.issuer import Chargeback
from voucher_exchange.reversals import repository as chargeback_repo
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.review import service as review_service
from voucher_exchange.trades import pipeline
from voucher_exchange.transparency import figures
from voucher_exchange.transparency import service as transparency
from voucher_exchange.transparency.models import Disclosure, month_period, publish

pytestmark = pytest.mark.both_backends

KST = ZoneInfo("Asia/Seoul")
MONTH_FROM = datetime(2026, 12, 1, tzinfo=KST)
MONTH_TO = datetime(2027, 1, 1, tzinfo=KST)
# No rounding and no threshold: the exact figures, to compare with the raw rows.
EXACT = Disclosure(threshold=1, count_step=1, money_steps={"KRW": 1})


def _at(core: Core, moment: datetime) -> None:
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    clock.offset = moment - datetime.now(UTC)


def _later(core: Core, seconds: float) -> None:
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    clock.offset += timedelta(seconds=seconds)


def _sell(core: Core, seller: tuple[User, str, str], wait: float = 0, **minted: Any) -> str:
    """Submit a voucher, let `wait` seconds pass, run the pipeline; the trade id."""
    user, destination, _ = seller
    trade_id = core.submit(user, destination, **minted)
    _later(core, wait)
    pipeline.process_trade(core.ctx, trade_id)
    return trade_id


def _status(core: Core, trade_id: str) -> str:
    with core.ctx.uow(readonly=True) as uow:
        return str(uow.conn.execute(select(trades.c.status).where(trades.c.id == trade_id)).scalar_one())


def _seed(core: Core) -> None:
    _at(core, datetime(2026, 11, 20, 10, 0, tzinfo=KST))
    core.fund(10_000_000, "seed")
    with core.ctx.uow() as uow:
        reviewer = account_service.create_staff(
            uow.conn, "rev@example.com", "correct-horse-battery", Role.REVIEWER, core.ctx.clock.now()
        )
        uow.commit()
    reviewer = verify_identity(core.ctx, reviewer)
    sellers = [core.seller() for _ in range(4)]
    # November: paid and refused, outside the month.
    assert _status(core, _sell(core, sellers[0], 20)) == "paid"
    assert _status(core, _sell(core, sellers[1], state="redeemed")) == "rejected"
    # Submitted on the last minute of November, paid in December: it counts in December's paid trades.
    _at(core, datetime(2026, 11, 30, 23, 59, tzinfo=KST))
    crossing = core.submit(sellers[1][0], sellers[1][1], face_value=10000)
    _later(core, 120)
    pipeline.process_trade(core.ctx, crossing)
    assert _status(core, crossing) == "paid"

    _at(core, datetime(2026, 12, 10, 10, 0, tzinfo=KST))
    paid = [_sell(core, sellers[i % 3], wait, face_value=face) for i, (wait, face) in enumerate(
        [(30, 50000), (60, 10000), (90, 30000), (45, 50000)]
    )]  # fmt: skip
    assert [_status(core, t) for t in paid] == ["paid"] * 4
    refused = [
        _sell(core, sellers[0], state="redeemed"),
        _sell(core, sellers[1], state="redeemed"),
        _sell(core, sellers[2], state="expired"),
        _sell(core, sellers[3], balance=20000),
    ]
    assert [_status(core, t) for t in refused] == ["rejected"] * 4
    held = [_sell(core, core.seller(), face_value=150000, brand="google-play-kr") for _ in range(2)]
    assert [_status(core, t) for t in held] == ["in_review"] * 2
    for trade_id, outcome, minutes in zip(held, ["reject", "approve"], [10, 25], strict=True):
        _later(core, minutes * 60)
        with core.ctx.uow() as uow:
            review_service.decide(uow.conn, core.ctx.clock, reviewer, trade_id, outcome, "checked")
            uow.commit()
    pipeline.process_trade(core.ctx, held[1])
    assert [_status(core, t) for t in held] == ["rejected", "paid"]

    # The issuer takes one December trade back; the seller's next sale settles part of what they owe.
    _at(core, datetime(2026, 12, 20, 9, 0, tzinfo=KST))
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        chargeback_repo.add(uow.conn, Chargeback(1, paid[1], 10000, "KRW", "stolen", now), now)
        reversal_service.apply_pending(uow.conn, now, core.ctx.settings.liability_window_days)
        uow.commit()
    assert _status(core, paid[1]) == "reversed"
    assert _status(core, _sell(core, sellers[1], 10, face_value=5000)) == "paid"

    # January: outside the month.
    _at(core, datetime(2027, 1, 1, 0, 30, tzinfo=KST))
    assert _status(core, _sell(core, sellers[2], 5)) == "paid"


def _in_month(at: datetime) -> bool:
    return MONTH_FROM <= at < MONTH_TO


def _nearest_rank(values: list[float], percent: int) -> float:
    ordered = sorted(values)
    index = 0
    while (index + 1) * 100 < percent * len(ordered):
        index += 1
    return ordered[index]


def _expected(core: Core) -> dict[str, Any]:
    """December's figures from every row of the raw tables, in plain Python."""
    with core.ctx.uow(readonly=True) as uow:
        conn = uow.conn
        all_trades = {r.id: r for r in conn.execute(select(trades))}
        events = list(conn.execute(select(trade_events).order_by(trade_events.c.id)))
        all_decisions = list(conn.execute(select(decisions).order_by(decisions.c.id)))
        kinds = {r.id: r.kind for r in conn.execute(select(ledger_accounts))}
        transfers = list(conn.execute(select(ledger_transfers)))
        entries = list(conn.execute(select(audit_log).order_by(audit_log.c.id)))

    submitted = [t for t in all_trades.values() if _in_month(t.created_at)]
    held = [t for t in submitted if any(e.trade_id == t.id and e.to_status == "in_review" for e in events)]
    paid = [e for e in events if e.to_status == "paid" and e.from_status != "paid" and _in_month(e.at)]
    waits = [(e.at - all_trades[e.trade_id].created_at).total_seconds() for e in paid]
    reviews = []
    for e in events:
        if e.from_status == "in_review" and e.to_status != "in_review" and _in_month(e.at):
            since = [
                x.at
                for x in events
                if x.trade_id == e.trade_id and x.to_status == "in_review" and x.at <= e.at
            ]
            reviews.append((e.at - max(since)).total_seconds())
    reasons: Counter[str] = Counter()
    for e in events:
        if e.to_status == "rejected" and _in_month(e.at):
            refusing = [
                d
                for d in all_decisions
                if d.trade_id == e.trade_id and d.outcome == "reject" and d.stage != "shadow"
            ]
            reasons[refusing[-1].reasons[0] if refusing and refusing[-1].reasons else "other"] += 1
    reversed_ = [
        e for e in events if e.from_status == "paid" and e.to_status == "reversed" and _in_month(e.at)
    ]

    def flow(debit: str, credit: str | None = None) -> dict[str, Any]:
        amounts = [
            t.amount
            for t in transfers
            if _in_month(t.created_at)
            and t.phase in ("single", "post")
            and kinds[t.debit_account_id] == debit
            and (credit is None or kinds[t.credit_account_id] == credit)
        ]
        return {"amount": sum(amounts), "currency": "KRW"}

    head = [a for a in entries if a.at < MONTH_TO][-1]
    share = Decimal(len(held)) / Decimal(len(submitted))
    return {
        "period": {
            "from": "2026-11-30T15:00:00Z",
            "to": "2026-12-31T15:00:00Z",
            "month": "2026-12",
            "complete": True,
        },
        "currency": "KRW",
        "submitted": len(submitted),
        "trades": len(paid),
        "volume": {"amount": sum(all_trades[e.trade_id].face_value for e in paid), "currency": "KRW"},
        "paid_p50_seconds": int(Decimal(_nearest_rank(waits, 50)).quantize(Decimal(1), ROUND_HALF_UP)),
        "paid_p95_seconds": int(Decimal(_nearest_rank(waits, 95)).quantize(Decimal(1), ROUND_HALF_UP)),
        "held_share": float(share.quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "median_review_seconds": int(Decimal(_nearest_rank(reviews, 50)).quantize(Decimal(1), ROUND_HALF_UP)),
        "refusals_by_reason": dict(sorted(reasons.items())),
        "reversals": len(reversed_),
        "receivables": flow("seller_receivable"),
        "recovered": flow("seller_payable", "seller_receivable"),
        "written_off": flow("losses", "seller_receivable"),
        "promise_misses": 0,
        "compensation_paid": {"amount": 0, "currency": "KRW"},
        "issuer_pauses": [],
        "fraud_reports": 0,
        "median_report_to_freeze_seconds": None,
        "audit_head": {"id": head.id, "hash": head.hash, "at": head.at.isoformat().replace("+00:00", "Z")},
        "disclosure": {"threshold": 1, "count_step": 1, "money_step": {"amount": 1, "currency": "KRW"}},
    }


def test_a_months_figures_equal_those_computed_from_the_raw_tables(core: Core) -> None:
    _seed(core)
    _at(core, datetime(2027, 1, 7, 12, 0, tzinfo=KST))
    expected = _expected(core)
    # The seeded month has what the report must count: held, several reasons, a reversal, a recovery.
    assert expected["trades"] == 7 and expected["submitted"] == 11
    assert expected["refusals_by_reason"] == {
        "balance_mismatch": 1,
        "reviewer_rejected": 1,
        "voucher_already_redeemed": 2,
        "voucher_expired": 1,
    }
    assert expected["reversals"] == 1 and expected["held_share"] == 0.18
    assert expected["receivables"]["amount"] == 9000 and expected["recovered"]["amount"] == 4500
    assert 600 <= expected["median_review_seconds"] < 660  # 10 minutes, and the time the pipeline took

    period = month_period("2026-12", core.ctx.clock.now(), "Asia/Seoul")
    with core.ctx.uow(readonly=True) as uow:
        raw = figures.raw_figures(uow.conn, period, "KRW")
    assert publish(raw, period, EXACT) == expected


def test_no_figure_below_the_threshold_is_published(core: Core) -> None:
    _seed(core)
    _at(core, datetime(2027, 1, 7, 12, 0, tzinfo=KST))
    document = transparency.transparency_report(core.ctx, "2026-12").document
    # Every count of the month is 1–9: hidden, like every time and amount drawn from them.
    assert document["submitted"] == 10 and document["trades"] is None and document["volume"] is None
    assert document["paid_p50_seconds"] is None and document["paid_p95_seconds"] is None
    assert document["held_share"] is None and document["median_review_seconds"] is None
    assert document["refusals_by_reason"] == {"other": None}
    assert document["reversals"] is None
    assert document["receivables"] is None and document["recovered"] is None
    assert document["written_off"] == {"amount": 0, "currency": "KRW"}
    assert document["disclosure"] == {
        "threshold": 10,
        "count_step": 5,
        "money_step": {"amount": 10000, "currency": "KRW"},
    }
