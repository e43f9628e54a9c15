"""The rate limits' fixed-window counters: counted together, and a subject's older windows
forgotten once a new one opens (on PostgreSQL in the counting statement itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select

from tests.support.core import Core
from voucher_exchange.db.schema import rate_counters
from voucher_exchange.security import throttle_repository

pytestmark = pytest.mark.both_backends

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=1)


def _counters(core: Core) -> set[tuple[str, str, datetime, int]]:
    c = rate_counters.c
    with core.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(select(c.name, c.subject, c.window_start, c.count))
        return {(r.name, r.subject, r.window_start, r.count) for r in rows}


def test_a_new_window_forgets_only_that_subjects_older_windows_of_that_limit(core: Core) -> None:
    def increment(*windows: tuple[str, str, datetime]) -> list[int]:
        with core.ctx.uow() as uow:
            counts = throttle_repository.increment(uow.conn, list(windows))
            uow.commit()
        return counts

    assert increment(("quote", "alice", T0), ("trade", "alice", T0)) == [1, 1]
    assert increment(("quote", "alice", T0), ("trade", "alice", T0)) == [2, 2]
    assert increment(("quote", "bob", T0)) == [1]
    sent: list[str] = []

    def count(*args: object) -> None:
        sent.append(str(args[2]))

    event.listen(core.ctx.engine, "before_cursor_execute", count)
    try:
        assert increment(("quote", "alice", T1)) == [1]
    finally:
        event.remove(core.ctx.engine, "before_cursor_execute", count)
    # PostgreSQL counts and forgets in one statement; SQLite forgets after counting a new window.
    assert len(sent) == (1 if core.ctx.engine.dialect.name == "postgresql" else 2)
    assert _counters(core) == {
        ("quote", "alice", T1, 1),
        ("trade", "alice", T0, 2),  # another limit's window: kept
        ("quote", "bob", T0, 1),  # another subject's: kept
    }
    assert increment(("quote", "alice", T1), ("trade", "alice", T1)) == [2, 1]
    assert _counters(core) == {("quote", "alice", T1, 2), ("trade", "alice", T1, 1), ("quote", "bob", T0, 1)}
