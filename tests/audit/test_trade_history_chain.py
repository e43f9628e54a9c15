"""Trade histories are hash-chained per trade: `audit verify` names an edited, deleted or reordered event."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from tests.support.core import Core
from voucher_exchange.db.schema import trade_events
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import service as trade_service


def _paid_trade(core: Core) -> tuple[str, list[int]]:
    core.fund(1_000_000, "seed")
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    pipeline.process_trade(core.ctx, trade_id)
    with core.ctx.uow(readonly=True) as uow:
        ids = list(
            uow.conn.execute(
                select(trade_events.c.id)
                .where(trade_events.c.trade_id == trade_id)
                .order_by(trade_events.c.id)
            ).scalars()
        )
    return trade_id, ids


def _findings(core: Core) -> list[str]:
    with core.ctx.uow(readonly=True) as uow:
        return trade_service.verify_histories(uow.conn).findings


def _tamper(core: Core, statement: object) -> None:
    with core.ctx.uow() as uow:
        uow.conn.execute(statement)  # type: ignore[call-overload]
        uow.commit()


def test_an_intact_history_verifies(core: Core) -> None:
    _paid_trade(core)
    with core.ctx.uow(readonly=True) as uow:
        check = trade_service.verify_histories(uow.conn)
    assert (check.trades, check.events, check.findings) == (1, 7, [])


def test_an_edited_event_is_named(core: Core) -> None:
    trade_id, ids = _paid_trade(core)
    _tamper(core, update(trade_events).where(trade_events.c.id == ids[3]).values(actor="someone-else"))
    assert _findings(core) == [f"trade {trade_id}: edited: event {ids[3]} was changed after it was written"]


def test_a_deleted_event_is_named(core: Core) -> None:
    trade_id, ids = _paid_trade(core)
    _tamper(core, delete(trade_events).where(trade_events.c.id == ids[2]))
    found = _findings(core)
    assert len(found) == 1 and found[0].startswith(f"trade {trade_id}: deleted: event {ids[2]}")


def test_the_newest_events_deleted_are_caught_by_the_trades_status(core: Core) -> None:
    trade_id, ids = _paid_trade(core)
    _tamper(core, delete(trade_events).where(trade_events.c.id == ids[-1]))
    assert _findings(core) == [f"trade {trade_id}: truncated: its history ends before its status (paid)"]


def test_a_reordered_pair_is_named(core: Core) -> None:
    trade_id, ids = _paid_trade(core)
    with core.ctx.uow(readonly=True) as uow:
        rows = {
            r.id: r
            for r in uow.conn.execute(select(trade_events).where(trade_events.c.id.in_([ids[2], ids[3]])))
        }
    columns = ("at", "from_status", "to_status", "actor", "note", "prev_hash", "hash")
    with core.ctx.uow() as uow:
        for mine, theirs in ((ids[2], ids[3]), (ids[3], ids[2])):
            values = {c: getattr(rows[theirs], c) for c in columns}
            uow.conn.execute(update(trade_events).where(trade_events.c.id == mine).values(**values))
        uow.commit()
    found = _findings(core)
    assert any(f.startswith(f"trade {trade_id}: reordered:") for f in found), found
