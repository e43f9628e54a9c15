"""Dashboard figures read from the database (read-only; fit for a replica)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from voucher_exchange.db.schema import decisions, trade_events, trades
from voucher_exchange.reports.models import Dashboard, TradeFact, summarise

DAYS = 30


def dashboard(conn: Connection, now: datetime, tz: str, currency: str, days: int = DAYS) -> Dashboard:
    """The last `days` local days: volume per day and brand, decision rates, time to paid, margin.

    Counts are aggregated by the database; only paid trades come back as rows (for the
    per-day buckets in local time and the exact percentiles).
    """
    zone = ZoneInfo(tz)
    today = now.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), zone)
    t, e, d = trades.c, trade_events.c, decisions.c
    window = (t.created_at >= start) & (t.currency == currency)
    submitted = int(conn.execute(select(func.count()).select_from(trades).where(window)).scalar_one())
    paid_rows = conn.execute(
        select(t.created_at, t.brand_slug, t.face_value, t.fee, e.at.label("paid_at"))
        .join(trade_events, (e.trade_id == t.id) & (e.to_status == "paid"))
        .where(window)
    )
    paid = [
        TradeFact(
            r.created_at,
            r.created_at.astimezone(zone).date(),
            r.brand_slug,
            int(r.face_value),
            int(r.fee),
            r.paid_at,
        )
        for r in paid_rows
    ]
    # The automated decision per trade: the risk engine's, or a refusal before it (screening, issuer).
    automated = (d.stage == "risk") | (d.stage.in_(["screening", "issuer"]) & (d.outcome == "reject"))
    outcomes = {
        r.outcome: int(r.n)
        for r in conn.execute(
            select(d.outcome, func.count().label("n"))
            .where(automated & (d.created_at >= start))
            .group_by(d.outcome)
        )
    }
    return summarise(paid, submitted, outcomes, today, days)
