"""Wake workers the moment a job is enqueued: PostgreSQL LISTEN/NOTIFY (SQLite workers poll)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from voucher_exchange import logs
from voucher_exchange.jobs.queue import CHANNEL

log = logs.get(__name__)
RECONNECT_SECONDS = 1.0


def _conninfo(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def listen(database_url: str, wake: Callable[[], None], stop: threading.Event) -> None:
    """Call `wake` on every job notification until `stop` is set; reconnect on failure."""
    while not stop.is_set():
        try:
            with psycopg.connect(_conninfo(database_url), autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                wake()  # anything enqueued while we were not listening
                while not stop.is_set():
                    for _ in conn.notifies(timeout=1.0, stop_after=1):
                        wake()
        except psycopg.Error as exc:
            log.warning("job_listener_disconnected", error=type(exc).__name__)
            stop.wait(RECONNECT_SECONDS)


def start_listener(
    database_url: str, wake: Callable[[], None], stop: threading.Event
) -> threading.Thread | None:
    """A daemon thread listening for jobs, on PostgreSQL only."""
    if make_url(database_url).get_backend_name() != "postgresql":
        return None
    thread = threading.Thread(
        target=listen, args=(database_url, wake, stop), name="job-listener", daemon=True
    )
    thread.start()
    return thread
