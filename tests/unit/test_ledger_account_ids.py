"""The ledger's account-id cache is bounded: each seller has accounts of their own, and a
process that kept every id it ever found grew with every seller who traded (issue 27's soak)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select

from tests.conftest import migrated_database_url
from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import ledger_accounts
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.ledger import repository as ledger
from voucher_exchange.ledger.models import seller_payable, treasury

pytestmark = pytest.mark.both_backends

KEPT = ledger.ACCOUNT_IDS_KEPT
SELLERS = KEPT + 10


@pytest.fixture
def engine(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Engine]:
    e = make_engine(migrated_database_url(request, backend, tmp_path, "vx_ledger_ids"))
    migrate.upgrade(e)
    yield e
    e.dispose()


def _key(n: int) -> tuple[str, str]:
    return (f"seller_payable:user-{n}", "KRW")


def _created(engine: Engine) -> list[int]:
    """Every seller's account, created (and so not cached) in one committed transaction."""
    with UnitOfWork(engine) as uow:
        ids = [ledger.account_id(uow.conn, seller_payable(f"user-{n}", "KRW")) for n in range(SELLERS)]
        uow.commit()
    return ids


def test_accounts_created_by_a_transaction_are_not_kept(engine: Engine) -> None:
    _created(engine)

    assert ledger.kept_account_ids(engine) == []


def test_it_keeps_the_most_recently_used_ids_and_no_more(engine: Engine) -> None:
    ids = _created(engine)

    with UnitOfWork(engine) as uow:
        found = [ledger.account_id(uow.conn, seller_payable(f"user-{n}", "KRW")) for n in range(SELLERS)]

    assert found == ids
    assert ledger.kept_account_ids(engine) == [_key(n) for n in range(10, SELLERS)]


def test_a_used_id_stays_and_a_forgotten_one_is_found_again(engine: Engine) -> None:
    ids = _created(engine)
    with UnitOfWork(engine) as uow:
        shared = ledger.account_id(uow.conn, treasury("KRW"))
        uow.commit()

    with UnitOfWork(engine) as uow:
        assert ledger.account_id(uow.conn, treasury("KRW")) == shared
        for n in range(SELLERS):
            ledger.account_id(uow.conn, seller_payable(f"user-{n}", "KRW"))
            if n % 1000 == 0:
                ledger.account_id(uow.conn, treasury("KRW"))  # in use all along, like the real one
        again = ledger.account_id(uow.conn, seller_payable("user-0", "KRW"))

    kept = ledger.kept_account_ids(engine)
    assert again == ids[0]
    assert len(kept) == KEPT
    assert ("treasury", "KRW") in kept
    assert kept[-1] == _key(0)
    assert _key(11) not in kept


def _statements(engine: Engine) -> tuple[list[str], Callable[[], None]]:
    sent: list[str] = []

    def capture(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        sent.append(sql)

    event.listen(engine, "before_cursor_execute", capture)
    return sent, lambda: event.remove(engine, "before_cursor_execute", capture)


def test_an_account_created_by_a_transaction_is_found_again_in_it_without_asking(engine: Engine) -> None:
    sent, stop = _statements(engine)
    try:
        with UnitOfWork(engine) as uow:
            first = ledger.account_id(uow.conn, seller_payable("user-new", "KRW"))
            asked = len(sent)
            again = ledger.account_id(uow.conn, seller_payable("user-new", "KRW"))
            assert (again, len(sent)) == (first, asked)
    finally:
        stop()
    with UnitOfWork(engine) as uow:  # rolled back: the next transaction creates it anew
        assert uow.conn.execute(select(ledger_accounts.c.id)).all() == []
        assert ledger.account_id(uow.conn, seller_payable("user-new", "KRW")) != 0
    assert ledger.kept_account_ids(engine) == []


def test_an_account_whose_savepoint_rolled_back_is_created_again(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        savepoint = uow.conn.begin_nested()
        lost = ledger.account_id(uow.conn, seller_payable("user-sp", "KRW"))
        savepoint.rollback()
        made = ledger.account_id(uow.conn, seller_payable("user-sp", "KRW"))
        stored = uow.conn.execute(select(ledger_accounts.c.id, ledger_accounts.c.code)).all()
        uow.commit()
    assert [tuple(row) for row in stored] == [(made, "seller_payable:user-sp")]
    assert made != lost or engine.dialect.name == "sqlite"  # SQLite may hand the same rowid out again
    assert ledger.kept_account_ids(engine) == []
