"""The transparency report's figures equal those computed here, independently, from the raw tables.

Trades run through the real pipeline with the clock moved across November and December 2026 and
January 2027 (KST): paid, held and reviewed, refused for several reasons, one reversed and
its receivable partly recovered from a later trade, one paid after its promise (the treasury
was short) with the fee carried back; the issuer guard pauses and suspends issuers before,
during and across the month; fraud reports freeze a seller's payouts. On the month's last
minute a report is filed and a trade submitted whose freeze and hold come in January: a month
that is over must not change. The month's expected figures are computed below from every row
of the tables in plain Python, not through the report's queries.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
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
    fraud_cases,
    fraud_reports,
    ledger_accounts,
    ledger_transfers,
    trade_events,
    trade_promises,
    trades,
)
from voucher_exchange.fraud import service as fraud_service
from voucher_exchange.issuers import guard
from voucher_exchange.payouts.models import TreasuryShort
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
OPERATOR = "ops@example.com"
# What sellers read of a pause (messages.po), dated in Seoul.
SENTENCES = {
    "pause_quotes": {
        "en": "We paused buying on {date} because {cause}.",
        "ko": "{cause} 매입을 일시 중지했습니다 ({date}).",
    },
    "suspend": {
        "en": "We stopped buying on {date} because {cause}.",
        "ko": "{cause} 매입을 중단했습니다 ({date}).",
    },
}
CAUSES = {
    "unregistered": {
        "en": "the issuer is not registered as a prepaid issuer",
        "ko": "발행사 선불업 미등록으로",
    },
    "insurance_lapsed_days": {
        "en": "the issuer's guarantee insurance has run out",
        "ko": "발행사 지급보증보험 만료로",
    },
}


def _at(core: Core, moment: datetime) -> None:
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    clock.offset = moment - datetime.now(UTC)


def _later(core: Core, seconds: float) -> None:
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    clock.offset += timedelta(seconds=seconds)


def _sell(
    core: Core, seller: tuple[User, str, str], wait: float = 0, fund: bool = False, **minted: Any
) -> str:
    """Submit a voucher, let `wait` seconds pass, run the pipeline; the trade id. With `fund`, the
    treasury first receives exactly what the trade pays out."""
    user, destination, _ = seller
    trade_id = core.submit(user, destination, **minted)
    if fund:
        _fund_payout(core, trade_id)
    _later(core, wait)
    pipeline.process_trade(core.ctx, trade_id)
    return trade_id


def _fund_payout(core: Core, trade_id: str) -> None:
    with core.ctx.uow(readonly=True) as uow:
        payout = uow.conn.execute(select(trades.c.payout).where(trades.c.id == trade_id)).scalar_one()
    core.fund(int(payout), f"exactly:{trade_id}")


def _status(core: Core, trade_id: str) -> str:
    with core.ctx.uow(readonly=True) as uow:
        return str(uow.conn.execute(select(trades.c.status).where(trades.c.id == trade_id)).scalar_one())


def _guard(core: Core, issuer: str, signal: str, action: str, **facts: Any) -> int:
    """The operator records a fact about `issuer` and a rule on it; the guard's evaluation acts at once."""
    known: dict[str, Any] = {
        "name": issuer, "registration_status": "registered", "registration_number": None,
        "insurance_expires_on": None, "exposure_limit": None,
    }  # fmt: skip
    guard.save_facts(core.ctx, issuer, **{**known, **facts}, actor=OPERATOR)
    guard.add_rule(core.ctx, issuer, signal, 1, action, None, OPERATOR)
    [taken] = guard.evaluate(core.ctx).taken
    return taken


def _code(core: Core, trade_id: str) -> str:
    with core.ctx.uow(readonly=True) as uow:
        sealed = uow.conn.execute(select(trades.c.voucher_enc).where(trades.c.id == trade_id)).scalar_one()
    return str(core.ctx.vault.decrypt_json(sealed, trade_id)["code"])


def _report(core: Core, code: str, wait: float) -> None:
    """A victim reports a code; the match job runs `wait` seconds later."""
    form = fraud_service.ReportForm(
        [code], "김피해", f"victim-{code[-6:]}@example.com", None, "보이스피싱으로 빼앗긴 상품권입니다."
    )
    report_id = fraud_service.file_report(core.ctx, form, "203.0.113.7")
    _later(core, wait)
    fraud_service.match_job(core.ctx, report_id)


def _seed(core: Core) -> None:
    _at(core, datetime(2026, 11, 20, 10, 0, tzinfo=KST))
    with core.ctx.uow() as uow:
        reviewer = account_service.create_staff(
            uow.conn, "rev@example.com", "correct-horse-battery", Role.REVIEWER, core.ctx.clock.now()
        )
        uow.commit()
    reviewer = verify_identity(core.ctx, reviewer)
    sellers = [core.seller() for _ in range(4)]
    # November: paid and refused, outside the month. The treasury gets exactly what is paid out.
    assert _status(core, _sell(core, sellers[0], 20, fund=True)) == "paid"
    assert _status(core, _sell(core, sellers[1], state="redeemed")) == "rejected"
    _report(core, "0000111122223333", 30)  # matches nothing
    # The guard pauses one issuer and lifts it within November; it suspends another until further notice.
    _at(core, datetime(2026, 11, 25, 10, 0, tzinfo=KST))
    lotte = _guard(core, "lotte", "unregistered", "pause_quotes", registration_status="unregistered")
    _at(core, datetime(2026, 11, 27, 10, 0, tzinfo=KST))
    guard.lift_action(core.ctx, lotte, OPERATOR)
    _at(core, datetime(2026, 11, 28, 10, 0, tzinfo=KST))
    shinsegae = _guard(
        core, "shinsegae", "insurance_lapsed_days", "suspend", insurance_expires_on=date(2026, 11, 20)
    )
    # Submitted on the last minute of November, paid in December: it counts in December's paid trades.
    _at(core, datetime(2026, 11, 30, 23, 59, tzinfo=KST))
    crossing = core.submit(sellers[1][0], sellers[1][1], face_value=10000)
    _fund_payout(core, crossing)
    _later(core, 120)
    pipeline.process_trade(core.ctx, crossing)
    assert _status(core, crossing) == "paid"

    # The treasury is empty: the payout waits past its promise, then goes with the fee carried back.
    _at(core, datetime(2026, 12, 5, 10, 0, tzinfo=KST))
    late = core.submit(sellers[3][0], sellers[3][1], face_value=50000)
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, late)
    _later(core, 11 * 60)
    core.fund(10_000_000, "seed")
    pipeline.process_trade(core.ctx, late)
    assert _status(core, late) == "paid"

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

    # Paused at 08:00 in Seoul, still the 14th in UTC: sellers read the 15th.
    _at(core, datetime(2026, 12, 15, 8, 0, tzinfo=KST))
    booknlife = _guard(core, "booknlife", "unregistered", "pause_quotes", registration_status="unregistered")
    _at(core, datetime(2026, 12, 18, 12, 0, tzinfo=KST))
    guard.lift_action(core.ctx, booknlife, OPERATOR)

    # The issuer takes one December trade back; the seller's next sale settles part of what they owe.
    _at(core, datetime(2026, 12, 20, 9, 0, tzinfo=KST))
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        chargeback_repo.add(uow.conn, Chargeback(1, paid[1], 10000, "KRW", "stolen", now), now)
        reversal_service.apply_pending(uow.conn, now, core.ctx.settings.liability_window_days)
        uow.commit()
    assert _status(core, paid[1]) == "reversed"
    assert _status(core, _sell(core, sellers[1], 10, face_value=5000)) == "paid"

    # Victims report two paid vouchers of one seller (no later sale of theirs), and one code nobody sold.
    _at(core, datetime(2026, 12, 22, 10, 0, tzinfo=KST))
    _report(core, _code(core, paid[0]), 90)
    _report(core, "9999888877776666", 30)
    _at(core, datetime(2026, 12, 23, 10, 0, tzinfo=KST))
    _report(core, _code(core, paid[3]), 150)

    # On the month's last minute: a report whose freeze comes in January (it counts there), and a
    # trade held for review only in January (December counts it submitted, not held).
    _at(core, datetime(2026, 12, 31, 23, 59, tzinfo=KST))
    _report(core, _code(core, paid[3]), 120)
    _at(core, datetime(2026, 12, 31, 23, 59, 30, tzinfo=KST))
    held_late = _sell(core, core.seller(), 60, face_value=150000, brand="google-play-kr")
    assert _status(core, held_late) == "in_review"

    # January: outside the month. The suspension standing since November is lifted.
    _at(core, datetime(2027, 1, 1, 0, 30, tzinfo=KST))
    assert _status(core, _sell(core, sellers[2], 5)) == "paid"
    _at(core, datetime(2027, 1, 2, 10, 0, tzinfo=KST))
    guard.lift_action(core.ctx, shinsegae, OPERATOR)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


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
        promises = list(conn.execute(select(trade_promises)))
        reports = list(conn.execute(select(fraud_reports)))
        cases = list(conn.execute(select(fraud_cases)))

    submitted = [t for t in all_trades.values() if _in_month(t.created_at)]
    held = [
        t
        for t in submitted
        if any(e.trade_id == t.id and e.to_status == "in_review" and e.at < MONTH_TO for e in events)
    ]
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

    misses = [p for p in promises if p.compensated_at is not None and _in_month(p.compensated_at)]
    compensation = flow("promise_compensation")
    assert compensation["amount"] == sum(p.compensation_amount for p in misses)
    # The guard's pauses and suspensions as the audit log tells them, in force at any moment of the month.
    lifted = {a.details["action_id"]: a.at for a in entries if a.action == "issuer.action_lifted"}
    pauses = []
    for a in entries:
        if a.action != "issuer.action" or a.details["action"] not in SENTENCES:
            continue
        until = lifted.get(a.details["action_id"])
        if a.at >= MONTH_TO or (until is not None and until <= MONTH_FROM):
            continue
        if until is not None and until >= MONTH_TO:
            until = None  # it still stood when the month ended
        day = a.at.astimezone(KST).date().isoformat()
        pauses.append({
            "issuer": a.subject,
            "brands": a.details["brands"],
            "action": a.details["action"],
            "reason": a.details["signal"],
            "reason_text": {
                lang: sentence.format(date=day, cause=CAUSES[a.details["signal"]][lang])
                for lang, sentence in SENTENCES[a.details["action"]].items()
            },
            "at": _iso(a.at),
            "until": None if until is None else _iso(until),
        })  # fmt: skip
    received = [r for r in reports if _in_month(r.received_at)]
    to_freeze = [
        (c.frozen_at - c.received_at).total_seconds()
        for c in cases
        if c.frozen_at is not None and _in_month(c.frozen_at)
    ]
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
        "promise_misses": len(misses),
        "compensation_paid": compensation,
        "issuer_pauses": pauses,
        "fraud_reports": len(received),
        "median_report_to_freeze_seconds": int(
            Decimal(_nearest_rank(to_freeze, 50)).quantize(Decimal(1), ROUND_HALF_UP)
        ),
        "audit_head": {"id": head.id, "hash": head.hash, "at": _iso(head.at)},
        "disclosure": {"threshold": 1, "count_step": 1, "money_step": {"amount": 1, "currency": "KRW"}},
    }


def test_a_months_figures_equal_those_computed_from_the_raw_tables(core: Core) -> None:
    _seed(core)
    _at(core, datetime(2027, 1, 7, 12, 0, tzinfo=KST))
    expected = _expected(core)
    # The seeded month has what the report must count: held, several reasons, a reversal, a recovery,
    # a missed promise, pauses, fraud reports and freezes.
    assert expected["trades"] == 8 and expected["submitted"] == 13
    assert expected["refusals_by_reason"] == {
        "balance_mismatch": 1,
        "reviewer_rejected": 1,
        "voucher_already_redeemed": 2,
        "voucher_expired": 1,
    }
    assert expected["reversals"] == 1 and expected["held_share"] == 0.15
    assert expected["receivables"]["amount"] == 9000 and expected["recovered"]["amount"] == 4500
    assert 600 <= expected["median_review_seconds"] < 660  # 10 minutes, and the time the pipeline took
    assert expected["promise_misses"] == 1 and expected["compensation_paid"]["amount"] == 4500  # the fee
    # Suspended in November and standing until January; paused and lifted in December. Not the
    # November pause.
    assert [(p["issuer"], p["action"], p["until"] is None) for p in expected["issuer_pauses"]] == [
        ("shinsegae", "suspend", True),
        ("booknlife", "pause_quotes", False),
    ]
    assert expected["issuer_pauses"][1]["at"].startswith("2026-12-14T23:")
    assert (
        expected["issuer_pauses"][1]["reason_text"]["ko"]
        == "발행사 선불업 미등록으로 매입을 일시 중지했습니다 (2026-12-15)."
    )
    # Two reports froze payouts 90 and 150 seconds after they came in; one matched nothing; the
    # month's last one froze in January.
    assert expected["fraud_reports"] == 4
    assert 90 <= expected["median_report_to_freeze_seconds"] < 100

    period = month_period("2026-12", core.ctx.clock.now(), "Asia/Seoul")
    with core.ctx.uow(readonly=True) as uow:
        raw = figures.raw_figures(uow.conn, period, "KRW", "Asia/Seoul")
    assert publish(raw, period, EXACT) == expected


def test_no_figure_below_the_threshold_is_published(core: Core) -> None:
    _seed(core)
    _at(core, datetime(2027, 1, 7, 12, 0, tzinfo=KST))
    document = transparency.transparency_report(core.ctx, "2026-12").document
    # Every count of the month but the submitted trades is 1–9: hidden, like every time and amount
    # drawn from them.
    assert document["submitted"] == 15 and document["trades"] is None and document["volume"] is None
    assert document["paid_p50_seconds"] is None and document["paid_p95_seconds"] is None
    assert document["held_share"] is None and document["median_review_seconds"] is None
    assert document["refusals_by_reason"] == {"other": None}
    assert document["reversals"] is None
    assert document["receivables"] is None and document["recovered"] is None
    assert document["written_off"] == {"amount": 0, "currency": "KRW"}
    assert document["promise_misses"] is None and document["compensation_paid"] is None
    assert document["fraud_reports"] is None and document["median_report_to_freeze_seconds"] is None
    # Actions on businesses, not people: published in full.
    assert document["issuer_pauses"] == _expected(core)["issuer_pauses"]
    assert document["disclosure"] == {
        "threshold": 10,
        "count_step": 5,
        "money_step": {"amount": 10000, "currency": "KRW"},
    }
