"""Risk features, computed from the database as of decision time and stored with the decision.

Every query is an indexed range scan ((column, created_at) indexes on trades), so one
decision stays in single-digit milliseconds with millions of stored trades.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, distinct, func, select, union

from voucher_exchange.db.schema import payout_destinations, seller_flags, trades, users
from voucher_exchange.issuers.ports import VoucherStatus
from voucher_exchange.risk import sanctions_customers
from voucher_exchange.risk.models import RiskSubject
from voucher_exchange.risk.screening import RISK_PACKS, period_starts

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MONTH = timedelta(days=30)
FRESH = timedelta(hours=24)
FRESH_HISTORY = 200
_COMPARABLE_CHANNELS = {"card", "bank_transfer", "promotion"}


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(query).scalar_one())


def compute(
    conn: Connection,
    trade: RiskSubject,
    answer: VoucherStatus,
    now: datetime,
    jurisdiction: str,
    scam_favoured: bool,
) -> dict[str, Any]:
    """All features for one trade, given the issuer's answer."""
    pack = RISK_PACKS[jurisdiction]
    t = trades.c
    others = (t.id != trade.id) & t.status.in_(sorted(trade.counted_statuses))

    def seller_since(delta: timedelta) -> int:
        return _count(
            conn,
            select(func.count()).where((t.user_id == trade.user_id) & (t.created_at >= now - delta) & others),
        )

    seller = conn.execute(
        select(users.c.created_at, users.c.sanctions_strength, users.c.sanctions_match).where(
            users.c.id == trade.user_id
        )
    ).one()
    destination = conn.execute(
        select(
            payout_destinations.c.created_at,
            payout_destinations.c.sanctions_strength,
            payout_destinations.c.sanctions_match,
        ).where(payout_destinations.c.id == trade.payout_destination_id)
    ).one()
    prior_paid = _count(
        conn,
        select(func.count()).where(
            (t.user_id == trade.user_id) & (t.status == trade.paid_status) & (t.id != trade.id)
        ),
    )
    features: dict[str, Any] = {
        "face_value": trade.face_value,
        "high_value": trade.face_value >= pack.high_value,
        "scam_favoured": scam_favoured,
        "seller_trades_1h": seller_since(HOUR),
        "seller_trades_24h": seller_since(DAY),
        "seller_trades_30d": seller_since(MONTH),
        "prior_paid_trades": prior_paid,
        "first_trade": prior_paid == 0,
        "account_age_hours": _hours(now - seller.created_at),
        "destination_age_hours": _hours(now - destination.created_at),
    }
    day_start, month_start = period_starts(now, jurisdiction)

    def amount_since(start: datetime) -> int:
        total = conn.execute(
            select(func.coalesce(func.sum(t.face_value), 0)).where(
                (t.user_id == trade.user_id) & (t.created_at >= start) & others
            )
        ).scalar_one()
        return int(total) + trade.face_value

    features["amount_today"] = amount_since(day_start)
    features["amount_month"] = amount_since(month_start)
    features["over_daily_cumulative"] = features["amount_today"] > pack.cumulative_daily_review
    features.update(_shared(conn, trade, now))
    features["brand_trades_1h"] = _count(
        conn,
        select(func.count()).where(
            (t.brand_slug == trade.brand_slug) & (t.created_at >= now - HOUR) & (t.id != trade.id)
        ),
    )
    features.update(_provenance(conn, trade, answer, now))
    strengths = {seller.sanctions_strength, destination.sanctions_strength}
    features["sanctions"] = "strong" if "strong" in strengths else ("weak" if "weak" in strengths else "none")
    features["payouts_frozen"] = sanctions_customers.payouts_frozen(conn, trade.user_id)
    # Not a rule input: the screening behind `sanctions` (listed vs customer identifiers, near misses).
    features["sanctions_detail"] = {
        "legal_name": seller.sanctions_match,
        "account_holder": destination.sanctions_match,
    }
    return features


def _shared(conn: Connection, trade: RiskSubject, now: datetime) -> dict[str, Any]:
    """Device, IP and bank-account links between sellers."""
    t = trades.c
    out: dict[str, Any] = {"device_trades_24h": 0, "device_sellers_24h": 1, "ip_sellers_24h": 1}
    if trade.device_id:
        recent = (t.device_id == trade.device_id) & (t.created_at >= now - DAY)
        out["device_trades_24h"] = _count(conn, select(func.count()).where(recent & (t.id != trade.id)))
        out["device_sellers_24h"] = _count(conn, select(func.count(distinct(t.user_id))).where(recent))
    if trade.client_ip:
        recent_ip = (t.client_ip == trade.client_ip) & (t.created_at >= now - DAY)
        out["ip_sellers_24h"] = _count(conn, select(func.count(distinct(t.user_id))).where(recent_ip))
    # A bank account is shared once a second customer registers it (verified in their name),
    # whether or not anything was paid to it yet.
    p = payout_destinations.c
    traded = select(t.user_id).where(
        (t.account_fingerprint == trade.account_fingerprint) & (t.created_at >= now - MONTH)
    )
    registered = select(p.user_id).where(
        (p.account_fingerprint == trade.account_fingerprint) & (p.status == "verified")
    )
    sellers = union(traded, registered).subquery()
    out["account_sellers_30d"] = _count(conn, select(func.count()).select_from(sellers))
    out["seller_accounts_30d"] = _count(
        conn,
        select(func.count(distinct(t.account_fingerprint))).where(
            (t.user_id == trade.user_id) & (t.created_at >= now - MONTH)
        ),
    )
    return out


def _provenance(conn: Connection, trade: RiskSubject, answer: VoucherStatus, now: datetime) -> dict[str, Any]:
    """What the issuer says about where the voucher came from, against what the seller says."""
    t = trades.c
    declared = trade.acquisition_method
    channel = answer.purchase_channel if answer.purchase_channel not in (None, "unknown") else None
    age = _hours(now - answer.issued_at) if answer.issued_at else None
    history = conn.execute(
        select(t.created_at, t.issued_at).where(
            (t.user_id == trade.user_id)
            & (t.created_at >= now - MONTH)
            & (t.id != trade.id)
            & t.issued_at.is_not(None)
        )
    ).all()
    fresh = sum(1 for h in history if h.created_at - h.issued_at < FRESH)
    flags = _count(
        conn,
        select(func.count()).where(
            (seller_flags.c.user_id == trade.user_id)
            & (seller_flags.c.kind == "false_acquisition_declaration")
        ),
    )
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
        "seller_fresh_share_30d": round(fresh / len(history), 3) if history else 0.0,
        "false_declarations": flags,
    }
