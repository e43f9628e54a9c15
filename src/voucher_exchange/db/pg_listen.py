"""A PostgreSQL LISTEN loop on its own connection and thread: jobs wake workers, trade changes
wake the pages following them in every API process."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from voucher_exchange import logs

log = logs.get(__name__)
RECONNECT_SECONDS = 1.0


def _conninfo(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def listen(
    database_url: str, channel: str, heard: Callable[[str | None], None], stop: threading.Event
) -> None:
    """Call `heard(payload)` for every notification on `channel` until `stop` is set, and
    `heard(None)` on each (re)connection (anything sent while nobody listened); reconnect on failure."""
    while not stop.is_set():
        try:
            with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
                conn.execute(f"LISTEN {channel}")
                heard(None)
                while not stop.is_set():
                    for note in conn.notifies(timeout=1.0, stop_after=1):
                        heard(note.payload)
        except psycopg.Error as exc:
            log.warning("listener_disconnected", channel=channel, error=type(exc).__name__)
            stop.wait(RECONNECT_SECONDS)


def start(
    database_url: str, channel: str, heard: Callable[[str | None], None], stop: threading.Event
) -> threading.Thread | None:
    """A daemon thread listening on `channel`, on PostgreSQL only (None elsewhere)."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return None
    thread = threading.Thread(
        target=listen, args=(database_url, channel, heard, stop), name=f"listen-{channel}", daemon=True
    )
    thread.start()
    return thread
