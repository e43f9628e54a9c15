"""Risk features, computed from the database as of decision time and stored with the decision.

Every query is an indexed range scan ((column, created_at) indexes on trades), so one
decision stays in single-digit milliseconds with millions of stored trades. The windows over
every seller (a brand's or device's trades, the sellers sharing a device, IP or bank account)
read the counters and links kept as trades arrive (risk/windows.py), not the trades: a hot
brand would otherwise scan every trade of its last hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Select,
    bindparam,
    distinct,
    func,
    literal,
    select,
    true,
    union,
)

from voucher_exchange.db.schema import (
    brands,
    payout_destinations,
    sanctions_freezes,
    sanctions_lists,
    sanctions_screenings,
    seller_flags,
    trades,
    users,
)
from voucher_exchange.ports.issuer import VoucherStatus
from voucher_exchange.risk import repository
from voucher_exchange.risk.models import RiskSubject
from voucher_exchange.risk.sanctions_standing import Subject
from voucher_exchange.risk.screening import RISK_PACKS, period_starts
from voucher_exchange.risk.windows import (
    CountKind,
    LinkKind,
    edge,
    linked_sellers,
    sellers_since,
    trades_since,
)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MONTH = timedelta(days=30)
FRESH = timedelta(hours=24)
FRESH_HISTORY = 200
_COMPARABLE_CHANNELS = {"card", "bank_transfer", "promotion"}


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


@dataclass(frozen=True)
class Computed:
    """The features, and what else the same statement read for the caller.

    `brand_status`: the brand's status now (the pipeline refuses a trade of a brand suspended
    while it was being verified). `sanctions_stale`: a sanctions list newer than the one the
    seller was last screened against is loaded, so the seller's strength is out of date.
    `rulesets`: which rule sets decide (their rules are read only for a version not parsed yet).
    """

    features: dict[str, Any]
    brand_status: str
    sanctions_stale: bool
    rulesets: list[tuple[str, str]]
    """The live and shadow rule sets' (version, status), oldest first (`repository.roster_column`)."""


def compute(
    conn: Connection,
    trade: RiskSubject,
    answer: VoucherStatus,
    now: datetime,
    jurisdiction: str,
) -> Computed:
    """All features for one trade, given the issuer's answer.

    One round trip: every count, sum, the seller's, destination's and brand's facts in one SELECT
    (the seller's own windows one FILTERed scan, the provenance of their recent vouchers
    another, every other window its own index range scan).
    """
    pack = RISK_PACKS[jurisdiction]
    day_start, month_start = period_starts(now, jurisdiction)
    brand_edge, brand_itself = edge(now - HOUR, trade.created_at)
    device_edge, device_itself = edge(now - DAY, trade.created_at)
    params = {
        "trade_id": trade.id,
        "user_id": trade.user_id,
        "destination_id": trade.payout_destination_id,
        "brand": trade.brand_slug,
        "device": trade.device_id,
        "ip": trade.client_ip,
        "account": trade.account_fingerprint,
        "hour_ago": now - HOUR,
        "day_ago": now - DAY,
        "month_ago": now - MONTH,
        "day_start": day_start,
        "month_start": month_start,
        "window_start": min(now - MONTH, month_start),
        "brand_edge": brand_edge,
        "brand_itself": brand_itself,
        "device_edge": device_edge,
        "device_itself": device_itself,
    }
    shape = (bool(trade.device_id), bool(trade.client_ip), bool(trade.account_fingerprint))
    postgresql = conn.dialect.name == "postgresql"
    statement = _statement(*shape, trade.counted_statuses, trade.paid_status, postgresql)
    row = conn.execute(statement, params).one()
    if row.seller_created_at is None or row.destination_created_at is None or row.brand_status is None:
        raise LookupError(f"trade {trade.id}: its seller, payout destination or brand is missing")
    prior_paid = int(row.prior_paid)
    features: dict[str, Any] = {
        "face_value": trade.face_value,
        "high_value": trade.face_value >= pack.high_value,
        "scam_favoured": bool(row.brand_scam_favoured),
        "seller_trades_1h": int(row.seller_trades_1h),
        "seller_trades_24h": int(row.seller_trades_24h),
        "seller_trades_30d": int(row.seller_trades_30d),
        "prior_paid_trades": prior_paid,
        "first_trade": prior_paid == 0,
        "account_age_hours": _hours(now - row.seller_created_at),
        "destination_age_hours": _hours(now - row.destination_created_at),
    }
    features["amount_today"] = int(row.amount_today) + trade.face_value
    features["amount_month"] = int(row.amount_month) + trade.face_value
    features["over_daily_cumulative"] = features["amount_today"] > pack.cumulative_daily_review
    features["device_trades_24h"] = int(row.device_trades_24h) if trade.device_id else 0
    features["device_sellers_24h"] = int(row.device_sellers_24h) if trade.device_id else 1
    features["ip_sellers_24h"] = int(row.ip_sellers_24h) if trade.client_ip else 1
    features["account_sellers_30d"] = int(row.account_sellers_30d)
    features["seller_accounts_30d"] = int(row.seller_accounts_30d)
    features["brand_trades_1h"] = int(row.brand_trades_1h)
    recent = (int(row.recent_issued), int(row.recent_fresh))
    features.update(_provenance(trade, answer, now, int(row.false_declarations), *recent))
    strengths = {row.seller_strength, row.destination_strength}
    features["sanctions"] = "strong" if "strong" in strengths else ("weak" if "weak" in strengths else "none")
    features["payouts_frozen"] = int(row.payouts_frozen) > 0
    # Not a rule input: the screening behind `sanctions` (listed vs customer identifiers, near misses).
    features["sanctions_detail"] = {
        "legal_name": row.seller_match,
        "account_holder": row.destination_match,
    }
    stale = row.newest_list is not None and row.screened_list != row.newest_list
    return Computed(features, row.brand_status, stale, repository.roster_from(row))


def _p(name: str, type_: Any = None) -> Any:
    return bindparam(name, type_=type_)


def _fresh_when_sold(postgresql: bool) -> ColumnElement[bool]:
    """A trade's voucher was issued less than FRESH before the trade (date arithmetic differs:
    PostgreSQL subtracts timestamps, SQLite stores text and counts days)."""
    t = trades.c
    if postgresql:
        return (t.created_at - t.issued_at) < literal(FRESH)
    days = func.julianday(t.created_at) - func.julianday(t.issued_at)
    return days < literal(FRESH / DAY)


@cache
def _statement(
    device: bool,
    ip: bool,
    account: bool,
    counted_statuses: frozenset[str],
    paid_status: str,
    postgresql: bool,
) -> Select[Any]:
    """The one SELECT of `compute`, built once per shape (which keys the trade has, and the
    database): building and cache-keying its ~20 subqueries on every decision cost more than
    running them."""
    t, u, d, f, b = trades.c, users.c, payout_destinations.c, sanctions_freezes.c, brands.c
    at = t.created_at.type
    user, trade_id, destination = _p("user_id"), _p("trade_id"), _p("destination_id")
    mine = t.user_id == user

    def since(start: str) -> Any:
        return t.created_at >= _p(start, at)

    # The seller's own windows in one index range scan of their last month (one aggregate
    # row, each window a FILTER), not five scans.
    seller = (
        select(
            func.count().filter(since("hour_ago")).label("seller_trades_1h"),
            func.count().filter(since("day_ago")).label("seller_trades_24h"),
            func.count().filter(since("month_ago")).label("seller_trades_30d"),
            func.coalesce(func.sum(t.face_value).filter(since("day_start")), 0).label("amount_today"),
            func.coalesce(func.sum(t.face_value).filter(since("month_start")), 0).label("amount_month"),
        )
        .where(mine & since("window_start") & (t.id != trade_id) & t.status.in_(sorted(counted_statuses)))
        .subquery("s")
    )
    # The seller's vouchers of the last month whose issue date is known, and how many of them
    # were sold fresh (the provenance features), in one more aggregate row.
    recent = (
        select(
            func.count().label("recent_issued"),
            func.count().filter(_fresh_when_sold(postgresql)).label("recent_fresh"),
        )
        .where(mine & (t.created_at >= _p("month_ago", at)) & (t.id != trade_id) & t.issued_at.is_not(None))
        .subquery("p")
    )
    # The sanctions standing is risk's own table; no row means never screened (strength none).
    cs, ds = sanctions_screenings.alias("cs"), sanctions_screenings.alias("ds")
    person = (
        select(
            u.created_at,
            func.coalesce(cs.c.strength, "none").label("sanctions_strength"),
            cs.c.match,
            cs.c.list_id,
        )
        .select_from(
            users.outerjoin(cs, (cs.c.subject == Subject.CUSTOMER.value) & (cs.c.subject_id == u.id))
        )
        .where(u.id == user)
        .subquery("u")
    )
    account_row = (
        select(d.created_at, func.coalesce(ds.c.strength, "none").label("sanctions_strength"), ds.c.match)
        .select_from(
            payout_destinations.outerjoin(
                ds, (ds.c.subject == Subject.DESTINATION.value) & (ds.c.subject_id == d.id)
            )
        )
        .where(d.id == destination)
        .subquery("d")
    )
    none = select(literal(0))  # a device or IP the trade does not have counts nothing
    # A bank account is shared once a second customer registers it (verified in their name),
    # whether or not anything was paid to it yet.
    registered = select(d.user_id).where((d.account_fingerprint == _p("account")) & (d.status == "verified"))
    sellers = (
        union(linked_sellers(LinkKind.ACCOUNT, _p("account"), _p("month_ago", at)), registered)
        if account
        else registered
    ).subquery()
    parts: dict[str, Any] = {
        "prior_paid": select(func.count()).where(mine & (t.status == paid_status) & (t.id != trade_id)),
        "brand_trades_1h": trades_since(
            CountKind.BRAND,
            _p("brand"),
            _p("hour_ago", at),
            _p("brand_edge", at),
            _p("brand_itself", Integer()),
        ),
        "false_declarations": select(func.count()).where(
            (seller_flags.c.user_id == user) & (seller_flags.c.kind == "false_acquisition_declaration")
        ),
        "payouts_frozen": select(func.count()).where((f.user_id == user) & f.released_at.is_(None)),
        # Read here rather than each in a statement of its own: the brand's standing, and
        # whether a newer sanctions list was loaded since the seller's last screening.
        "brand_status": select(b.status).where(b.slug == _p("brand")),
        "brand_scam_favoured": select(b.scam_favoured).where(b.slug == _p("brand")),
        "newest_list": select(func.max(sanctions_lists.c.id)),
        "device_trades_24h": (
            trades_since(
                CountKind.DEVICE,
                _p("device"),
                _p("day_ago", at),
                _p("device_edge", at),
                _p("device_itself", Integer()),
            )
            if device
            else none
        ),
        "device_sellers_24h": sellers_since(LinkKind.DEVICE, _p("device"), _p("day_ago", at))
        if device
        else none,
        "ip_sellers_24h": sellers_since(LinkKind.IP, _p("ip"), _p("day_ago", at)) if ip else none,
        "account_sellers_30d": select(func.count()).select_from(sellers),
        "seller_accounts_30d": select(func.count(distinct(t.account_fingerprint))).where(
            mine & (t.created_at >= _p("month_ago", at))
        ),
    }
    # `s` is one row whatever the seller has; a missing seller or destination reads as NULLs.
    return select(
        person.c.created_at.label("seller_created_at"),
        person.c.sanctions_strength.label("seller_strength"),
        person.c.match.label("seller_match"),
        person.c.list_id.label("screened_list"),
        account_row.c.created_at.label("destination_created_at"),
        account_row.c.sanctions_strength.label("destination_strength"),
        account_row.c.match.label("destination_match"),
        *seller.c,
        *recent.c,
        *(q.scalar_subquery().label(name) for name, q in parts.items()),
        repository.roster_column(postgresql),
    ).select_from(seller.join(recent, true()).outerjoin(person, true()).outerjoin(account_row, true()))


def _provenance(
    trade: RiskSubject, answer: VoucherStatus, now: datetime, flags: int, recent: int, fresh: int
) -> dict[str, Any]:
    """What the issuer says about where the voucher came from, against what the seller says.

    `recent`: the seller's other trades of the last month whose voucher's issue date is known;
    `fresh`: how many of those vouchers were sold within FRESH of being issued.
    """
    declared = trade.acquisition_method
    channel = answer.purchase_channel if answer.purchase_channel not in (None, "unknown") else None
    age = _hours(now - answer.issued_at) if answer.issued_at else None
    return {
        "declared_method": declared,
        "issuer_channel": channel,
        "channel_mismatch": bool(
            channel
            and declared in _COMPARABLE_CHANNELS
            and channel in _COMPARABLE_CHANNELS
            and declared != channel
        ),
        "voucher_age_hours": age,
        "fresh_voucher": age is not None and age < FRESH.total_seconds() / 3600,
        "seller_fresh_30d": fresh,
        "seller_fresh_share_30d": round(fresh / recent, 3) if recent else 0.0,
        "false_declarations": flags,
    }
