"""The business profile every page's footer shows, read at most every few seconds per process."""

from __future__ import annotations

import time
from threading import Lock

from sqlalchemy.exc import SQLAlchemyError

from voucher_exchange.context import Context
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import BusinessProfile

# Another process's edit shows here within this many seconds; this process's own edit at once.
FRESH_SECONDS = 10.0
_lock = Lock()
_cached: dict[int, tuple[float, BusinessProfile]] = {}


def business_profile(ctx: Context, cached_only: bool = False) -> BusinessProfile | None:
    """The profile for a page (cached per context, so a page costs no query most of the time).

    While the database cannot be read (an error page may be what is being drawn), the last
    profile read is shown, or none at all: never the demo one in place of the real one.
    `cached_only`: the database is known to be away, so do not wait for it.
    """
    key = id(ctx)
    with _lock:
        hit = _cached.get(key)
    if hit is not None and (cached_only or time.monotonic() - hit[0] < FRESH_SECONDS):
        return hit[1]
    if cached_only:
        return None
    try:
        with ctx.uow(readonly=True) as uow:
            found = trust.profile(uow.conn)
    except SQLAlchemyError:
        return hit[1] if hit is not None else None
    with _lock:
        _cached[key] = (time.monotonic(), found)
    return found


def forget(ctx: Context) -> None:
    """Drop the cached profile (after the operator saved a new one)."""
    with _lock:
        _cached.pop(id(ctx), None)
