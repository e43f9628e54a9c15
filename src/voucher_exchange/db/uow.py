"""The unit of work: one transaction per request or job, committed in one place."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from voucher_exchange.db import changes
from voucher_exchange.db.retry import CommitOutcomeUnknown, is_unavailable


class UnitOfWork:
    """Opens a transaction; services write through `conn`; only the caller commits.

    Callbacks registered with `after_commit` run once the commit succeeded (e.g. to
    wake a worker) and never when it rolled back.
    """

    def __init__(self, engine: Engine, readonly: bool = False) -> None:
        self._engine = engine
        self._readonly = readonly
        self._conn: Connection | None = None
        self._after_commit: list[Callable[[], None]] = []
        self._committed = False

    @property
    def conn(self) -> Connection:
        """The open connection; valid only inside `with`."""
        if self._conn is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._conn

    def __enter__(self) -> UnitOfWork:
        conn = self._engine.connect()
        if self._readonly:
            conn = conn.execution_options(vx_readonly=True)
        self._conn = conn
        conn.begin()
        return self

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` after a successful commit."""
        self._after_commit.append(callback)

    def commit(self) -> None:
        """Commit the transaction, then run after-commit callbacks.

        Raises `CommitOutcomeUnknown` when the connection was lost during COMMIT: the
        transaction may have been stored or not, and only the caller knows whether running
        the work again is safe (db/retry.py).
        """
        try:
            changes.publish(self.conn)
            self.conn.commit()
        except DBAPIError as exc:
            if self._readonly or not is_unavailable(exc):
                raise
            raise CommitOutcomeUnknown("the connection was lost during COMMIT") from exc
        self._committed = True
        changes.committed(self.conn)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
            # After the rollback: a connection lost mid-transaction answers nothing before it.
            changes.discard(self._conn)
        finally:
            self._conn.close()
            self._conn = None
