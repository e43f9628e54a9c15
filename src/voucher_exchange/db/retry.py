"""Which database errors mean "try the same transaction again"."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# PostgreSQL: serialization_failure, deadlock_detected. SQLite: a writer waited past busy_timeout.
_TRANSIENT_SQLSTATES = {"40001", "40P01"}


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
