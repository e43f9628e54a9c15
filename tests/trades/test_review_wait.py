"""The wait a held seller is told: the median of recent reviews, from the trades' own history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.support.core import Core
from tests.support.exchange import ShiftableClock
from tests.support.staff import verify_identity
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import Role
from voucher_exchange.review import service as review_service
from voucher_exchange.trades import pipeline, seller_view
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus

pytestmark = pytest.mark.both_backends


def test_the_expected_wait_is_what_three_in_four_recent_reviews_kept(core: Core) -> None:
    core.fund(10_000_000, "seed")
    clock = core.ctx.clock
    assert isinstance(clock, ShiftableClock)
    with core.ctx.uow() as uow:
        assert seller_view.expected_review_minutes(uow.conn) == seller_view.DEFAULT_REVIEW_MINUTES
        reviewer = account_service.create_staff(
            uow.conn, "rev@example.com", "correct-horse-battery", Role.REVIEWER, clock.now()
        )
        uow.commit()
    reviewer = verify_identity(core.ctx, reviewer)  # reviewers decide with an identity on file
    waits = [10, 30, 47]  # the real seconds the pipeline takes add to each: 47 + a little is 50
    for minutes in waits:
        user, destination, _ = core.seller()
        trade_id = core.submit(user, destination, face_value=150000, brand="google-play-kr")
        pipeline.process_trade(core.ctx, trade_id)
        with core.ctx.uow(readonly=True) as uow:
            assert (
                trade_service.get_own(uow.conn, user, trade_id, "en").data["status"] == TradeStatus.IN_REVIEW
            )
        clock.offset += timedelta(minutes=minutes)
        with core.ctx.uow() as uow:
            review_service.decide(uow.conn, clock, reviewer, trade_id, "reject", "checked")
            uow.commit()
    with core.ctx.uow() as uow:
        assert seller_view.expected_review_minutes(uow.conn) == 50


def test_the_latest_reviews_are_found_by_their_index_not_by_reading_every_trades_history(core: Core) -> None:
    """Every quote asks (migration 0034): a scan of `trade_events` would cost more with each trade."""
    sent: list[tuple[str, object]] = []

    def capture(_conn: object, _cursor: object, sql: str, params: object, *_: object) -> None:
        sent.append((sql, params))

    engine = core.ctx.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with core.ctx.uow(readonly=True) as uow:
            assert trade_repo.recent_review_seconds(uow.conn) == []
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(sql, params)] = [(s, p) for s, p in sent if "trade_events" in s]
    with core.ctx.uow(readonly=True) as uow:
        if engine.dialect.name == "sqlite":
            plan = uow.conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()  # type: ignore[arg-type]
            assert [row[3] for row in plan] == ["SCAN trade_events USING INDEX ix_trade_events_left_review"]
        else:  # an empty table is cheapest to scan: forbid that, and the index must still answer,
            # in the plan a long-lived prepared statement gets (made without the bound values)
            uow.conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            uow.conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            plan = uow.conn.exec_driver_sql(f"EXPLAIN {sql}", params).all()  # type: ignore[arg-type]
            assert "ix_trade_events_left_review" in "\n".join(row[0] for row in plan)
