"""The payout-time promise through the pipeline: a payout handed to the bank late carries the fee back
(one bank transfer, one ledger transfer from the expense account, exactly once); a trade held for
review or queued in the banks' nightly window was told it is excluded and gets nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from tests.support.core import Core
from tests.support.exchange import ShiftableClock
from tests.support.staff import verify_identity
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import IdentityStatus, Role
from voucher_exchange.db.schema import jobs, users
from voucher_exchange.faults import SimulatedCrash, crash_once_at
from voucher_exchange.identity.clearance import Blocked
from voucher_exchange.jobs import queue
from voucher_exchange.jobs.models import JobStatus
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.money import Money
from voucher_exchange.payouts import freezes
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import (
    WAITING_FOR_BANK,
    BankWindowClosed,
    PayoutHeld,
    PayoutPurpose,
    PayoutStatus,
    RailPending,
    TreasuryShort,
)
from voucher_exchange.promises import repository as promise_repo
from voucher_exchange.promises import service as promise_service
from voucher_exchange.promises.models import DEFAULT_RAIL, checked_terms
from voucher_exchange.receipts import service as receipt_service
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.review import service as review_service
from voucher_exchange.trades import late_payout, lifecycle, pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import PAY_COMPENSATION, TradeMovedOn, TradeStatus
from voucher_exchange.worker.runner import Worker

pytestmark = pytest.mark.both_backends

S = TradeStatus
SEOUL = ZoneInfo("Asia/Seoul")


def _clock(core: Core) -> ShiftableClock:
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    return clock


def _balances(core: Core) -> dict[str, tuple[int, int]]:
    with core.ctx.uow(readonly=True) as uow:
        return {b["account"]: (b["balance"], b["pending"]) for b in ledger_service.balances(uow.conn)}


def _view(core: Core, user_id: str, trade_id: str) -> dict[str, object]:
    with core.ctx.uow(readonly=True) as uow:
        return trade_service.get_own(uow.conn, core.user(user_id), trade_id, "en").data


def _notes(core: Core, trade_id: str) -> list[str]:
    with core.ctx.uow(readonly=True) as uow:
        return [e.note for e in trade_repo.events(uow.conn, trade_id) if e.note]


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def test_a_payout_sent_after_the_promise_carries_the_fee_back_exactly_once(core: Core) -> None:
    core.fund(45_499, "short")  # one won short: the payout waits for funding
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)
    with core.ctx.uow(readonly=True) as uow:
        secured_at = trade_repo.get(uow.conn, trade_id).secured_at  # type: ignore[union-attr]
    assert secured_at is not None
    waiting = _view(core, user.id, trade_id)
    assert waiting["promise"] == {"due_at": _iso(secured_at + timedelta(minutes=10)), "applies": True}
    assert waiting["compensation"] is None

    _clock(core).offset += timedelta(minutes=11)
    core.fund(1_000_000, "late")
    pipeline.process_trade(core.ctx, trade_id)
    pipeline.process_trade(core.ctx, trade_id)  # a retry moves nothing twice

    with core.ctx.uow(readonly=True) as uow:
        payout = payout_service.for_trade(uow.conn, trade_id)
        transfers = reconcile_service.trade_transfers(uow.conn, trade_id)
        report = reconcile_service.verify(uow.conn)
        # A second claim (another worker, a crash and a re-run) finds it paid.
        assert promise_service.claim_compensation(uow.conn, trade_id, user.id, _clock(core).now()) is None
    assert payout is not None and payout.status is PayoutStatus.EXECUTED
    assert payout.amount.amount == 45_500 + 4_500
    assert [(t.reference, t.debit, t.credit, t.amount.amount, t.phase.value) for t in transfers] == [
        (f"trade:{trade_id}", "inventory:cultureland", f"seller_payable:{user.id}", 45_500, "single"),
        (f"trade:{trade_id}", "inventory:cultureland", "margin", 4_500, "single"),
        (f"trade:{trade_id}", "promise_compensation", f"seller_payable:{user.id}", 4_500, "single"),
        (f"payout:{payout.id}", f"seller_payable:{user.id}", "treasury", 50_000, "pending"),
        (f"payout:{payout.id}", f"seller_payable:{user.id}", "treasury", 50_000, "post"),
    ]
    assert _balances(core) == {
        "inventory:cultureland": (50_000, 0),
        "margin": (-4_500, 0),
        "promise_compensation": (4_500, 0),
        "operator_capital": (-1_045_499, 0),
        f"seller_payable:{user.id}": (0, 0),
        "treasury": (995_499, 0),
    }
    # One bank transfer: the payout and its compensation together (what the rail statement shows).
    assert [(t["amount"], t["status"]) for t in core.rail_transfers(account)] == [(50_000, "executed")]
    assert report.violations == []
    paid = _view(core, user.id, trade_id)
    assert paid["status"] == "paid"
    assert paid["promise"] == {"due_at": _iso(secured_at + timedelta(minutes=10)), "applies": True}
    assert paid["compensation"] == {"amount": 4_500, "currency": "KRW"}
    assert _notes(core, trade_id).count(lifecycle.COMPENSATION_NOTE) == 1
    receipt = receipt_service.issue_own_receipt(core.ctx, core.user(user.id), trade_id).receipt
    assert receipt["compensation"] == {"amount": 4_500, "currency": "KRW"}
    assert receipt["payout"] == {"amount": 45_500, "currency": "KRW"}
    assert receipt["promise_due_at"] == _iso(secured_at + timedelta(minutes=10))
    with core.ctx.uow(readonly=True) as uow:
        start = secured_at - timedelta(days=1)
        assert promise_service.promise_figures(uow.conn, start, start + timedelta(days=2)) == (1, 4_500)
        assert promise_service.promise_figures(uow.conn, start - timedelta(days=3), start) == (0, 0)


def test_a_payout_sent_in_time_carries_nothing(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)
    pipeline.process_trade(core.ctx, trade_id)
    view = _view(core, user.id, trade_id)
    assert view["status"] == "paid"
    assert view["promise"]["applies"] is True  # type: ignore[index]
    assert view["compensation"] is None
    assert "promise_compensation" not in _balances(core)
    assert [t["amount"] for t in core.rail_transfers(account)] == [45_500]
    receipt = receipt_service.issue_own_receipt(core.ctx, core.user(user.id), trade_id).receipt
    assert "compensation" not in receipt


def test_a_trade_held_for_review_is_told_so_and_never_compensated(core: Core) -> None:
    core.fund(1, "seed")  # the payout will also wait for funding, past its due time
    clock = _clock(core)
    with core.ctx.uow() as uow:
        reviewer = account_service.create_staff(
            uow.conn, "rev@example.com", "correct-horse-battery", Role.REVIEWER, clock.now()
        )
        uow.commit()
    reviewer = verify_identity(core.ctx, reviewer)
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination, face_value=150000, brand="google-play-kr")
    pipeline.process_trade(core.ctx, trade_id)
    held = _view(core, user.id, trade_id)
    assert held["status"] == "in_review"
    assert held["promise"] == {"due_at": None, "applies": False, "excluded_because": "review_hold"}

    clock.offset += timedelta(hours=2)
    with core.ctx.uow() as uow:
        review_service.decide(uow.conn, clock, reviewer, trade_id, "approve", "checked")
        uow.commit()
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)
    clock.offset += timedelta(minutes=30)
    core.fund(1_000_000, "late")
    pipeline.process_trade(core.ctx, trade_id)

    paid = _view(core, user.id, trade_id)
    assert paid["status"] == "paid"
    assert paid["promise"]["excluded_because"] == "review_hold"  # type: ignore[index]
    assert paid["promise"]["applies"] is False  # type: ignore[index]
    assert paid["compensation"] is None
    assert "promise_compensation" not in _balances(core)
    with core.ctx.uow(readonly=True) as uow:
        assert (
            promise_service.claim_compensation(uow.conn, trade_id, user.id, clock.now() + timedelta(days=1))
            is None
        )
    assert [t["amount"] for t in core.rail_transfers(account)] == [130_500]


def test_a_payout_in_the_banks_window_queues_until_it_ends_and_is_excluded(core: Core) -> None:
    core.fund(1_000_000, "seed")
    clock = _clock(core)
    local = clock.now().astimezone(SEOUL)
    start, end = local - timedelta(minutes=5), local + timedelta(minutes=30)
    terms = checked_terms(10, 10_000, f"{start:%H:%M}", f"{end:%H:%M}", "Asia/Seoul")
    with core.ctx.uow() as uow:
        promise_repo.save_terms(uow.conn, DEFAULT_RAIL, terms, clock.now(), "test")
        uow.commit()
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)

    with pytest.raises(BankWindowClosed) as waits:
        pipeline.process_trade(core.ctx, trade_id)

    window_end = end.replace(second=0, microsecond=0)
    assert waits.value.until == window_end.astimezone(waits.value.until.tzinfo)
    with core.ctx.uow(readonly=True) as uow:
        payout = payout_service.for_trade(uow.conn, trade_id)
    assert payout is not None and payout.status is PayoutStatus.CREATED and payout.pending_transfer_id is None
    assert core.rail_transfers(account) == []
    assert _balances(core)["treasury"] == (1_000_000, 0)
    queued = _view(core, user.id, trade_id)
    assert queued["status"] == "paying_out"
    assert queued["promise"]["excluded_because"] == "bank_window"  # type: ignore[index]
    assert lifecycle.BANK_WINDOW_NOTE in _notes(core, trade_id)

    clock.offset += timedelta(minutes=40)  # the window ended; the payout is long past due
    pipeline.process_trade(core.ctx, trade_id)

    paid = _view(core, user.id, trade_id)
    assert paid["status"] == "paid" and paid["compensation"] is None
    assert [t["amount"] for t in core.rail_transfers(account)] == [45_500]
    assert "promise_compensation" not in _balances(core)
    with core.ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).violations == []


@pytest.mark.parametrize(
    "crash_at", ["after_promise_checked", "before_rail_transfer", "after_rail_transfer"], ids=str
)
def test_a_crash_around_a_late_payout_pays_the_compensation_once(core: Core, crash_at: str) -> None:
    core.fund(45_499, "short")
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)
    _clock(core).offset += timedelta(minutes=11)
    core.fund(1_000_000, "late")

    with crash_once_at(crash_at), pytest.raises(SimulatedCrash):
        pipeline.process_trade(core.ctx, trade_id)
    pipeline.process_trade(core.ctx, trade_id)  # the job runs again after the crash

    with core.ctx.uow(readonly=True) as uow:
        payout = payout_service.for_trade(uow.conn, trade_id)
        compensations = [
            t
            for t in reconcile_service.trade_transfers(uow.conn, trade_id)
            if t.debit == "promise_compensation"
        ]
        violations = reconcile_service.verify(uow.conn).violations
    assert payout is not None and (payout.status, payout.amount.amount) == (PayoutStatus.EXECUTED, 50_000)
    assert [t.amount.amount for t in compensations] == [4_500]
    assert [t["amount"] for t in core.rail_transfers(account)] == [50_000]
    assert _notes(core, trade_id).count(lifecycle.COMPENSATION_NOTE) == 1
    assert _view(core, user.id, trade_id)["compensation"] == {"amount": 4_500, "currency": "KRW"}
    assert violations == []


@pytest.mark.fresh_sandbox  # its own sandbox on the test's clock: the bank's delay moves with it
def test_a_payout_the_bank_executed_late_gets_the_compensation_in_a_second_transfer(core: Core) -> None:
    core.fund(1_000_000, "seed")
    clock = _clock(core)
    user, destination, account = core.seller()
    core.sandbox("/rail/behavior", {"delay_seconds": 15 * 60})  # the bank executes 15 minutes late
    trade_id = core.submit(user, destination)
    worker = Worker(core.ctx)
    assert worker.run_once()
    with core.ctx.uow(readonly=True) as uow:
        secured_at = trade_repo.get(uow.conn, trade_id).secured_at  # type: ignore[union-attr]
        handed = payout_service.for_trade(uow.conn, trade_id)
        job = uow.conn.execute(
            select(jobs.c.status, jobs.c.last_error, jobs.c.attempts, jobs.c.run_at).where(
                jobs.c.ref == trade_id
            )
        ).one()
    assert secured_at is not None and handed is not None
    # The job waits for the bank, without counting a failed attempt, and asks again in 15 s.
    assert (job.status, job.last_error) == (JobStatus.QUEUED.value, WAITING_FOR_BANK)
    assert job.attempts == 1  # the claim's own; waiting for the bank is not a failure
    assert timedelta(seconds=14) < job.run_at.replace(tzinfo=UTC) - clock.now() <= timedelta(seconds=15)
    assert (handed.status, handed.amount.amount) == (PayoutStatus.SENDING, 45_500)  # handed over in time
    assert core.rail_transfers(account) == []  # accepted, not executed
    clock.offset += timedelta(minutes=9)
    with pytest.raises(RailPending):  # asked again with the same key: still pending
        pipeline.process_trade(core.ctx, trade_id)
    assert _view(core, user.id, trade_id)["compensation"] is None

    clock.offset += timedelta(minutes=7)  # the bank executed it at minute 15; the promise was 10
    core.sandbox("/rail/behavior", {"delay_seconds": 0})
    pipeline.process_trade(core.ctx, trade_id)
    pipeline.process_trade(core.ctx, trade_id)  # a retry moves nothing twice

    paid = _view(core, user.id, trade_id)
    assert paid["status"] == "paid"
    assert paid["compensation"] == {"amount": 4_500, "currency": "KRW"}
    assert _notes(core, trade_id).count(lifecycle.LATE_COMPENSATION_NOTE) == 1
    assert lifecycle.COMPENSATION_NOTE not in _notes(core, trade_id)
    with core.ctx.uow(readonly=True) as uow:
        compensation = payout_repo.compensation_for_trade(uow.conn, trade_id)
        assert compensation is not None
        queued = queue.live_refs(uow.conn, PAY_COMPENSATION)
        # Until the bank answers, verify sees a compensation owed with a job to send it.
        assert reconcile_service.verify(uow.conn).violations == []
        assert promise_service.claim_compensation(uow.conn, trade_id, user.id, clock.now()) is None
    assert (compensation.status, compensation.amount.amount) == (PayoutStatus.CREATED, 4_500)
    assert compensation.purpose is PayoutPurpose.COMPENSATION
    assert compensation.destination_id == handed.destination_id
    assert queued == {compensation.id}

    while worker.run_once():  # the compensation's own job sends it
        pass
    late_payout.pay_compensation(core.ctx, compensation.id)  # a re-run sends nothing twice
    with core.ctx.uow(readonly=True) as uow:
        assert queue.live_refs(uow.conn, PAY_COMPENSATION) == set()

    # Two bank transfers to the same account: the payout, then the compensation.
    assert [(t["amount"], t["status"]) for t in core.rail_transfers(account)] == [
        (45_500, "executed"),
        (4_500, "executed"),
    ]
    with core.ctx.uow(readonly=True) as uow:
        transfers = reconcile_service.trade_transfers(uow.conn, trade_id)
        report = reconcile_service.verify(uow.conn)
        assert payout_service.sent_to_bank(uow.conn, trade_id) == 50_000
    assert [(t.reference, t.debit, t.credit, t.amount.amount, t.phase.value) for t in transfers] == [
        (f"trade:{trade_id}", "inventory:cultureland", f"seller_payable:{user.id}", 45_500, "single"),
        (f"trade:{trade_id}", "inventory:cultureland", "margin", 4_500, "single"),
        (f"payout:{handed.id}", f"seller_payable:{user.id}", "treasury", 45_500, "pending"),
        (f"payout:{handed.id}", f"seller_payable:{user.id}", "treasury", 45_500, "post"),
        (f"trade:{trade_id}", "promise_compensation", f"seller_payable:{user.id}", 4_500, "single"),
        (f"payout:{compensation.id}", f"seller_payable:{user.id}", "treasury", 4_500, "pending"),
        (f"payout:{compensation.id}", f"seller_payable:{user.id}", "treasury", 4_500, "post"),
    ]
    assert _balances(core)[f"seller_payable:{user.id}"] == (0, 0)
    assert _balances(core)["promise_compensation"] == (4_500, 0)
    assert _balances(core)["treasury"] == (950_000, 0)
    assert report.violations == []
    receipt = receipt_service.issue_own_receipt(core.ctx, core.user(user.id), trade_id).receipt
    assert receipt["compensation"] == {"amount": 4_500, "currency": "KRW"}
    assert receipt["payout"] == {"amount": 45_500, "currency": "KRW"}


@pytest.mark.fresh_sandbox
def test_a_payout_the_bank_executed_in_time_after_a_pending_answer_carries_nothing(core: Core) -> None:
    core.fund(1_000_000, "seed")
    clock = _clock(core)
    user, destination, account = core.seller()
    core.sandbox("/rail/behavior", {"delay_seconds": 5 * 60})  # late to answer, not to pay
    trade_id = core.submit(user, destination)
    with pytest.raises(RailPending):
        pipeline.process_trade(core.ctx, trade_id)
    clock.offset += timedelta(minutes=20)  # the exchange learns it long after the promise was due
    core.sandbox("/rail/behavior", {"delay_seconds": 0})
    pipeline.process_trade(core.ctx, trade_id)

    paid = _view(core, user.id, trade_id)
    assert paid["status"] == "paid" and paid["compensation"] is None  # the bank paid at minute 5
    assert [(t["amount"], t["status"]) for t in core.rail_transfers(account)] == [(45_500, "executed")]
    assert "promise_compensation" not in _balances(core)
    with core.ctx.uow(readonly=True) as uow:
        assert payout_repo.compensation_for_trade(uow.conn, trade_id) is None
        assert reconcile_service.verify(uow.conn).violations == []


def _late_compensation(core: Core) -> tuple[str, str, str]:
    """A trade whose payout the bank executed 15 minutes late (the promise was 10): its
    compensation payout is created and queued, not yet sent. (trade, seller, bank account)."""
    core.fund(1_000_000, "seed")
    clock = _clock(core)
    user, destination, account = core.seller()
    core.sandbox("/rail/behavior", {"delay_seconds": 15 * 60})
    trade_id = core.submit(user, destination)
    with pytest.raises(RailPending):
        pipeline.process_trade(core.ctx, trade_id)
    clock.offset += timedelta(minutes=16)
    core.sandbox("/rail/behavior", {"delay_seconds": 0})
    pipeline.process_trade(core.ctx, trade_id)
    assert _view(core, user.id, trade_id)["status"] == "paid"
    return trade_id, user.id, account


def _compensation(core: Core, trade_id: str) -> tuple[PayoutStatus, int | None, set[str]]:
    """The compensation payout's status and pending transfer, and the jobs that send it."""
    with core.ctx.uow(readonly=True) as uow:
        found = payout_repo.compensation_for_trade(uow.conn, trade_id)
        assert found is not None
        return found.status, found.pending_transfer_id, queue.live_refs(uow.conn, PAY_COMPENSATION)


@pytest.mark.fresh_sandbox
def test_a_compensation_waits_while_a_fraud_case_freezes_the_sellers_payouts(core: Core) -> None:
    trade_id, user_id, account = _late_compensation(core)
    clock = _clock(core)
    with core.ctx.uow() as uow:
        compensation = payout_repo.compensation_for_trade(uow.conn, trade_id)
        assert compensation is not None
        assert freezes.open_freeze(uow.conn, user_id, "case:c1:other", Money(45_500, "KRW"), clock.now())
        uow.commit()
    before = _balances(core)

    for _ in range(2):  # held, and held again (its hold is recorded once)
        with pytest.raises(PayoutHeld) as held:
            late_payout.pay_compensation(core.ctx, compensation.id)
        assert (held.value.payout_id, held.value.why) == (compensation.id, freezes.FRAUD_FREEZE)

    # Nothing moved: no bank transfer, no reservation, the job still queued.
    assert [t["amount"] for t in core.rail_transfers(account)] == [45_500]
    assert _balances(core) == before
    assert _compensation(core, trade_id) == (PayoutStatus.CREATED, None, {compensation.id})
    with core.ctx.uow(readonly=True) as uow:
        caught = [(ref, amount) for ref, amount, _ in freezes.holds_of(uow.conn, "case:c1:other")]
    assert caught == [(compensation.ledger_reference, Money(4_500, "KRW"))]

    with core.ctx.uow() as uow:
        assert freezes.release(uow.conn, "case:c1:other", "reviewer@example.com", clock.now()) == user_id
        uow.commit()
    late_payout.pay_compensation(core.ctx, compensation.id)
    assert [t["amount"] for t in core.rail_transfers(account)] == [45_500, 4_500]
    assert _compensation(core, trade_id)[0] is PayoutStatus.EXECUTED


@pytest.mark.fresh_sandbox
def test_a_compensation_waits_for_the_sellers_clearance_and_the_banks_window(core: Core) -> None:
    trade_id, user_id, account = _late_compensation(core)
    clock = _clock(core)
    with core.ctx.uow(readonly=True) as uow:
        compensation = payout_repo.compensation_for_trade(uow.conn, trade_id)
    assert compensation is not None
    with core.ctx.uow() as uow:  # the seller's identity is no longer verified
        uow.conn.execute(
            update(users).where(users.c.id == user_id).values(identity_status=IdentityStatus.NONE.value)
        )
        uow.commit()
    before = _balances(core)
    with pytest.raises(PayoutHeld) as held:
        late_payout.pay_compensation(core.ctx, compensation.id)
    assert held.value.why == Blocked.IDENTITY.value
    with core.ctx.uow() as uow:
        uow.conn.execute(
            update(users).where(users.c.id == user_id).values(identity_status=IdentityStatus.VERIFIED.value)
        )
        uow.commit()

    local = clock.now().astimezone(SEOUL)  # the banks close for the night
    start, end = local - timedelta(minutes=5), local + timedelta(minutes=30)
    terms = checked_terms(10, 10_000, f"{start:%H:%M}", f"{end:%H:%M}", "Asia/Seoul")
    with core.ctx.uow() as uow:
        promise_repo.save_terms(uow.conn, DEFAULT_RAIL, terms, clock.now(), "test")
        uow.commit()
    with pytest.raises(BankWindowClosed) as waits:
        late_payout.pay_compensation(core.ctx, compensation.id)
    assert waits.value.until == end.replace(second=0, microsecond=0).astimezone(waits.value.until.tzinfo)

    # Nothing moved while it waited.
    assert [t["amount"] for t in core.rail_transfers(account)] == [45_500]
    assert _balances(core) == before
    assert _compensation(core, trade_id) == (PayoutStatus.CREATED, None, {compensation.id})

    clock.offset += timedelta(minutes=40)
    late_payout.pay_compensation(core.ctx, compensation.id)
    assert [t["amount"] for t in core.rail_transfers(account)] == [45_500, 4_500]
    with core.ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).violations == []


def test_a_payout_reserved_by_another_process_first_is_read_again_not_compensated_twice(core: Core) -> None:
    core.fund(45_499, "short")
    user, destination, account = core.seller()
    trade_id = core.submit(user, destination)
    with pytest.raises(TreasuryShort):
        pipeline.process_trade(core.ctx, trade_id)
    clock = _clock(core)
    clock.offset += timedelta(minutes=11)  # past the promise: the payout now carries 4,500 more
    core.fund(1_000_000, "late")
    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
        stale = payout_service.for_trade(uow.conn, trade_id)
    assert trade is not None and stale is not None and stale.status is PayoutStatus.CREATED
    with core.ctx.uow() as uow:  # another process reserves it as it was, first
        payout_service.reserve(uow.conn, stale, clock.now())
        uow.commit()
    before = _balances(core)

    with pytest.raises(TradeMovedOn), core.ctx.uow() as uow:
        pipeline._with_compensation(uow.conn, trade, stale, clock.now())
        uow.commit()

    # Rolled back whole: no compensation credited, the promise not spent, the amount unchanged.
    assert _balances(core) == before
    assert lifecycle.COMPENSATION_NOTE not in _notes(core, trade_id)
    with core.ctx.uow() as uow:  # the promise is still there to claim (not committed here)
        now_reserved = payout_service.for_trade(uow.conn, trade_id)
        assert promise_service.claim_compensation(uow.conn, trade_id, user.id, clock.now()) is not None
    assert now_reserved is not None
    assert (now_reserved.status, now_reserved.amount.amount) == (PayoutStatus.SENDING, 45_500)

    pipeline.process_trade(core.ctx, trade_id)  # read again: sent as reserved, then compensated late
    assert [t["amount"] for t in core.rail_transfers(account)][:1] == [45_500]
    assert _view(core, user.id, trade_id)["status"] == "paid"
