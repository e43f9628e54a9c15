"""Risk features, computed from the database as of decision time and stored with the decision.

Every query is an indexed range scan ((column, created_at) indexes on trades), so one
decision stays in single-digit milliseconds with millions of stored trades. The windows over
every seller (a brand's or device's trades, the sellers sharing a device, IP or bank account)
read the counters and links kept as trades arrive (risk/windows.py), not the trades: a hot
brand would otherwise scan every trade of its last hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, distinct, func, literal, select, union

from voucher_exchange.db.schema import payout_destinations, sanctions_freezes, seller_flags, trades, users
from voucher_exchange.issuers.ports import VoucherStatus
from voucher_exchange.risk.models import RiskSubject
from voucher_exchange.risk.screening import RISK_PACKS, period_starts
from voucher_exchange.risk.windows import CountKind, LinkKind, linked_sellers, sellers_since, trades_since

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
MONTH = timedelta(days=30)
FRESH = timedelta(hours=24)
FRESH_HISTORY = 200
_COMPARABLE_CHANNELS = {"card", "bank_transfer", "promotion"}


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def compute(
    conn: Connection,
    trade: RiskSubject,
    answer: VoucherStatus,
    now: datetime,
    jurisdiction: str,
    scam_favoured: bool,
) -> dict[str, Any]:
    """All features for one trade, given the issuer's answer.

    Two round trips: every count, sum and the seller's and destination's facts are scalar
    subqueries of one SELECT (each keeps its own index range scan), then the seller's recent
    vouchers for the provenance features.
    """
    pack = RISK_PACKS[jurisdiction]
    t = trades.c
    others = (t.id != trade.id) & t.status.in_(sorted(trade.counted_statuses))
    day_start, month_start = period_starts(now, jurisdiction)
    mine = t.user_id == trade.user_id
    u, d = users.c, payout_destinations.c
    f = sanctions_freezes.c

    def seller_since(delta: timedelta) -> Any:
        return select(func.count()).where(mine & (t.created_at >= now - delta) & others)

    def amount_since(start: datetime) -> Any:
        return select(func.coalesce(func.sum(t.face_value), 0)).where(mine & (t.created_at >= start) & others)

    parts: dict[str, Any] = {
        "seller_created_at": select(u.created_at).where(u.id == trade.user_id),
        "seller_strength": select(u.sanctions_strength).where(u.id == trade.user_id),
        "seller_match": select(u.sanctions_match).where(u.id == trade.user_id),
        "destination_created_at": select(d.created_at).where(d.id == trade.payout_destination_id),
        "destination_strength": select(d.sanctions_strength).where(d.id == trade.payout_destination_id),
        "destination_match": select(d.sanctions_match).where(d.id == trade.payout_destination_id),
        "prior_paid": select(func.count()).where(mine & (t.status == trade.paid_status) & (t.id != trade.id)),
        "seller_trades_1h": seller_since(HOUR),
        "seller_trades_24h": seller_since(DAY),
        "seller_trades_30d": seller_since(MONTH),
        "amount_today": amount_since(day_start),
        "amount_month": amount_since(month_start),
        "brand_trades_1h": trades_since(CountKind.BRAND, trade.brand_slug, now - HOUR, trade.created_at),
        "false_declarations": select(func.count()).where(
            (seller_flags.c.user_id == trade.user_id)
            & (seller_flags.c.kind == "false_acquisition_declaration")
        ),
        "payouts_frozen": select(func.count()).where((f.user_id == trade.user_id) & f.released_at.is_(None)),
        **_shared(trade, now),
    }
    row = conn.execute(select(*(q.scalar_subquery().label(name) for name, q in parts.items()))).one()
    if row.seller_created_at is None or row.destination_created_at is None:
        raise LookupError(f"trade {trade.id}: its seller or payout destination is missing")
    prior_paid = int(row.prior_paid)
    features: dict[str, Any] = {
        "face_value": trade.face_value,
        "high_value": trade.face_value >= pack.high_value,
        "scam_favoured": scam_favoured,
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
    features.update(_provenance(conn, trade, answer, now, int(row.false_declarations)))
    strengths = {row.seller_strength, row.destination_strength}
    features["sanctions"] = "strong" if "strong" in strengths else ("weak" if "weak" in strengths else "none")
    features["payouts_frozen"] = int(row.payouts_frozen) > 0
    # Not a rule input: the screening behind `sanctions` (listed vs customer identifiers, near misses).
    features["sanctions_detail"] = {
        "legal_name": row.seller_match,
        "account_holder": row.destination_match,
    }
    return features


def _shared(trade: RiskSubject, now: datetime) -> dict[str, Any]:
    """Device, IP and bank-account links between sellers, as subqueries (from the windows)."""
    t = trades.c
    none = select(literal(0))  # a device or IP the trade does not have counts nothing
    device, ip = trade.device_id, trade.client_ip
    # A bank account is shared once a second customer registers it (verified in their name),
    # whether or not anything was paid to it yet.
    p = payout_destinations.c
    registered = select(p.user_id).where(
        (p.account_fingerprint == trade.account_fingerprint) & (p.status == "verified")
    )
    account = trade.account_fingerprint
    sellers = (
        union(linked_sellers(LinkKind.ACCOUNT, account, now - MONTH), registered) if account else registered
    ).subquery()
    return {
        "device_trades_24h": (
            trades_since(CountKind.DEVICE, device, now - DAY, trade.created_at) if device else none
        ),
        "device_sellers_24h": sellers_since(LinkKind.DEVICE, device, now - DAY) if device else none,
        "ip_sellers_24h": sellers_since(LinkKind.IP, ip, now - DAY) if ip else none,
        "account_sellers_30d": select(func.count()).select_from(sellers),
        "seller_accounts_30d": select(func.count(distinct(t.account_fingerprint))).where(
            (t.user_id == trade.user_id) & (t.created_at >= now - MONTH)
        ),
    }


def _provenance(
    conn: Connection, trade: RiskSubject, answer: VoucherStatus, now: datetime, flags: int
) -> dict[str, Any]:
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
