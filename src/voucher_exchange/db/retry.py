"""Which database errors mean "try the same transaction again", and which "the database is away"."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError, PendingRollbackError

T = TypeVar("T")
LOST_ATTEMPTS = 3

# PostgreSQL: serialization_failure, deadlock_detected. SQLite: a writer waited past busy_timeout.
_TRANSIENT_SQLSTATES = {"40001", "40P01"}
# PostgreSQL: connection_exception (class 08) and admin_shutdown, crash_shutdown,
# cannot_connect_now (57P01-57P03: the server is stopping, restarting or recovering).
_UNAVAILABLE_SQLSTATES = ("08", "57P")


class CommitOutcomeUnknown(Exception):
    """The connection was lost while COMMIT was under way: the work may or may not be stored.

    Running the work again is safe only where a replay is recognised (an Idempotency-Key
    whose response is stored in the same transaction, a job whose steps are conditional
    updates); elsewhere the caller must answer that it does not know.
    """


def is_transient(exc: BaseException) -> bool:
    """True for deadlocks, serialization failures and lock timeouts: safe to retry."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _TRANSIENT_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def is_unavailable(exc: BaseException) -> bool:
    """True when the database could not be reached, or the connection to it was lost.

    A restart, a failover, a network cut: the same request may succeed in a moment. Before
    COMMIT nothing was stored (the server rolls back a transaction whose connection died);
    at COMMIT the unit of work raises `CommitOutcomeUnknown` instead.
    """
    if isinstance(exc, CommitOutcomeUnknown | PendingRollbackError):
        # PendingRollbackError: a statement on a connection that was lost inside its transaction.
        return True
    if not isinstance(exc, DBAPIError):
        return False
    return exc.connection_invalidated or is_connection_failure(exc.orig)


def is_connection_failure(error: BaseException | None) -> bool:
    """True for a driver error saying the server cannot be reached or talked to right now."""
    if not isinstance(error, psycopg.OperationalError):
        return False
    # No SQLSTATE: the failure was on our side of the socket (refused, reset, closed).
    return error.sqlstate is None or error.sqlstate.startswith(_UNAVAILABLE_SQLSTATES)


def again_if_lost(step: Callable[[], T]) -> T:
    """Run `step` again (at most LOST_ATTEMPTS times in all) when its connection was lost before COMMIT.

    For a step of one unit of work, or whose earlier units only read or write the same value
    again: a connection lost before COMMIT stored nothing of the failing unit. A loss during
    COMMIT (`CommitOutcomeUnknown`) is raised, never retried here.
    """
    for attempt in range(1, LOST_ATTEMPTS + 1):
        try:
            return step()
        except (DBAPIError, PendingRollbackError) as exc:
            if not is_unavailable(exc) or attempt == LOST_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
