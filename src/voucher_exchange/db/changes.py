"""Which records a transaction changed, told to listeners once it has committed.

A use case marks what it changed on its connection (`mark(conn, key)`); the unit of work
calls `committed(conn)` after a successful COMMIT (and `discard(conn)` otherwise), which
hands the keys to every listener in this process. The web trade page's live timeline
listens for trade ids (web/live.py).

On PostgreSQL the other processes hear of it too: just before COMMIT the unit of work calls
`publish(conn)`, one `pg_notify` on CHANNEL with the keys (delivered only if the transaction
commits), and each API process runs `start_feed`, a LISTEN thread that hands what it hears
to the same listeners. A statement that notified for its key itself (`notify_sql`: a trade's
status change, `RETURNING …, pg_notify(…)`) marks it `told`, and `publish` leaves it out.
On SQLite, other processes are not told: listeners still look for themselves now and then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, text

from voucher_exchange.db import pg_listen

_KEY = "vx_changed"
CHANNEL = "vx_changes"
# A NOTIFY payload holds under 8000 bytes: keys (trade ids, 36 characters) go 150 at a time.
_KEYS_PER_NOTIFY = 150
_TOLD = "vx_changed_told"
_NOTIFY = text("SELECT pg_notify('vx_changes', :keys)")
_listeners: list[Callable[[frozenset[str]], None]] = []
_lock = threading.Lock()


def mark(conn: Connection, key: str, *, told: bool = False) -> None:
    """Note that this transaction changed `key` (a trade id). `told`: the statement that changed
    it sent its own NOTIFY (`notify_sql`), so `publish` need not."""
    conn.info.setdefault(_KEY, set()).add(key)
    if told:
        conn.info.setdefault(_TOLD, set()).add(key)


def notify_sql(key: ColumnElement[Any]) -> ColumnElement[Any]:
    """PostgreSQL: `pg_notify(CHANNEL, key)`, for a statement to notify for the row it changed
    (in its RETURNING: sent only for a row changed, and only if the transaction commits)."""
    return func.pg_notify(CHANNEL, key)


def publish(conn: Connection) -> None:
    """PostgreSQL, before COMMIT: tell every process's feed what this transaction changed (less
    what its statements told already)."""
    keys = conn.info.get(_KEY)
    if not keys or conn.dialect.name != "postgresql":
        return
    ordered = sorted(keys - conn.info.get(_TOLD, set()))
    for start in range(0, len(ordered), _KEYS_PER_NOTIFY):
        conn.execute(_NOTIFY, {"keys": ",".join(ordered[start : start + _KEYS_PER_NOTIFY])})


def committed(conn: Connection) -> None:
    """The transaction committed: tell every listener in this process what it changed."""
    keys = conn.info.pop(_KEY, None)
    conn.info.pop(_TOLD, None)
    if keys:
        _tell(frozenset(keys))


def _tell(changed: frozenset[str]) -> None:
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        listener(changed)


def start_feed(database_url: str, stop: threading.Event) -> threading.Thread | None:
    """PostgreSQL: hear what other processes' transactions changed (until `stop`); None elsewhere."""

    def heard(payload: str | None) -> None:
        if payload:
            _tell(frozenset(payload.split(",")))

    return pg_listen.start(database_url, CHANNEL, heard, stop)


def discard(conn: Connection) -> None:
    """The transaction ended without a commit: forget its marks (the DBAPI connection is reused;
    a connection lost on the way is thrown away with its marks, and answers nothing)."""
    if not conn.invalidated:
        conn.info.pop(_KEY, None)
        conn.info.pop(_TOLD, None)


def listen(listener: Callable[[frozenset[str]], None]) -> Callable[[], None]:
    """Call `listener` with the keys of every committed transaction; returns how to stop."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return stop
