"""Fraud reports and cases as plain values: the report's rules, what a match does, the figures."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money

MATCH_REPORT = "fraud.match"
"""The job that matches a stored report's fingerprints against trades (ref: the report id)."""

MAX_CODES = 20
MIN_CODE = 6
MAX_CODE = 64
MAX_NAME = 100
MIN_CONTACT = 3
MAX_CONTACT = 200
MAX_POLICE_CASE = 64
MAX_DESCRIPTION = 4000
MAX_NOTE = 2000
_SEPARATORS = re.compile(r"[\s\-_.]+")
_CODE_CHARS = re.compile(r"^[A-Z0-9]+$")


class Source(StrEnum):
    """Who filed a report."""

    PUBLIC = "public"
    """Anyone, through the form or the API without a credential (a victim, the police)."""
    ISSUER = "issuer"
    """An issuer, through the API with a key holding `fraud_reports:write`."""


class Action(StrEnum):
    """What a match did to the trade."""

    HELD = "held"
    """Not yet secured: the trade was held for review before anything was paid."""
    FROZEN = "frozen"
    """Secured or paid: a case froze the seller's next payouts up to what this trade pays."""
    NOTED = "noted"
    """Already refused, cancelled, reversed or held: recorded on the case, nothing to stop."""


class Outcome(StrEnum):
    """What staff did with a match."""

    HELD = "held"
    """Put on hold (its seller's next payouts frozen up to the amount)."""
    RELEASED = "released"
    """The report did not hold up: the freeze is lifted."""
    REVERSED = "reversed"
    """Taken back through the issuer's chargeback; what was paid is owed and nets against the freeze."""


@dataclass(frozen=True)
class Reporter:
    """Who filed a report (stored encrypted; shown only on the case)."""

    name: str
    contact: str


@dataclass(frozen=True)
class NewReport:
    """A report as filed, validated: codes normalised, nothing else kept of them."""

    codes: list[str]
    reporter: Reporter
    police_case_number: str | None
    description: str


def normalise_code(code: str) -> str:
    """The form the trades fingerprint: separators removed, upper case."""
    return _SEPARATORS.sub("", code).upper()


def mask(code: str) -> str:
    """The last four characters only."""
    return "•" * 4 + code[-4:]


def validate(
    codes: list[str], name: str, contact: str, police_case_number: str | None, description: str
) -> NewReport:
    """The report, or InvalidInput with a stable code (never echoing a code)."""
    if not codes:
        raise InvalidInput("codes_required", "Enter at least one voucher code.", "codes")
    if len(codes) > MAX_CODES:
        raise InvalidInput("too_many_codes", f"Report at most {MAX_CODES} codes at a time.", "codes")
    clean: list[str] = []
    for code in codes:
        if len(code) > 2 * MAX_CODE:
            raise InvalidInput("code_invalid", "A voucher code is too long.", "codes")
        norm = normalise_code(code)
        if not MIN_CODE <= len(norm) <= MAX_CODE or not _CODE_CHARS.match(norm):
            raise InvalidInput(
                "code_invalid",
                f"Each voucher code has {MIN_CODE} to {MAX_CODE} letters and digits.",
                "codes",
            )
        if norm not in clean:
            clean.append(norm)
    name, contact = name.strip(), contact.strip()
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput(
            "reporter_name_invalid", "Enter your name (at most 100 characters).", "reporter.name"
        )
    if not MIN_CONTACT <= len(contact) <= MAX_CONTACT:
        raise InvalidInput(
            "reporter_contact_invalid",
            "Enter a phone number or e-mail address where we can reach you.",
            "reporter.contact",
        )
    police = (police_case_number or "").strip() or None
    if police is not None and len(police) > MAX_POLICE_CASE:
        raise InvalidInput(
            "police_case_number_invalid", "The police case number is too long.", "police_case_number"
        )
    description = description.strip()
    if not 1 <= len(description) <= MAX_DESCRIPTION:
        raise InvalidInput(
            "description_invalid",
            "Say briefly what happened (at most 4,000 characters).",
            "description",
        )
    return NewReport(clean, Reporter(name, contact), police, description)


@dataclass(frozen=True)
class Match:
    """A trade a report's code matched, and what was done."""

    id: int
    case_id: str
    trade_id: str
    user_id: str
    masked: str
    status_at_match: str
    action: Action
    amount: Money
    matched_at: datetime
    issuer_block: str | None
    outcome: Outcome | None
    outcome_at: datetime | None
    outcome_by: str | None


@dataclass(frozen=True)
class Case:
    """A report that matched trades: open until staff close it."""

    id: str
    report_id: str
    status: str
    received_at: datetime
    opened_at: datetime
    frozen_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None

    @property
    def seconds_to_freeze(self) -> float | None:
        """From the report's arrival to the first hold or freeze it caused."""
        return None if self.frozen_at is None else (self.frozen_at - self.received_at).total_seconds()


def freeze_reference(case_id: str, trade_id: str) -> str:
    """What the payout freeze a case opened on one matched trade is made for."""
    return f"fraud_case:{case_id}:{trade_id}"


def median_seconds(spans: list[float]) -> float | None:
    """The median report-to-freeze time, or None when nothing was frozen."""
    return float(statistics.median(spans)) if spans else None
