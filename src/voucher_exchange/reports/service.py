"""Dashboard figures read from the database (read-only; fit for a replica)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from voucher_exchange.db.schema import decisions, trade_events, trades
from voucher_exchange.reports.models import Dashboard, TradeFact, summarise

DAYS = 30


def dashboard(conn: Connection, now: datetime, tz: str, currency: str, days: int = DAYS) -> Dashboard:
    """The last `days` local days: volume per day and brand, decision rates, time to paid, margin."""
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), zone)
    t = trades.c
    paid_at = (
        select(trade_events.c.at)
        .where((trade_events.c.trade_id == t.id) & (trade_events.c.to_status == "paid"))
        .limit(1)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(t.created_at, t.brand_slug, t.face_value, t.fee, t.status, paid_at.label("paid_at")).where(
            (t.created_at >= start) & (t.currency == currency)
        )
    )
    facts = [
        TradeFact(
            r.created_at,
            r.created_at.astimezone(zone).date(),
            r.brand_slug,
            int(r.face_value),
            int(r.fee),
            r.status,
            r.paid_at,
        )
        for r in rows
    ]
    # The automated decision per trade: the risk engine's, or a refusal before it (screening, issuer).
    d = decisions.c
    automated = (d.stage == "risk") | (d.stage.in_(["screening", "issuer"]) & (d.outcome == "reject"))
    outcomes = [r.outcome for r in conn.execute(select(d.outcome).where(automated & (d.created_at >= start)))]
    return summarise(facts, outcomes, today, days)
