"""Wake workers the moment a job is enqueued: PostgreSQL LISTEN/NOTIFY (SQLite workers poll)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from voucher_exchange.db import pg_listen
from voucher_exchange.jobs.queue import CHANNEL


def start_listener(
    database_url: str, wake: Callable[[], None], stop: threading.Event
) -> threading.Thread | None:
    """A daemon thread that wakes workers on every job notification, on PostgreSQL only."""
    return pg_listen.start(database_url, CHANNEL, lambda _: wake(), stop)
