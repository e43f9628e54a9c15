"""Batches (issue 14, item 5): many trades per transaction end exactly where each would end alone.

A real database (both engines), the sandboxes over HTTP, the outside calls made concurrently.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, select

from tests.support.core import Core
from voucher_exchange.accounts.models import User
from voucher_exchange.db.schema import jobs
from voucher_exchange.errors import ExternalUnavailable
from voucher_exchange.jobs import queue
from voucher_exchange.jobs.models import JobStatus
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import lifecycle, pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import PROCESS_TRADE, TradeStatus
from voucher_exchange.worker.runner import Worker

pytestmark = pytest.mark.both_backends

S = TradeStatus
PAID_HISTORY = [
    (None, "received"),
    ("received", "screening"),
    ("screening", "verifying"),
    ("verifying", "redeeming"),
    ("redeeming", "credited"),
    ("credited", "paying_out"),
    ("paying_out", "paid"),
]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def _status(core: Core, trade_id: str) -> TradeStatus:
    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
    assert trade is not None
    return trade.status


def _history(core: Core, trade_id: str) -> list[tuple[str | None, str]]:
    with core.ctx.uow(readonly=True) as uow:
        return [
            (e.from_status.value if e.from_status else None, e.to_status.value)
            for e in trade_repo.events(uow.conn, trade_id)
        ]


def _balances(core: Core) -> dict[str, int]:
    with core.ctx.uow(readonly=True) as uow:
        return {b["account"]: b["balance"] for b in ledger_service.balances(uow.conn)}


def _submit_code(core: Core, user: User, destination: str, code: str) -> str:
    """Submit a voucher code already minted (to sell the same code twice)."""
    with core.ctx.uow() as uow:
        quote = quote_service.create_quote(
            uow.conn, core.ctx.settings, core.ctx.clock, user, "cultureland", Money(50000, "KRW")
        )
        cmd = trade_service.SubmitTrade(
            quote.id, code, None, AcquisitionMethod.GIFT, date(2026, 11, 1), destination
        )
        trade_id = trade_service.submit(uow.conn, core.ctx.clock, core.ctx.vault, user, cmd)
        uow.commit()
    return trade_id


def test_a_batch_ends_each_trade_where_it_would_end_alone(core: Core) -> None:
    core.fund(1_000_000, "seed")
    kim, kim_to, kim_account = core.seller()
    lee, lee_to, lee_account = core.seller()
    park, park_to, park_account = core.seller()
    first = core.submit(kim, kim_to)
    second = core.submit(kim, kim_to)  # the same seller twice in one transaction
    third = core.submit(lee, lee_to)
    carrier = core.submit(lee, lee_to, purchase_channel="carrier_billing")
    spent = core.submit(lee, lee_to, state="redeemed")
    code = core.sandbox("/issuer/vouchers", {"brand": "cultureland", "face_value": 50000})["code"]
    original = _submit_code(core, park, park_to, code)
    again = _submit_code(core, lee, lee_to, code)  # the same code, later: the first seller has it
    batch = [first, second, third, carrier, spent, original, again]

    with ThreadPoolExecutor(4) as calls:
        results = pipeline.process_many(core.ctx, batch, calls)

    assert results == dict.fromkeys(batch)
    assert {t: _status(core, t).value for t in batch} == {
        first: "paid",
        second: "paid",
        third: "paid",
        carrier: "rejected",
        spent: "rejected",
        original: "paid",
        again: "rejected",
    }
    for paid in (first, second, third, original):
        assert _history(core, paid) == PAID_HISTORY
    assert _history(core, carrier) == [
        (None, "received"),
        ("received", "screening"),
        ("screening", "verifying"),
        ("verifying", "rejected"),
    ]
    assert _history(core, again) == [(None, "received"), ("received", "screening"), ("screening", "rejected")]
    assert [t["amount"] for t in core.rail_transfers(kim_account)] == [45500, 45500]
    assert [t["amount"] for t in core.rail_transfers(lee_account)] == [45500]
    assert [t["amount"] for t in core.rail_transfers(park_account)] == [45500]
    assert _balances(core) == {
        "inventory:cultureland": 200_000,
        "margin": -18_000,
        "operator_capital": -1_000_000,
        f"seller_payable:{kim.id}": 0,
        f"seller_payable:{lee.id}": 0,
        f"seller_payable:{park.id}": 0,
        "treasury": 1_000_000 - 4 * 45500,
    }
    with core.ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).violations == []

    # A second pass over the same batch moves nothing.
    before = _balances(core)
    assert pipeline.process_many(core.ctx, batch) == dict.fromkeys(batch)
    assert _balances(core) == before
    assert len(core.rail_transfers(kim_account)) == 2


def test_an_outside_failure_stops_only_its_own_trade(core: Core) -> None:
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    steady = core.submit(user, destination)
    flaky = core.submit(user, destination, failure="flaky")  # its 1st and 3rd issuer calls fail

    results = pipeline.process_many(core.ctx, [steady, flaky])

    assert results[steady] is None
    assert isinstance(results[flaky], ExternalUnavailable)
    assert _status(core, steady) is S.PAID
    assert _status(core, flaky) is S.VERIFYING  # nothing written for it beyond screening
    assert [t["amount"] for t in core.rail_transfers(account)] == [45500]
    assert _balances(core)["treasury"] == 1_000_000 - 45500

    again = pipeline.process_many(core.ctx, [flaky])  # the look-up answers, the redeem fails
    assert isinstance(again[flaky], ExternalUnavailable)
    assert _status(core, flaky) is S.REDEEMING
    assert _balances(core)["treasury"] == 1_000_000 - 45500
    assert pipeline.process_many(core.ctx, [flaky]) == {flaky: None}
    assert _status(core, flaky) is S.PAID
    assert [t["amount"] for t in core.rail_transfers(account)] == [45500, 45500]


def test_when_a_batch_transaction_fails_each_trade_runs_alone(core: Core) -> None:
    """A trade another process moved makes the shared transaction roll back; the others still
    go through, one by one, and the moved one is left as the other process left it."""
    core.fund(1_000_000, "seed")
    user, destination, account = core.seller()
    moved = core.submit(user, destination)
    fresh = core.submit(user, destination)
    with core.ctx.uow(readonly=True) as uow:
        stale = [pipeline.Handoff(t) for t in trade_repo.get_many(uow.conn, [moved, fresh])]
    with core.ctx.uow() as uow:  # the seller cancels while the worker holds the old copy
        lifecycle.cancel(uow.conn, moved, S.RECEIVED, core.ctx.clock.now(), user.id)
        uow.commit()
    # The moved one last: the fresh one's screening is written, then undone with the rest.
    stale.sort(key=lambda h: h.trade.id == moved)
    results: dict[str, Exception | None] = {}

    following = pipeline.run_stage_batch(core.ctx, pipeline.STAGES[S.RECEIVED], stale, None, results)

    assert following == []
    assert results == {moved: None, fresh: None}
    assert _status(core, moved) is S.CANCELLED
    assert _history(core, moved) == [(None, "received"), ("received", "cancelled")]
    with core.ctx.uow(readonly=True) as uow:  # nothing moved for the cancelled one
        assert reconcile_service.trade_transfers(uow.conn, moved) == []
        assert payout_service.for_trade(uow.conn, moved) is None
        assert trade_repo.all_decisions(uow.conn, moved) == []
    assert _history(core, fresh) == PAID_HISTORY
    assert [t["amount"] for t in core.rail_transfers(account)] == [45500]


def _job_statuses(core: Core) -> dict[str, str]:
    with core.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(select(jobs.c.ref, jobs.c.status).where(jobs.c.kind == PROCESS_TRADE))
        return {r.ref: r.status for r in rows}


def test_a_worker_takes_ready_trades_in_batches_of_its_size(core: Core) -> None:
    core.fund(1_000_000, "seed")
    sellers = [core.seller() for _ in range(5)]  # one trade each: no velocity rule in the way
    trades = [core.submit(user, destination) for user, destination, _ in sellers]
    settings = dataclasses.replace(core.ctx.settings, worker_batch_size=3)
    worker = Worker(dataclasses.replace(core.ctx, settings=settings))

    assert worker.run_once()  # claims three, runs them together, claims the other two

    assert [_status(core, t) for t in trades] == [S.PAID, S.PAID, S.PAID, S.RECEIVED, S.RECEIVED]
    assert _job_statuses(core) == {
        **dict.fromkeys(trades[:3], JobStatus.DONE.value),
        **dict.fromkeys(trades[3:], JobStatus.RUNNING.value),
    }
    assert worker.run_once()
    assert [_status(core, t) for t in trades] == [S.PAID] * 5
    assert _job_statuses(core) == dict.fromkeys(trades, JobStatus.DONE.value)
    assert not worker.run_once()


def test_in_a_batch_a_short_treasury_makes_only_the_unpaid_jobs_wait(core: Core) -> None:
    core.fund(45500, "one payout's worth")
    user, destination, account = core.seller()
    trades = [core.submit(user, destination) for _ in range(2)]
    worker = Worker(core.ctx)

    assert worker.run_once()

    statuses = sorted(_status(core, t).value for t in trades)
    assert statuses == ["paid", "paying_out"]
    waiting = next(t for t in trades if _status(core, t) is S.PAYING_OUT)
    with core.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(select(jobs.c.status, jobs.c.last_error).where(jobs.c.ref == waiting)).one()
    assert (row.status, row.last_error) == (JobStatus.QUEUED.value, "waiting for treasury funding")
    paid = next(t for t in trades if t != waiting)
    assert _job_statuses(core) == {paid: JobStatus.DONE.value, waiting: JobStatus.QUEUED.value}
    assert [t["amount"] for t in core.rail_transfers(account)] == [45500]
    assert _balances(core)["treasury"] == 0


def test_a_batch_renews_its_leases_in_every_stage_transaction(core: Core) -> None:
    core.fund(1_000_000, "seed")
    sellers = [core.seller() for _ in range(2)]
    trades = [core.submit(user, destination) for user, destination, _ in sellers]
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        held = queue.claim_more(uow.conn, "w-me", now, 5.0, PROCESS_TRADE, 8)
        uow.commit()
    assert sorted(j.ref for j in held) == sorted(trades)
    renewed: list[datetime] = []

    def renew(conn: Connection, at: datetime) -> None:
        queue.renew(conn, held, "w-me", at, 60.0)
        queue.renew(conn, held, "w-someone-else", at, 600.0)  # not theirs: changes nothing
        renewed.append(at)

    assert pipeline.process_many(core.ctx, trades, None, renew) == dict.fromkeys(trades)

    # One transaction per stage: screen, verify, secure (credit, payout, reserve), record the payout.
    assert len(renewed) == 4
    with core.ctx.uow(readonly=True) as uow:
        query = select(jobs.c.locked_by, jobs.c.locked_until).where(jobs.c.kind == PROCESS_TRADE)
        leases = {(r.locked_by, _utc(r.locked_until)) for r in uow.conn.execute(query)}
    assert leases == {("w-me", renewed[-1] + timedelta(seconds=60))}
