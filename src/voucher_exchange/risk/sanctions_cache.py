"""One sanctions matcher per process, rebuilt only when a newer list has been loaded."""

from __future__ import annotations

import threading

from sqlalchemy import Connection

from voucher_exchange.risk.sanctions import SanctionsMatch, SanctionsScreen, current_list_id


class SanctionsCache:
    """Thread-safe holder of the current SanctionsScreen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._screen: SanctionsScreen | None = None

    def screen(self, conn: Connection, name: str) -> SanctionsMatch:
        """Screen `name` against the newest loaded list (a cheap id check per call)."""
        newest = current_list_id(conn)
        with self._lock:
            if self._screen is None or self._screen.list_id != newest:
                self._screen = SanctionsScreen.from_db(conn)
            current = self._screen
        return current.screen(name)
