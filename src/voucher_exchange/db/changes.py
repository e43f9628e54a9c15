"""Which records a transaction changed, told to in-process listeners once it has committed.

A use case marks what it changed on its connection (`mark(conn, key)`); the unit of work
calls `committed(conn)` after a successful COMMIT (and `discard(conn)` otherwise), which
hands the keys to every listener in this process. The web trade page's live timeline
listens for trade ids (web/live.py); other processes do not hear of it, so listeners must
still look for themselves now and then.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy import Connection

_KEY = "vx_changed"
_listeners: list[Callable[[frozenset[str]], None]] = []
_lock = threading.Lock()


def mark(conn: Connection, key: str) -> None:
    """Note that this transaction changed `key` (a trade id)."""
    conn.info.setdefault(_KEY, set()).add(key)


def committed(conn: Connection) -> None:
    """The transaction committed: tell every listener what it changed."""
    keys = conn.info.pop(_KEY, None)
    if not keys:
        return
    with _lock:
        listeners = list(_listeners)
    changed = frozenset(keys)
    for listener in listeners:
        listener(changed)


def discard(conn: Connection) -> None:
    """The transaction ended without a commit: forget its marks (the DBAPI connection is reused;
    a connection lost on the way is thrown away with its marks, and answers nothing)."""
    if not conn.invalidated:
        conn.info.pop(_KEY, None)


def listen(listener: Callable[[frozenset[str]], None]) -> Callable[[], None]:
    """Call `listener` with the keys of every committed transaction; returns how to stop."""
    with _lock:
        _listeners.append(listener)

    def stop() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return stop
