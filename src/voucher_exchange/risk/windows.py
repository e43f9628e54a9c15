"""Windowed risk counts, kept as trades arrive instead of scanned at each decision.

Each submitted trade adds, in its own transaction, one to its brand's and device's counter
for the minute it was created (`risk_counts`), and stamps its seller's newest trade on its
device, IP and bank account (`risk_links`). A decision then reads, for any window:

- trades of a brand or device: the counters of the whole minutes inside the window, plus an
  indexed scan of `trades` over the one partial minute at the window's start: exact, and at
  most a minute of rows is read however hot the brand;
- distinct sellers on a device, IP or account: the links whose newest trade is in the window
  (a seller traded there in the window iff their newest trade there is in it): exact.

Rows older than KEEP go in a recurring job (`prune`); every window read is at most 30 days.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import Connection, TextClause, bindparam, delete, func, select, text, tuple_

from voucher_exchange.db.schema import risk_counts, risk_links, trades
from voucher_exchange.db.types import UTCDateTime

SHARDS = 8
KEEP = timedelta(days=31)
"""How long counters and links are kept: longer than the longest window (30 days)."""
PRUNE_CHUNK = 5_000
MINUTE = timedelta(minutes=1)


class CountKind(StrEnum):
    """What a `risk_counts` row counts the trades of."""

    DEVICE = "device"
    """One device (X-Device-Id)."""
    BRAND = "brand"
    """One brand."""


class LinkKind(StrEnum):
    """What a `risk_links` row ties a seller to."""

    DEVICE = "device"
    """A device (X-Device-Id)."""
    IP = "ip"
    """A client IP address."""
    ACCOUNT = "account"
    """A bank account's keyed fingerprint."""


@dataclass(frozen=True)
class Sighting:
    """What the windows keep of one new trade."""

    trade_id: str
    user_id: str
    brand_slug: str
    device_id: str | None
    client_ip: str | None
    account_fingerprint: str | None
    created_at: datetime


def shard_of(trade_id: str) -> int:
    """Which of the SHARDS counter rows of a minute this trade adds to (stable per id)."""
    return zlib.crc32(trade_id.encode()) % SHARDS


def minute_of(at: datetime) -> datetime:
    """The counter bucket: `at` floored to the minute."""
    return at.replace(second=0, microsecond=0)


# One statement per table for any trade, built once per shape (which keys the trade has) and
# cached with its compiled form: a trade without a device or IP writes fewer rows, never more
# statements. Both SQLite and PostgreSQL take INSERT … ON CONFLICT … DO UPDATE; the later
# last_seen is a CASE, which both spell the same (SQLite's max() is not PostgreSQL's greatest()).
@cache
def _counts_sql(kinds: tuple[CountKind, ...]) -> TextClause:
    rows = ", ".join(f"('{kind.value}', :{kind.value}, :bucket, :shard, 1)" for kind in kinds)
    return text(
        f"INSERT INTO risk_counts (kind, key, bucket, shard, n) VALUES {rows}"  # noqa: S608  # constants only
        " ON CONFLICT (kind, key, bucket, shard) DO UPDATE SET n = risk_counts.n + 1"
    ).bindparams(bindparam("bucket", type_=UTCDateTime()))


@cache
def _links_sql(kinds: tuple[LinkKind, ...]) -> TextClause:
    rows = ", ".join(f"('{kind.value}', :{kind.value}, :user_id, :at)" for kind in kinds)
    return text(
        f"INSERT INTO risk_links (kind, key, user_id, last_seen) VALUES {rows}"  # noqa: S608  # constants only
        " ON CONFLICT (kind, key, user_id) DO UPDATE SET last_seen = CASE"
        " WHEN excluded.last_seen > risk_links.last_seen THEN excluded.last_seen"
        " ELSE risk_links.last_seen END"
    ).bindparams(bindparam("at", type_=UTCDateTime()))


def record(conn: Connection, trade: Sighting) -> None:
    """Count a new trade in the windows: two statements, in the caller's (submission) transaction."""
    counted = {CountKind.BRAND: trade.brand_slug, CountKind.DEVICE: trade.device_id}
    counts = {kind: key for kind, key in counted.items() if key}
    count_params: dict[str, Any] = {kind.value: key for kind, key in counts.items()}
    count_params |= {"bucket": minute_of(trade.created_at), "shard": shard_of(trade.trade_id)}
    conn.execute(_counts_sql(tuple(counts)), count_params)
    linked = {
        LinkKind.DEVICE: trade.device_id,
        LinkKind.IP: trade.client_ip,
        LinkKind.ACCOUNT: trade.account_fingerprint,
    }
    links = {kind: key for kind, key in linked.items() if key}
    if links:
        link_params: dict[str, Any] = {kind.value: key for kind, key in links.items()}
        link_params |= {"user_id": trade.user_id, "at": trade.created_at}
        conn.execute(_links_sql(tuple(links)), link_params)


def edge(since: datetime, own_created_at: datetime) -> tuple[datetime, int]:
    """For `trades_since`: the end of the minute `since` falls inside of, and whether the
    decided trade (created at `own_created_at`) is in the window (1) or not (0)."""
    edge_end = since if minute_of(since) == since else minute_of(since) + MINUTE
    return edge_end, 1 if own_created_at >= since else 0


def trades_since(kind: CountKind, key: Any, since: Any, edge_end: Any, itself: Any) -> Any:
    """A scalar query: trades of `key` created at or after `since`, but for the trade being decided.

    Counters hold whole minutes; the minute `since` falls inside of is read from `trades`
    (indexed by (brand_slug | device_id, created_at)) from `since` to that minute's end
    (`edge_end`). The decided trade is in the windows since its submission: `itself` (from
    `edge`) takes it off when it is in the window, also when created after `now` (a clock
    ahead), not when the decision comes more than the window after it (a retry a day later).
    The arguments may be values or bind parameters (features.py builds its SELECT once).
    """
    c, t = risk_counts.c, trades.c
    column = t.brand_slug if kind is CountKind.BRAND else t.device_id
    whole = select(func.coalesce(func.sum(c.n), 0)).where(
        (c.kind == kind.value) & (c.key == key) & (c.bucket >= edge_end)
    )
    counted = select(func.count()).where(
        (column == key) & (t.created_at >= since) & (t.created_at < edge_end)
    )
    return select(whole.scalar_subquery() + counted.scalar_subquery() - itself)


def sellers_since(kind: LinkKind, key: str, since: datetime) -> Any:
    """A scalar query: distinct sellers with a trade on `key` created at or after `since`."""
    return select(func.count()).where(_linked(kind, key, since))


def linked_sellers(kind: LinkKind, key: str, since: datetime) -> Any:
    """The ids of the sellers with a trade on `key` created at or after `since` (to combine)."""
    return select(risk_links.c.user_id).where(_linked(kind, key, since))


def _linked(kind: LinkKind, key: str, since: datetime) -> Any:
    link = risk_links.c
    return (link.kind == kind.value) & (link.key == key) & (link.last_seen >= since)


def prune(conn: Connection, now: datetime) -> int:
    """Delete one chunk (at most PRUNE_CHUNK rows of each table) older than KEEP; rows deleted."""
    cutoff = now - KEEP
    c, link = risk_counts.c, risk_links.c
    old_counts = select(c.kind, c.key, c.bucket, c.shard).where(c.bucket < cutoff).limit(PRUNE_CHUNK)
    old_links = select(link.kind, link.key, link.user_id).where(link.last_seen < cutoff).limit(PRUNE_CHUNK)
    deleted = conn.execute(
        delete(risk_counts).where(tuple_(c.kind, c.key, c.bucket, c.shard).in_(old_counts))
    ).rowcount
    deleted += conn.execute(
        delete(risk_links).where(tuple_(link.kind, link.key, link.user_id).in_(old_links))
    ).rowcount
    return int(deleted or 0)
