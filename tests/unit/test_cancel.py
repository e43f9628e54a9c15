"""Cancelling before verification, on a real SQLite file with no worker running."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from tests.support.exchange import settings_for
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts.models import User
from voucher_exchange.bootstrap import build_context
from voucher_exchange.context import Context
from voucher_exchange.db import migrate
from voucher_exchange.db.schema import jobs, payout_destinations, voucher_claims
from voucher_exchange.demo import seed
from voucher_exchange.errors import Conflict
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quotes
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import lifecycle, repository, service

CODE = "4111111111111111"


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    context = build_context(
        settings_for(tmp_path, f"sqlite:///{tmp_path}/vx.db"), "http://127.0.0.1:9/unused"
    )
    migrate.upgrade(context.engine)
    seed(context)
    yield context
    context.close()


def _seller_and_trade(ctx: Context) -> tuple[User, str]:
    now = ctx.clock.now()
    with ctx.uow() as uow:
        user = accounts.sign_up(uow.conn, "cancel@example.com", "long-enough-pass", now).user
        uow.conn.execute(
            insert(payout_destinations).values(
                id="dest-1", user_id=user.id, kind="bank_account", bank_code="004",
                account_number_enc=b"x", account_fingerprint="f", account_last4="1234",
                holder_name="Kim", status="verified", created_at=now,
            )
        )  # fmt: skip
        quote = quotes.create_quote(
            uow.conn, ctx.settings, ctx.clock, user, "cultureland", Money(50000, "KRW")
        )
        cmd = service.SubmitTrade(quote.id, CODE, None, AcquisitionMethod.GIFT, date(2026, 11, 1), "dest-1")
        trade_id = service.submit(uow.conn, ctx.clock, ctx.vault, user, cmd)
        uow.commit()
    return user, trade_id


def test_a_received_trade_can_be_cancelled_and_its_code_sold_again_later(ctx: Context) -> None:
    user, trade_id = _seller_and_trade(ctx)
    with ctx.uow() as uow:
        uow.conn.execute(
            insert(voucher_claims).values(
                fingerprint=service.voucher_fingerprint(ctx.vault, "cultureland", CODE),
                trade_id=trade_id,
                created_at=ctx.clock.now(),
            )
        )
        service.cancel(uow.conn, ctx.clock, user, trade_id)
        uow.commit()
    with ctx.uow(readonly=True) as uow:
        row = repository.get(uow.conn, trade_id)
        events = [(e.from_status, e.to_status, e.note) for e in repository.events(uow.conn, trade_id)]
        claims = uow.conn.execute(select(func.count()).select_from(voucher_claims)).scalar_one()
    assert row.status == "cancelled"
    assert events == [(None, "received", None), ("received", "cancelled", "cancelled by seller")]
    assert claims == 0


def test_a_trade_past_screening_cannot_be_cancelled(ctx: Context) -> None:
    user, trade_id = _seller_and_trade(ctx)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        lifecycle.start_screening(uow.conn, trade_id, now)
        lifecycle.start_verifying(uow.conn, trade_id, now)
        uow.commit()
    with ctx.uow() as uow, pytest.raises(Conflict) as refused:
        service.cancel(uow.conn, ctx.clock, user, trade_id)
    assert refused.value.code == "trade_not_cancellable"
    with ctx.uow(readonly=True) as uow:
        assert repository.get(uow.conn, trade_id).status == "verifying"


def test_submitting_writes_the_trade_and_its_job_together(ctx: Context) -> None:
    _, trade_id = _seller_and_trade(ctx)
    with ctx.uow(readonly=True) as uow:
        live = uow.conn.execute(select(jobs.c.kind, jobs.c.status).where(jobs.c.ref == trade_id)).all()
    assert [tuple(j) for j in live] == [("trade.process", "queued")]
