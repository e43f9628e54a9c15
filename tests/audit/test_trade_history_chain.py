"""Trade histories are hash-chained per trade: `audit verify` names an edited, deleted or reordered event."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, delete, event, insert, select, update

from tests.conftest import BACKENDS, database_url
from tests.support.core import Core
from voucher_exchange.audit.chain import GENESIS, canonical, link
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import payout_destinations, quotes, trade_events, trades, users
from voucher_exchange.trades import lifecycle, pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus

pytestmark = pytest.mark.both_backends


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


def _history(core: Core, trade_id: str) -> list[tuple[str | None, str]]:
    with core.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(trade_events.c.from_status, trade_events.c.to_status)
            .where(trade_events.c.trade_id == trade_id)
            .order_by(trade_events.c.id)
        )
        return [(r.from_status, r.to_status) for r in rows]


def test_a_wrong_guess_of_the_newest_event_still_links_to_the_real_one(core: Core) -> None:
    # A worker writes the next event in one statement when it wrote the last one itself
    # (trade_repo's memo). Another process may have written since, or the transaction that
    # wrote it may have rolled back: the guess is then refused and the real head is read.
    trade_id, _ = _paid_trade(core)
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:  # rolled back: the memo now holds a head that never was
        trade_repo.add_event(uow.conn, trade_id, TradeStatus.PAID, TradeStatus.PAID, now, "test", "lost")
        assert trade_repo._guess_head(uow.conn, trade_id) is not None
    with core.ctx.engine.connect() as conn:  # or one overtaken by another process
        trade_repo._remember_head(conn, trade_id, "0" * 64)
    with core.ctx.uow() as uow:
        trade_repo.add_event(uow.conn, trade_id, TradeStatus.PAID, TradeStatus.PAID, now, "test", "kept")
        uow.commit()
    statements: list[str] = []
    with core.ctx.uow() as uow:  # the memo is right now: one statement, linked the same way
        event.listen(uow.conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        trade_repo.add_event(uow.conn, trade_id, TradeStatus.PAID, TradeStatus.PAID, now, "test", "also kept")
        uow.commit()
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO trade_events")
    with core.ctx.uow(readonly=True) as uow:
        check = trade_service.verify_histories(uow.conn)
        notes = list(
            uow.conn.execute(
                select(trade_events.c.note)
                .where(trade_events.c.trade_id == trade_id)
                .order_by(trade_events.c.id)
            ).scalars()
        )
    assert (check.trades, check.events, check.findings) == (1, 9, [])
    assert notes[-2:] == ["kept", "also kept"] and "lost" not in notes
    assert _history(core, trade_id)[-2:] == [("paid", "paid"), ("paid", "paid")]


# Histories written before migration 0012, which chained them: (trade, status, events).
OLD_HISTORIES = [
    (
        "t-old-1",
        "paid",
        [(None, "submitted", None), ("submitted", "credited", "자동 승인"), ("credited", "paid", None)],
    ),
    ("t-old-2", "rejected", [(None, "submitted", None), ("submitted", "rejected", "duplicate voucher")]),
]


def _old_trade(conn: Connection, trade_id: str, status: str, at: datetime) -> None:
    """A trade as revision 0011 stored it (only the columns that existed then)."""
    user = f"u-{trade_id}"
    conn.execute(insert(users).values(id=user, email=f"{user}@example.com", password_hash="x", created_at=at))
    conn.execute(
        insert(payout_destinations).values(
            id=f"d-{trade_id}", user_id=user, kind="bank_account", bank_code="004", account_number_enc=b"\0",
            account_fingerprint="fp", account_last4="0000", holder_name="x", status="verified", created_at=at,
        )
    )  # fmt: skip
    conn.execute(
        insert(quotes).values(
            id=f"q-{trade_id}", user_id=user, brand_slug="cultureland", currency="KRW", face_value=10000,
            rate_version=1, rate_bps=9000, fee=1000, payout=9000, created_at=at, expires_at=at,
            trade_id=trade_id,
        )
    )  # fmt: skip
    conn.execute(
        insert(trades).values(
            id=trade_id, user_id=user, quote_id=f"q-{trade_id}", brand_slug="cultureland", currency="KRW",
            face_value=10000, rate_bps=9000, fee=1000, payout=9000, status=status, voucher_enc=b"\0",
            voucher_fingerprint=f"v-{trade_id}", voucher_last4="0000", acquisition_method="gift",
            acquired_on=date(2026, 11, 1), payout_destination_id=f"d-{trade_id}", created_at=at,
            updated_at=at,
        )
    )  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_migration_chains_existing_histories(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(database_url(request, backend, tmp_path, "vx_history_backfill"))
    start = datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC)
    config = migrate._config()  # stop at the revision before the chains
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0011")
        catalog_service.import_catalog(conn, catalog_service.default_catalog(), start, "test")
        for n, (trade_id, status, history) in enumerate(OLD_HISTORIES):
            _old_trade(conn, trade_id, status, start)
            for i, (before, after, note) in enumerate(history):
                at = start + timedelta(minutes=n, seconds=i)
                conn.execute(
                    insert(trade_events).values(
                        trade_id=trade_id,
                        at=at,
                        from_status=before,
                        to_status=after,
                        actor="worker",
                        note=note,
                    )
                )

    migrate.upgrade(engine)

    with engine.connect() as conn:
        check = trade_service.verify_histories(conn)
        first = conn.execute(select(trade_events).order_by(trade_events.c.id).limit(1)).one()
    engine.dispose()
    assert (check.trades, check.events, check.findings) == (2, 5, [])
    content = canonical("worker", "->submitted", "t-old-1", {"note": None}, start)
    assert (first.prev_hash, first.hash) == (GENESIS, link(GENESIS, content))


def test_a_status_change_writes_its_event_in_the_same_statement_and_a_stale_guess_still_links(
    core: Core,
) -> None:
    # PostgreSQL: the UPDATE and the event's INSERT are one data-modifying CTE that checks the
    # guessed head; SQLite: two statements. A guess that is wrong still moves the trade once
    # and links the event to the real head.
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    now = core.ctx.clock.now()
    with core.ctx.engine.connect() as conn:  # a head overtaken by another process
        trade_repo._remember_head(conn, trade_id, "0" * 64)
    with core.ctx.uow() as uow:
        lifecycle.start_screening(uow.conn, trade_id, now)
        uow.commit()
    statements: list[str] = []
    with core.ctx.uow() as uow:  # the memo is right now
        event.listen(uow.conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        lifecycle.start_verifying(uow.conn, trade_id, now)
        writes = [s.split(None, 1)[0] for s in statements]  # before COMMIT's change feed
        uow.commit()
    if core.ctx.engine.dialect.name == "postgresql":
        assert writes == ["WITH"]
    else:
        assert writes == ["UPDATE", "INSERT"]
    with core.ctx.uow(readonly=True) as uow:
        check = trade_service.verify_histories(uow.conn)
        status = uow.conn.execute(select(trades.c.status).where(trades.c.id == trade_id)).scalar_one()
    assert (check.trades, check.events, check.findings) == (1, 3, [])
    assert status == "verifying"
    assert _history(core, trade_id) == [
        (None, "received"),
        ("received", "screening"),
        ("screening", "verifying"),
    ]


@pytest.mark.parametrize("guess", ["right", "stale"])
def test_a_change_through_a_passing_status_writes_both_events_linked(core: Core, guess: str) -> None:
    # `received → screening → verifying` in one change (screened in the transaction that moves it
    # on): both events, in order and linked; one statement on PostgreSQL when the guess is right.
    user, destination, _ = core.seller()
    trade_id = core.submit(user, destination)
    now = core.ctx.clock.now()
    if guess == "stale":
        with core.ctx.engine.connect() as conn:
            trade_repo._remember_head(conn, trade_id, "0" * 64)
    statements: list[str] = []
    with core.ctx.uow() as uow:
        event.listen(uow.conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        lifecycle.start_verifying(uow.conn, trade_id, now, current=TradeStatus.RECEIVED)
        writes = [s.split(None, 1)[0] for s in statements]
        uow.commit()
    move = ["WITH"] if core.ctx.engine.dialect.name == "postgresql" else ["UPDATE", "INSERT", "INSERT"]
    if guess == "stale":  # moved; the guessed link refused, the head read, both events linked to it
        move = [move[0], "INSERT", "SELECT", "INSERT", "INSERT"]
    assert writes == move
    with core.ctx.uow(readonly=True) as uow:
        check = trade_service.verify_histories(uow.conn)
    assert (check.trades, check.events, check.findings) == (1, 3, [])
    assert _history(core, trade_id) == [
        (None, "received"),
        ("received", "screening"),
        ("screening", "verifying"),
    ]
