"""Measure one issuer: its exposure, and every signal, read from the ledger and the guard's tables.

Exposure is the value redeemed and not yet settled, in the deployment's currency: what the
issuer's brands' inventory accounts hold (secured value less what issuers took back), less
what the reconciled issuer statements settled (the latest run of each statement day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection

from voucher_exchange.catalog.models import Brand
from voucher_exchange.issuers import models, repository
from voucher_exchange.issuers.models import CallOutcome, IssuerFacts, Signal
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import inventory

HOUR = timedelta(hours=1)
SHORTFALL_DAYS = 7


@dataclass(frozen=True)
class Measured:
    """One issuer as the guard sees it now."""

    exposure: int
    signals: dict[Signal, int | None]
    failures_last_hour: int
    timeouts_last_hour: int
    expected_7d: int
    settled_7d: int


def secured_value(conn: Connection, slugs: list[str], currency: str) -> int:
    """What the brands' inventory accounts hold (posted)."""
    total = 0
    for slug in slugs:
        account = ledger_repo.account(conn, inventory(slug, currency))
        total += account.balance.amount if account is not None else 0
    return total


def exposure(conn: Connection, slugs: list[str], currency: str) -> int:
    """Value redeemed at the issuer and not yet settled (never below 0)."""
    _, settled = repository.settlement_totals(conn, slugs, currency)
    return max(0, secured_value(conn, slugs, currency) - settled)


def _oldest_unsettled(conn: Connection, slugs: list[str], currency: str) -> date | None:
    last = repository.last_statement_day(conn)
    after = (
        datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
        if last is not None
        else datetime(1970, 1, 1, tzinfo=UTC)
    )
    first = ledger_repo.first_debit_after(conn, [inventory(s, currency) for s in slugs], after)
    return None if first is None else first.astimezone(UTC).date()


def measure(
    conn: Connection, facts: IssuerFacts, brands: list[Brand], currency: str, now: datetime
) -> Measured:
    """Exposure and every signal of one issuer (its `brands` in `currency`) at `now`."""
    slugs = [b.slug for b in brands]
    today = now.astimezone(UTC).date()
    hour_ago = now - HOUR
    baseline_from = hour_ago - timedelta(days=models.BASELINE_DAYS)
    counts = {}
    for outcome in CallOutcome:
        last = repository.count_failures(conn, slugs, outcome, hour_ago, now)
        normal = repository.count_failures(conn, slugs, outcome, baseline_from, hour_ago)
        counts[outcome] = (last, models.surge(last, normal))
    expected, settled = repository.settlement_totals(
        conn, slugs, currency, since=today - timedelta(days=SHORTFALL_DAYS)
    )
    owed = exposure(conn, slugs, currency)
    signals: dict[Signal, int | None] = {
        Signal.FAILURE_SURGE: counts[CallOutcome.FAILURE][1],
        Signal.TIMEOUT_SURGE: counts[CallOutcome.TIMEOUT][1],
        Signal.SETTLEMENT_SHORTFALL_BPS: models.shortfall_bps(expected, settled),
        Signal.SETTLEMENT_DELAY_DAYS: models.delay_days(_oldest_unsettled(conn, slugs, currency), today),
        Signal.EXPOSURE_PCT: models.exposure_pct(owed, facts.exposure_limit),
        Signal.UNREGISTERED: models.unregistered(facts.registration_status),
        Signal.INSURANCE_LAPSED_DAYS: models.insurance_lapsed_days(facts.insurance_expires_on, today),
    }
    return Measured(
        owed,
        signals,
        counts[CallOutcome.FAILURE][0],
        counts[CallOutcome.TIMEOUT][0],
        expected,
        settled,
    )
