"""Brands with their current rates, kept per process and per database, never trusted alone.

Loading a brand is a join over its rate versions plus JSON parsing, on every quote.
Each process keeps the last brand it loaded with the stamp it was loaded at (the
row's `updated_at` and the rate version). A quote priced from a cached brand is
stored by one `INSERT … SELECT` that inserts only if the brand row still carries
that stamp, is still active and has no newer rate version (quotes/repository.py):
the check is the same statement as the write, so staleness is bounded by nothing
but the database's own snapshot. A suspension or rate change committed before the
quote's statement starts is always seen, by every process, on either database.
When the check fails the caller reloads (`load`), which refreshes the cache.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine

from voucher_exchange.catalog import repository
from voucher_exchange.catalog.models import Brand


@dataclass(frozen=True)
class Stamped:
    """A brand as loaded, with the stamp a quote's insert checks it against."""

    brand: Brand
    updated_at: datetime


_lock = threading.Lock()
_by_engine: weakref.WeakKeyDictionary[Engine, dict[str, Stamped]] = weakref.WeakKeyDictionary()


def cached(conn: Connection, slug: str) -> Stamped | None:
    """The brand as this process last loaded it from this database; may be stale."""
    with _lock:
        return _by_engine.get(conn.engine, {}).get(slug)


def load(conn: Connection, slug: str) -> Stamped | None:
    """The brand as the database has it now (None if unknown); remembered for later quotes."""
    found = repository.get_brand_stamped(conn, slug)
    if found is None:
        return None
    fresh = Stamped(*found)
    with _lock:
        _by_engine.setdefault(conn.engine, {})[slug] = fresh
    return fresh
