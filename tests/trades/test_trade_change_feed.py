"""On PostgreSQL a trade's status change tells every process's change feed itself (its UPDATE's
`RETURNING …, pg_notify`), once per committed transaction, and never for a rolled-back one."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import event

from tests.conftest import BACKENDS
from tests.support.core import Core
from voucher_exchange.db import changes
from voucher_exchange.trades import lifecycle, pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import TradeStatus

pytestmark = pytest.mark.parametrize("backend", [BACKENDS[1]], indirect=True)  # PostgreSQL's NOTIFY


def _heard(listener: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    """What arrived so far: a NOTIFY is delivered at its transaction's commit, before that returns."""
    return [n.payload for n in listener.notifies(timeout=0.5)]


def test_each_committed_step_of_a_trade_notifies_its_id_with_no_statement_of_its_own(core: Core) -> None:
    core.fund(10_000_000, "seed")
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    url = core.ctx.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    sent: list[str] = []

    def capture(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        sent.append(sql)

    with psycopg.connect(url, autocommit=True) as listener:
        listener.execute(f"LISTEN {changes.CHANNEL}")
        with core.ctx.uow() as uow:  # moved, then rolled back: nobody is told
            lifecycle.start_screening(uow.conn, trade_id, core.ctx.clock.now())
        assert _heard(listener) == []
        event.listen(core.ctx.engine, "before_cursor_execute", capture)
        try:
            pipeline.process_trade(core.ctx, trade_id)
        finally:
            event.remove(core.ctx.engine, "before_cursor_execute", capture)
        heard = _heard(listener)
    with core.ctx.uow(readonly=True) as uow:
        assert trade_repo.get(uow.conn, trade_id).status is TradeStatus.PAID  # type: ignore[union-attr]
    # Four transactions move it (screened and sent to verify; verified; secured and paying;
    # paid): one notice each, two changes in one transaction being one notice.
    assert heard == [trade_id] * 4
    assert [sql for sql in sent if "pg_notify" in sql and "UPDATE trades" not in sql] == []
