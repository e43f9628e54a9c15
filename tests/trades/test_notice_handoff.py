"""A seller's notice told from the pipeline's hand-off: the e-mail, byte for byte, that the notice
read from the database says, sent without reading it. A batch's lines carry no facts: their job
reads, as before (the batch's summary may tell their news instead).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from tests.support.core import Core
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import User
from voucher_exchange.db.schema import jobs
from voucher_exchange.jobs import queue
from voucher_exchange.jobs.models import Job
from voucher_exchange.money import Money
from voucher_exchange.ports.issuer import Chargeback as Reported
from voucher_exchange.reversals import repository as chargeback_repo
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.reversals.models import ChargebackOutcome
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import batch, notices, pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import NOTIFY_TRADE, TradeStatus
from voucher_exchange.worker.runner import Worker

pytestmark = pytest.mark.both_backends

S = TradeStatus
KRW = "KRW"


@dataclasses.dataclass(frozen=True)
class Sent:
    """One e-mail as the mailer was given it."""

    to: str
    subject: str
    body: str
    language: str


class Recorder:
    """A mailer (`ports.mailer.Mailer`) that keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def send(self, to: str, subject: str, body: str, language: str) -> None:
        self.sent.append(Sent(to, subject, body, language))


@pytest.fixture
def mailer(core: Core) -> Iterator[Recorder]:
    """`core` as with a mail server configured: notices are enqueued, and kept by a recorder."""
    recorder = Recorder()
    engine = core.ctx.engine
    core.ctx.engine = engine.execution_options(**{queue.SKIP_KINDS: frozenset()})
    core.ctx.mailer = recorder
    yield recorder
    core.ctx.engine, core.ctx.mailer = engine, None


def _notice_job(core: Core, trade_id: str, status: TradeStatus) -> Job:
    """Claim the trade's notice job about `status` (as a worker does), with what it carries."""
    with core.ctx.uow() as uow:
        taken = queue.claim_more(uow.conn, "w-test", core.ctx.clock.now(), 60, NOTIFY_TRADE, 50)
        uow.commit()
    ref = f"{trade_id}:{status.value}"
    assert [j.ref for j in taken] == [ref]
    return taken[0]


def _offline(core: Core, tmp_path: Path) -> Any:
    """The context with a database that cannot be opened: any read fails."""
    missing = tmp_path / "no-such-folder" / "none.db"
    return dataclasses.replace(core.ctx, engine=create_engine(f"sqlite:///{missing}"))


def _told_both_ways(core: Core, mailer: Recorder, job: Job, tmp_path: Path) -> tuple[Sent, Sent]:
    """The notice sent from the job's facts (with no database to read), then read as before."""
    assert job.payload is not None
    notices.notify_trade(_offline(core, tmp_path), job.ref, job.payload)
    notices.notify_trade(core.ctx, job.ref)
    assert len(mailer.sent) == 2
    return mailer.sent[0], mailer.sent[1]


def _secret_and_last4(core: Core, trade_id: str) -> tuple[str, str]:
    with core.ctx.uow(readonly=True) as uow:
        trade = trade_repo.get(uow.conn, trade_id)
    assert trade is not None
    return str(core.ctx.vault.decrypt_json(trade.voucher_enc, trade.id)["code"]), trade.voucher_last4


def _english(core: Core, user: User) -> User:
    account_service.change_language(core.ctx, user, "en")
    return core.user(user.id)


def test_a_paid_trade_is_told_from_the_handoff_as_the_database_tells_it(
    core: Core, mailer: Recorder, tmp_path: Path
) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)

    pipeline.process_trade(core.ctx, trade_id)

    job = _notice_job(core, trade_id, S.PAID)
    code, last4 = _secret_and_last4(core, trade_id)
    assert job.payload == {
        "to": user.email,
        "language": "ko",
        "brand_name": "컬쳐랜드 문화상품권",
        "trade": {
            "status": "paid",
            "voucher": {"masked": "••••" + last4},
            "face_value": {"amount": 50000, "currency": KRW},
            "payout": {"amount": 45500, "currency": KRW},
            "decision": {"reasons": []},
            "sent_to_bank": {"amount": 45500, "currency": KRW},
        },
    }
    assert code not in json.dumps(job.payload, ensure_ascii=False)
    handed, read = _told_both_ways(core, mailer, job, tmp_path)
    assert handed == read
    assert handed.body.encode() == read.body.encode()


def test_a_worker_sends_the_notice_from_the_facts_its_job_carries(core: Core, mailer: Recorder) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    user = _english(core, user)
    trade_id = core.submit(user, destination)
    worker = Worker(core.ctx, notified=False)

    for _ in range(50):  # the trade's job, then its notice and whatever else it enqueued
        if not worker.run_once():
            break
    worker.release()

    assert [(m.to, m.subject) for m in mailer.sent] == [
        (user.email, "Paid: ₩45,500 is on its way to your bank")
    ]
    with core.ctx.uow(readonly=True) as uow:
        notice = uow.conn.execute(
            select(jobs.c.status, jobs.c.payload).where(jobs.c.ref == f"{trade_id}:paid")
        ).one()
    assert tuple(notice) == ("done", None)


def test_an_english_sellers_paid_notice_is_the_same_in_english(
    core: Core, mailer: Recorder, tmp_path: Path
) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    user = _english(core, user)
    trade_id = core.submit(user, destination)

    pipeline.process_trade(core.ctx, trade_id)

    job = _notice_job(core, trade_id, S.PAID)
    assert job.payload is not None
    assert (job.payload["language"], job.payload["brand_name"]) == ("en", "Cultureland Gift Voucher")
    handed, read = _told_both_ways(core, mailer, job, tmp_path)
    assert handed == read
    assert handed.subject == "Paid: ₩45,500 is on its way to your bank"


def test_a_refused_trade_is_told_from_the_handoff_with_its_reasons(
    core: Core, mailer: Recorder, tmp_path: Path
) -> None:
    user, destination, _ = core.seller()
    user = _english(core, user)
    trade_id = core.submit(user, destination, state="redeemed")

    pipeline.process_trade(core.ctx, trade_id)

    job = _notice_job(core, trade_id, S.REJECTED)
    assert job.payload is not None
    reasons = job.payload["trade"]["decision"]["reasons"]
    assert [r["code"] for r in reasons] == ["voucher_already_redeemed"]
    assert "sent_to_bank" not in job.payload["trade"]
    handed, read = _told_both_ways(core, mailer, job, tmp_path)
    assert handed == read
    assert handed.subject == "We could not buy your Cultureland Gift Voucher"


def test_a_held_trade_is_told_from_the_handoff_with_why_it_is_held(
    core: Core, mailer: Recorder, tmp_path: Path
) -> None:
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination, face_value=150000, brand="google-play-kr")

    pipeline.process_trade(core.ctx, trade_id)

    job = _notice_job(core, trade_id, S.IN_REVIEW)
    assert job.payload is not None and job.payload["trade"]["decision"]["reasons"]
    handed, read = _told_both_ways(core, mailer, job, tmp_path)
    assert handed == read


def test_a_payout_the_bank_refused_is_told_from_the_handoff(
    core: Core, mailer: Recorder, tmp_path: Path
) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller(rail_behavior="reject")
    user = _english(core, user)
    trade_id = core.submit(user, destination)

    pipeline.process_trade(core.ctx, trade_id)

    job = _notice_job(core, trade_id, S.FAILED)
    assert job.payload is not None
    assert [r["code"] for r in job.payload["trade"]["decision"]["reasons"]] == ["payout_refused"]
    handed, read = _told_both_ways(core, mailer, job, tmp_path)
    assert handed == read
    assert handed.subject == "Your bank refused ₩45,500: choose another account"


def _drain_notices(core: Core) -> None:
    with core.ctx.uow() as uow:
        now = core.ctx.clock.now()
        taken = queue.claim_more(uow.conn, "w-test", now, 60, NOTIFY_TRADE, 50)
        queue.finish(uow.conn, taken, "w-test", now)
        uow.commit()


@pytest.mark.parametrize(
    ("face_value", "sent", "subject"),
    [
        (50000, 0, "Settled: your Cultureland Gift Voucher paid what you owed after a reversal"),
        (100000, 45500, "Paid: ₩45,500 is on its way to your bank"),
    ],
)
def test_a_payout_a_debt_took_all_or_part_of_is_told_with_what_reached_the_bank(
    core: Core, mailer: Recorder, tmp_path: Path, face_value: int, sent: int, subject: str
) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    user = _english(core, user)
    first = core.submit(user, destination)
    pipeline.process_trade(core.ctx, first)
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:  # the issuer takes the first voucher back: the seller owes 45,500
        chargeback_repo.add(uow.conn, Reported(1, first, 50000, KRW, "stolen", now), now)
        done = reversal_service.apply_pending(uow.conn, now, core.ctx.settings.liability_window_days)
        uow.commit()
    assert done == [(first, ChargebackOutcome.REVERSED)]
    _drain_notices(core)
    trade_id = core.submit(user, destination, face_value=face_value)

    pipeline.process_trade(core.ctx, trade_id)

    job = _notice_job(core, trade_id, S.PAID)
    assert job.payload is not None
    assert job.payload["trade"]["sent_to_bank"] == {"amount": sent, "currency": KRW}
    handed, read = _told_both_ways(core, mailer, job, tmp_path)
    assert handed == read
    assert handed.subject == subject


def test_a_newer_enqueue_replaces_the_facts_and_one_without_facts_clears_them(core: Core) -> None:
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        queue.enqueue(uow.conn, "test.kind", "r1", now, payload={"said": "first"})
        queue.enqueue(uow.conn, "test.kind", "r1", now, payload={"said": "newest"})
        queue.enqueue(uow.conn, "test.kind", "r2", now, payload={"said": "kept"})
        queue.enqueue(uow.conn, "test.kind", "r2", now)
        uow.commit()
    with core.ctx.uow() as uow:
        taken = queue.claim_more(uow.conn, "w-test", now, 60, "test.kind", 10)
        rows = uow.conn.execute(select(jobs.c.ref).where(jobs.c.kind == "test.kind")).all()
        uow.commit()
    assert [(j.ref, j.payload) for j in taken] == [("r1", {"said": "newest"}), ("r2", None)]
    assert sorted(r.ref for r in rows) == ["r1", "r2"]


def test_a_finished_job_forgets_its_facts_unless_it_runs_again(core: Core) -> None:
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        queue.enqueue(uow.conn, "test.kind", "done", now, payload={"to": "a@example.com"})
        queue.enqueue(uow.conn, "test.kind", "again", now, payload={"to": "b@example.com"})
        uow.commit()
    with core.ctx.uow() as uow:
        taken = queue.claim_more(uow.conn, "w-test", now, 60, "test.kind", 10)
        # New facts while "again" runs: it runs once more, with them.
        queue.enqueue(uow.conn, "test.kind", "again", now, payload={"to": "c@example.com"})
        queue.finish(uow.conn, taken, "w-test", now)
        uow.commit()
    with core.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(jobs.c.ref, jobs.c.status, jobs.c.payload)
            .where(jobs.c.kind == "test.kind")
            .order_by(jobs.c.ref)
        ).all()
    assert [tuple(r) for r in rows] == [("again", "queued", '{"to":"c@example.com"}'), ("done", "done", None)]


def test_a_batch_lines_notices_carry_no_facts_and_the_summary_is_the_one_email(
    core: Core, mailer: Recorder
) -> None:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    minted = [core.sandbox("/issuer/vouchers", {"brand": "booknlife", "face_value": 10000}) for _ in range(2)]
    codes = "\n".join(f"{v['code']},{v.get('pin') or ''}" for v in minted)
    shown = batch.preview(
        core.ctx, user, "booknlife", Money(10000, KRW), batch.parse_lines(codes),
        AcquisitionMethod.GIFT, date(2026, 11, 1), destination,
    )  # fmt: skip
    batch.sell_previewed(core.ctx, user, shown.id)
    _, lines = batch.lines_of(core.ctx, user, shown.id)
    trade_ids = [ln.trade_id for ln in lines if ln.trade_id]
    assert len(trade_ids) == 2

    for trade_id in trade_ids:
        pipeline.process_trade(core.ctx, trade_id)

    with core.ctx.uow() as uow:
        taken = queue.claim_more(uow.conn, "w-test", core.ctx.clock.now(), 60, NOTIFY_TRADE, 50)
        uow.commit()
    assert sorted(j.ref for j in taken) == sorted(f"{t}:paid" for t in trade_ids)
    assert [j.payload for j in taken] == [None, None]
    for job in taken:
        notices.notify_trade(core.ctx, job.ref, job.payload)
    assert mailer.sent == []  # the summary tells the lines' news: its own job sends it
    with core.ctx.uow(readonly=True) as uow:
        summaries = uow.conn.execute(select(jobs.c.ref).where(jobs.c.kind == batch.BATCH_SUMMARY)).all()
    assert [r.ref for r in summaries] == [shown.id]
