"""The issuer guard as plain values: issuers' facts, signals, rules, actions and their wording.

An exchange that redeems a voucher holds a claim on its issuer until the issuer settles.
The guard watches each issuer (the brands whose catalog entry names it) through signals,
and the operator's rules turn a signal past its threshold into an action on the issuer's
brands. Everything here is pure: the clock and the database are the caller's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from voucher_exchange.errors import InvalidInput
from voucher_exchange.i18n import N_

GUARD_ACTOR = "issuer-guard"
EVALUATE = "issuers.evaluate"
"""The recurring job that evaluates every issuer's rules (also enqueued after a statement import)."""
EVALUATE_NOW = "issuers.evaluate_now"
"""A one-off evaluation (after an issuer statement was reconciled)."""
MAIL_ACTION = "issuers.mail_action"
"""The job that tells the operators an action was taken or lifted (ref `<started|lifted>:<id>`)."""
BASELINE_DAYS = 7
MAX_BPS = 10_000


class RegistrationStatus(StrEnum):
    """The issuer's 전자금융업 선불업 (prepaid issuer) registration, as the operator last checked it."""

    REGISTERED = "registered"
    """Registered with the regulator."""
    UNREGISTERED = "unregistered"
    """Operating without the registration."""
    UNKNOWN = "unknown"
    """Not checked yet."""


class CallOutcome(StrEnum):
    """How an issuer call went wrong (successes are not recorded)."""

    FAILURE = "failure"
    """The issuer answered with an error or could not be reached."""
    TIMEOUT = "timeout"
    """The issuer did not answer in time."""


class Signal(StrEnum):
    """What the guard measures per issuer; each is a whole number (or unknown)."""

    FAILURE_SURGE = "failure_surge"
    """Failed issuer calls in the last hour above the issuer's normal hour (its last 7 days)."""
    TIMEOUT_SURGE = "timeout_surge"
    """Timed-out issuer calls in the last hour above the issuer's normal hour."""
    SETTLEMENT_SHORTFALL_BPS = "settlement_shortfall_bps"
    """Of the value redeemed on the last 7 reconciled statement days, the share not settled (bps)."""
    SETTLEMENT_DELAY_DAYS = "settlement_delay_days"
    """Days since the oldest redemption that no reconciled statement covers yet."""
    EXPOSURE_PCT = "exposure_pct"
    """Value redeemed and not yet settled, as a percentage of the issuer's limit."""
    UNREGISTERED = "unregistered"
    """1 when the issuer is not registered as a prepaid issuer, else 0."""
    INSURANCE_LAPSED_DAYS = "insurance_lapsed_days"
    """Days past the guarantee insurance's expiry date (1 the day after; negative: days left)."""


class ActionKind(StrEnum):
    """What a rule does to the issuer's brands."""

    LOWER_RATE = "lower_rate"
    """Every rate band of its brands lowered by `amount` basis points (a new rate version)."""
    CAP_DAILY_VOLUME = "cap_daily_volume"
    """New quotes refused once `amount` (face value, minor units) was sold today."""
    PAUSE_QUOTES = "pause_quotes"
    """Its active brands paused: no new quotes; trades in progress continue."""
    SUSPEND = "suspend"
    """Its brands suspended: nothing bought, trades not yet secured are refused."""


NEEDS_AMOUNT = frozenset({ActionKind.LOWER_RATE, ActionKind.CAP_DAILY_VOLUME})
# The brand status an action leaves behind, most severe last.
STOPS_BUYING = (ActionKind.PAUSE_QUOTES, ActionKind.SUSPEND)


@dataclass(frozen=True)
class IssuerFacts:
    """An issuer as the operator describes it."""

    code: str
    name: str
    registration_status: RegistrationStatus
    registration_number: str | None
    insurance_expires_on: date | None
    exposure_limit: int | None
    updated_at: datetime
    updated_by: str

    def public_json(self) -> dict[str, Any]:
        """`issuer` in GET /brands: the name, and the registration once known."""
        shown: dict[str, Any] = {"name": self.name}
        if self.registration_status is not RegistrationStatus.UNKNOWN:
            registration: dict[str, Any] = {"status": self.registration_status.value}
            if self.registration_number:
                registration["number"] = self.registration_number
            shown["registration"] = registration
        return shown


def default_name(code: str) -> str:
    """The name an issuer gets before the operator writes its real one."""
    return code.replace("-", " ").replace("_", " ").title()


@dataclass(frozen=True)
class Rule:
    """When `signal` reaches `threshold`, take `action` (on `issuer`, or on every issuer when None)."""

    id: int
    issuer: str | None
    signal: Signal
    threshold: int
    action: ActionKind
    amount: int | None
    enabled: bool
    created_at: datetime
    created_by: str

    def applies_to(self, issuer: str) -> bool:
        """True for its own issuer, or any issuer when it names none."""
        return self.enabled and self.issuer in (None, issuer)


def check_rule(signal: str, threshold: int, action: str, amount: int | None) -> tuple[Signal, ActionKind]:
    """The rule's signal and action, or InvalidInput saying what is wrong."""
    try:
        parsed_signal = Signal(signal)
    except ValueError as exc:
        known = ", ".join(s.value for s in Signal)
        raise InvalidInput("guard_signal_unknown", f"Choose a signal: {known}.", "signal") from exc
    try:
        parsed_action = ActionKind(action)
    except ValueError as exc:
        known = ", ".join(a.value for a in ActionKind)
        raise InvalidInput("guard_action_unknown", f"Choose an action: {known}.", "action") from exc
    if abs(threshold) > 10**12:
        raise InvalidInput("guard_threshold_invalid", "The threshold is out of range.", "threshold")
    if parsed_action in NEEDS_AMOUNT:
        if amount is None or amount <= 0:
            what = (
                "basis points to lower the rate by"
                if parsed_action is ActionKind.LOWER_RATE
                else "a daily cap"
            )
            raise InvalidInput("guard_amount_required", f"Give {what} (a positive whole number).", "amount")
        if parsed_action is ActionKind.LOWER_RATE and amount >= MAX_BPS:
            raise InvalidInput("guard_amount_invalid", "Lower the rate by less than 10,000 bps.", "amount")
        if amount > 10**15:
            raise InvalidInput("guard_amount_invalid", "The amount is out of range.", "amount")
    elif amount is not None:
        raise InvalidInput(
            "guard_amount_unexpected", "Only lower_rate and cap_daily_volume take an amount.", "amount"
        )
    return parsed_signal, parsed_action


@dataclass(frozen=True)
class BrandChange:
    """One brand an action changed, and what it was before (status, or the rate version)."""

    slug: str
    before: str


@dataclass(frozen=True)
class Action:
    """An action the guard took; in force until `lifted_at`."""

    id: int
    issuer: str
    rule_id: int
    action: ActionKind
    amount: int | None
    signal: Signal
    observed: int
    threshold: int
    brands: tuple[BrandChange, ...]
    started_at: datetime
    lifted_at: datetime | None
    lifted_by: str | None
    rearmed_at: datetime | None = None
    """After a lift: when its signal was first seen below the threshold again (the rule may act again)."""

    @property
    def in_force(self) -> bool:
        """True until an operator lifts it."""
        return self.lifted_at is None

    def covers(self, slug: str) -> bool:
        """True when it changed this brand."""
        return any(b.slug == slug for b in self.brands)


@dataclass(frozen=True)
class Firing:
    """A rule whose signal reached its threshold, with the value seen."""

    rule: Rule
    observed: int


def fires(rule: Rule, signals: Mapping[Signal, int | None]) -> int | None:
    """The value seen when the rule's signal is at or past its threshold, else None."""
    value = signals.get(rule.signal)
    return value if value is not None and value >= rule.threshold else None


def due(
    issuer: str, signals: Mapping[Signal, int | None], rules: Iterable[Rule], held: set[int]
) -> list[Firing]:
    """The rules to act on now: enabled, for this issuer, signal at or past the threshold, and not
    held (`held`: rules whose action is in force, or was lifted and has not re-armed yet)."""
    found = []
    for rule in rules:
        value = fires(rule, signals)
        if rule.applies_to(issuer) and rule.id not in held and value is not None:
            found.append(Firing(rule, value))
    return found


def rearming(
    lifted: Iterable[Action], rules: Mapping[int, Rule], signals: Mapping[Signal, int | None]
) -> list[int]:
    """Lifted, not yet re-armed actions whose rule's signal is now below its threshold (known and low).

    Lifting does not invite the same action back a minute later: the rule acts again only after
    its signal went back to normal and then crossed the threshold anew.
    """
    found = []
    for action in lifted:
        rule = rules.get(action.rule_id)
        if rule is None or action.in_force or action.rearmed_at is not None:
            continue
        value = signals.get(rule.signal)
        if value is not None and value < rule.threshold:
            found.append(action.id)
    return found


# ---- signals, from plain numbers ------------------------------------------------------------


def surge(last_hour: int, baseline_count: int, baseline_hours: int = BASELINE_DAYS * 24) -> int:
    """Calls that failed in the last hour above the normal hour (the baseline's mean, rounded up)."""
    normal = math.ceil(baseline_count / baseline_hours) if baseline_hours else 0
    return last_hour - normal


def shortfall_bps(expected: int, settled: int) -> int | None:
    """The share of `expected` not settled, in basis points (rounded down); unknown with nothing expected."""
    if expected <= 0:
        return None
    return max(0, expected - settled) * MAX_BPS // expected


def delay_days(oldest_unsettled: date | None, today: date) -> int:
    """Days since the oldest redemption no statement covers (0 when every one is covered)."""
    return 0 if oldest_unsettled is None else max(0, (today - oldest_unsettled).days)


def exposure_pct(exposure: int, limit: int | None) -> int | None:
    """Exposure as a percentage of the limit (rounded down); unknown without a limit."""
    if limit is None or limit <= 0:
        return None
    return max(0, exposure) * 100 // limit


def insurance_lapsed_days(expires_on: date | None, today: date) -> int | None:
    """Days past the expiry date: 0 on it (still covered), 1 the day after, negative before; unknown
    without a date. A rule with threshold 1 acts once the insurance has lapsed."""
    return None if expires_on is None else (today - expires_on).days


def unregistered(status: RegistrationStatus) -> int:
    """1 when the issuer is known to be unregistered."""
    return 1 if status is RegistrationStatus.UNREGISTERED else 0


# ---- what an action does to a brand ---------------------------------------------------------


def lowered(bands: list[dict[str, int]], bps: int) -> list[dict[str, int]]:
    """Every band lowered by `bps` (never below 1 bp)."""
    return [{"min_face": b["min_face"], "rate_bps": max(1, b["rate_bps"] - bps)} for b in bands]


def raised(bands: list[dict[str, int]], bps: int) -> list[dict[str, int]]:
    """Every band raised by `bps` (never to 100%): undoes `lowered`."""
    return [{"min_face": b["min_face"], "rate_bps": min(MAX_BPS - 1, b["rate_bps"] + bps)} for b in bands]


def tightest_cap(actions: Iterable[Action]) -> int | None:
    """The smallest daily cap among the actions in force, or None."""
    caps = [a.amount for a in actions if a.in_force and a.action is ActionKind.CAP_DAILY_VOLUME and a.amount]
    return min(caps) if caps else None


# ---- plain words for sellers (both languages) -------------------------------------------------

CAUSES = {
    Signal.FAILURE_SURGE: N_("the issuer's systems are failing"),
    Signal.TIMEOUT_SURGE: N_("the issuer's systems are not answering"),
    Signal.SETTLEMENT_SHORTFALL_BPS: N_("the issuer settled less than it owes"),
    Signal.SETTLEMENT_DELAY_DAYS: N_("the issuer is late settling"),
    Signal.EXPOSURE_PCT: N_("too much value is waiting for the issuer to settle"),
    Signal.UNREGISTERED: N_("the issuer is not registered as a prepaid issuer"),
    Signal.INSURANCE_LAPSED_DAYS: N_("the issuer's guarantee insurance has run out"),
}
# Korean: "%(cause)s" already carries its particle ("발행사 정산 지연으로").
SENTENCES = {
    ActionKind.PAUSE_QUOTES: N_("We paused buying on %(date)s because %(cause)s."),
    ActionKind.SUSPEND: N_("We stopped buying on %(date)s because %(cause)s."),
    ActionKind.LOWER_RATE: N_(
        "We lowered our rate by %(points)s percentage points on %(date)s because %(cause)s."
    ),
    ActionKind.CAP_DAILY_VOLUME: N_("We limited how much we buy each day on %(date)s because %(cause)s."),
}


def points(bps: int) -> str:
    """Basis points as percentage points: 150 → '1.5', 200 → '2'."""
    whole, part = divmod(bps, 100)
    return str(whole) if not part else f"{whole}.{part:02d}".rstrip("0")


def local_day(moment: datetime, tz: Any) -> str:
    """The action's date as the reader's deployment writes it (YYYY-MM-DD in its time zone)."""
    return moment.astimezone(tz).date().isoformat()
