"""Read-only views of the issuer guard: what sellers are told, the operator's dashboard, the pauses
a transparency report lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import Brand, BrandStatus
from voucher_exchange.i18n import LANGUAGES, gettext
from voucher_exchange.issuers import models, repository, signals
from voucher_exchange.issuers.guard import brands_of
from voucher_exchange.issuers.models import (
    STOPS_BUYING,
    Action,
    ActionKind,
    IssuerFacts,
    RegistrationStatus,
    Rule,
    Signal,
)
from voucher_exchange.risk import reasons

CHART_DAYS = 30


def words(action: Action, lang: str, tz: ZoneInfo) -> str:
    """The action in plain words for sellers, in `lang`, with its date in the deployment's time zone."""
    return gettext(lang, models.SENTENCES[action.action]) % {
        "date": models.local_day(action.started_at, tz),
        "cause": gettext(lang, models.CAUSES[action.signal]),
        "points": models.points(action.amount or 0),
    }


def both_languages(action: Action, tz: ZoneInfo) -> dict[str, str]:
    """`{"ko": …, "en": …}`."""
    return {lang: words(action, lang, tz) for lang in LANGUAGES}


@dataclass(frozen=True)
class BrandGuard:
    """What the guard tells about one brand: its issuer, and the actions in force on it."""

    issuer: IssuerFacts | None
    actions: tuple[Action, ...]

    def stopping(self, status: BrandStatus) -> Action | None:
        """The action that explains a paused or suspended brand (the most severe, newest), or None."""
        if status is BrandStatus.ACTIVE:
            return None
        wanted = ActionKind.SUSPEND if status is BrandStatus.SUSPENDED else ActionKind.PAUSE_QUOTES
        found = [a for a in self.actions if a.action is wanted]
        return found[-1] if found else None


def brand_guards(conn: Connection, brands: list[Brand]) -> dict[str, BrandGuard]:
    """slug → its issuer's facts and the actions in force on that brand."""
    facts = {f.code: f for f in repository.all_issuers(conn)}
    standing = repository.in_force(conn)
    return {
        b.slug: BrandGuard(facts.get(b.issuer), tuple(a for a in standing if a.covers(b.slug)))
        for b in brands
    }


def status_reason(guard: BrandGuard, status: BrandStatus, tz: ZoneInfo) -> dict[str, str] | None:
    """`status_reason` in GET /brands: why a paused or suspended brand is — the guard's dated
    sentence when it did it, else the general words of `brand_paused` / `brand_suspended`."""
    if status is BrandStatus.ACTIVE:
        return None
    action = guard.stopping(status)
    if action is not None:
        return both_languages(action, tz)
    general = reasons.reason("brand_suspended" if status is BrandStatus.SUSPENDED else "brand_paused")
    return {"ko": general.ko, "en": general.en}


def issuer_json(brand: Brand, guard: BrandGuard) -> dict[str, Any]:
    """`issuer` in GET /brands: `{name, registration?}` (the catalog's code as the name until the
    operator writes one)."""
    if guard.issuer is None:
        return {"name": models.default_name(brand.issuer)}
    return guard.issuer.public_json()


def notices(guard: BrandGuard, lang: str, tz: ZoneInfo) -> list[str]:
    """Every action in force on the brand, in plain words (the rates page shows them)."""
    return [words(a, lang, tz) for a in guard.actions]


def issuer_pauses(conn: Connection, start: datetime, end: datetime, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Issuer pauses and suspensions in force at any moment of [start, end), oldest first.

    Each: `{issuer, brands, action, reason, reason_text:{ko, en}, from, to}`: `reason` is the
    signal's code, `reason_text` the sentence sellers saw (dated in `tz`, the deployment's time
    zone, as the brand page dates it), `to` None while it stands. For the transparency report.
    """
    return [
        {
            "issuer": a.issuer,
            "brands": [c.slug for c in a.brands],
            "action": a.action.value,
            "reason": a.signal.value,
            "reason_text": both_languages(a, tz),
            "from": a.started_at,
            "to": a.lifted_at,
        }
        for a in repository.overlapping(conn, start, end)
        if a.action in STOPS_BUYING
    ]


@dataclass(frozen=True)
class IssuerPanel:
    """One issuer on the operator's dashboard."""

    facts: IssuerFacts
    brands: list[Brand]
    measured: signals.Measured
    points: list[dict[str, Any]]
    days: list[date]
    actions: list[Action]

    @property
    def over_limit(self) -> bool:
        """True when the exposure is at or past the limit."""
        limit = self.facts.exposure_limit
        return limit is not None and self.measured.exposure >= limit


@dataclass(frozen=True)
class Dashboard:
    """Every issuer, the rules, and the signals and actions the form offers."""

    panels: list[IssuerPanel]
    rules: list[Rule]
    signals: list[Signal]
    actions: list[ActionKind]


def dashboard(conn: Connection, currency: str, now: datetime) -> Dashboard:
    """The issuers of the deployment's brands, each measured now, with 30 days of exposure points."""
    stored = {f.code: f for f in repository.all_issuers(conn)}
    since = now.date() - timedelta(days=CHART_DAYS - 1)
    days = [since + timedelta(days=i) for i in range(CHART_DAYS)]
    panels = []
    for code in catalog.issuer_codes(conn):
        facts = stored.get(code) or IssuerFacts(
            code, models.default_name(code), RegistrationStatus.UNKNOWN, None, None, None, now, "catalog"
        )
        brands = brands_of(conn, code, currency)
        if not brands:
            continue
        panels.append(
            IssuerPanel(
                facts,
                brands,
                signals.measure(conn, facts, brands, currency, now),
                repository.exposure_points(conn, code, since),
                days,
                repository.history(conn, code, limit=50),
            )
        )
    return Dashboard(panels, repository.rules(conn), list(Signal), list(ActionKind))
