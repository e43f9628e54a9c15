"""One sanctions matcher per process and database, rebuilt only when a newer list has been loaded."""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import Connection
from sqlalchemy.pool import Pool

from voucher_exchange.risk.sanctions import SanctionsScreen
from voucher_exchange.risk.sanctions_list import current_list_id


class SanctionsCache:
    """Thread-safe holder of the current SanctionsScreen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._screen: SanctionsScreen | None = None

    def current(self, conn: Connection, newest: int | None = None) -> SanctionsScreen:
        """The matcher over the newest loaded list (a cheap id check per call, unless the
        caller read the newest list's id itself: `newest`)."""
        if newest is None:
            newest = current_list_id(conn)
        with self._lock:
            if self._screen is None or self._screen.list_id != newest:
                self._screen = SanctionsScreen.from_db(conn)
            return self._screen


_CACHES: weakref.WeakKeyDictionary[Pool, SanctionsCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def for_database(conn: Connection) -> SanctionsCache:
    """The cache of the database `conn` talks to (one per connection pool, so per engine).

    Risk owns it: the matcher is an in-process memo of risk's own tables, not an adapter, so
    no context carries it. Keyed by the pool, two databases in one process (tests) never share.
    """
    pool = conn.engine.pool
    with _CACHES_LOCK:
        cache = _CACHES.get(pool)
        if cache is None:
            cache = _CACHES[pool] = SanctionsCache()
        return cache
