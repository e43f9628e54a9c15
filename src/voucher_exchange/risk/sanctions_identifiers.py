"""The identifiers an OFAC entry carries in its Remarks, and how a customer's compare with them.

Remarks are `;`-separated items. Those read here, in every form the published files use:
`DOB 18 Feb 1962`, `DOB 1947`, `DOB Dec 1960`, `DOB circa 1947`, `DOB 1964 to 1966`,
`DOB 01 Jan 1960 to 31 Dec 1962`, `alt. DOB …`; `POB …`; `nationality …`, `alt. nationality …`,
`citizen …`, `alt. citizen …`; `Gender Male|Female`; `a.k.a. 'NAME'` (aliases written in Remarks).
Countries become ISO 3166 alpha-2 codes where the name is known, else stay as written.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Any

from babel import Locale

_MONTHS = {name.casefold(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAY_MONTH_YEAR = r"(?:(\d{1,2}) )?(?:([A-Za-z]{3}) )?(\d{4})"
_DATE = re.compile(rf"^{_DAY_MONTH_YEAR}$")
_RANGE = re.compile(rf"^{_DAY_MONTH_YEAR}\s*(?:to|-)\s*{_DAY_MONTH_YEAR}$")
_AKA = re.compile(r"^(?:a\.k\.a\.|f\.k\.a\.|n\.k\.a\.)\s+'(.+)'$", re.IGNORECASE)
# "circa" widens a stated date by this many years on each side.
CIRCA_YEARS = 2
# A listed DOB this many years or less outside the customer's birth date is "near", not a contradiction.
NEAR_YEARS = 1


@dataclass(frozen=True, order=True)
class DobSpan:
    """A listed date of birth as the closed range of days it allows; `circa` when the list says so."""

    start: date
    end: date
    circa: bool = False

    @property
    def exact_day(self) -> bool:
        """True when the list gives one day."""
        return self.start == self.end

    def text(self) -> str:
        """How the span reads in evidence: one day, one year, or a range."""
        if self.circa:
            return f"circa {(self.start.year + self.end.year) // 2}"
        prefix = ""
        if self.exact_day:
            return prefix + self.start.isoformat()
        if (self.start.month, self.start.day, self.end.month, self.end.day) == (1, 1, 12, 31):
            years = (
                str(self.start.year)
                if self.start.year == self.end.year
                else f"{self.start.year}–{self.end.year}"
            )
            return prefix + years
        return f"{prefix}{self.start.isoformat()}–{self.end.isoformat()}"


@dataclass(frozen=True)
class Identifiers:
    """What the list says about one entry besides its names."""

    individual: bool
    dobs: tuple[DobSpan, ...] = ()
    nationalities: tuple[str, ...] = ()
    places_of_birth: tuple[str, ...] = ()
    gender: str | None = None
    aliases: tuple[str, ...] = field(default=(), compare=False)

    def as_json(self) -> dict[str, Any]:
        """The stored (and evidence) form."""
        return {
            "individual": self.individual,
            "dobs": [[d.start.isoformat(), d.end.isoformat(), d.circa] for d in self.dobs],
            "nationalities": list(self.nationalities),
            "places_of_birth": list(self.places_of_birth),
            "gender": self.gender,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, individual: bool) -> Identifiers:
        """Back from `as_json` (None: a list loaded before identifiers were kept)."""
        if not data:
            return cls(individual)
        return cls(
            bool(data.get("individual", individual)),
            tuple(
                DobSpan(date.fromisoformat(s), date.fromisoformat(e), bool(c))
                for s, e, c in data.get("dobs", [])
            ),
            tuple(data.get("nationalities", [])),
            tuple(data.get("places_of_birth", [])),
            data.get("gender"),
        )

    def for_evidence(self) -> dict[str, Any]:
        """A reviewer's reading: DOBs as text, countries as codes."""
        return {
            "dates_of_birth": [d.text() for d in self.dobs],
            "nationalities": list(self.nationalities),
            "places_of_birth": list(self.places_of_birth),
            "gender": self.gender,
        }


@dataclass(frozen=True)
class PersonFacts:
    """What we know about the screened customer: verified birth date, nationality (ISO alpha-2)."""

    birth_date: date | None = None
    nationality: str | None = None

    def for_evidence(self) -> dict[str, Any]:
        """The customer's side of the comparison."""
        return {
            "date_of_birth": self.birth_date.isoformat() if self.birth_date else None,
            "nationality": self.nationality,
        }


# ---------------------------------------------------------------------------- parsing


def _span(day: str | None, month: str | None, year: str) -> tuple[date, date] | None:
    y = int(year)
    if month is None:
        return (date(y, 1, 1), date(y, 12, 31)) if day is None else None
    m = _MONTHS.get(month.casefold())
    if m is None:
        return None
    if day is None:
        return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])
    try:
        one = date(y, m, int(day))
    except ValueError:
        return None
    return one, one


def parse_dob(text: str) -> DobSpan | None:
    """One DOB item's value (after "DOB "), or None when it is not a date the list uses."""
    text = text.strip().rstrip(".").strip()
    circa = text.casefold().startswith("circa ")
    if circa:
        text = text[len("circa ") :].strip()
    found = _DATE.match(text)
    if found:
        span = _span(*found.groups())
    else:
        ranged = _RANGE.match(text)
        if ranged is None:
            return None
        first, last = _span(*ranged.groups()[:3]), _span(*ranged.groups()[3:])
        span = (first[0], last[1]) if first and last and first[0] <= last[1] else None
    if span is None:
        return None
    start, end = span
    if circa:
        start = start.replace(year=start.year - CIRCA_YEARS, month=1, day=1)
        end = end.replace(year=end.year + CIRCA_YEARS, month=12, day=31)
    return DobSpan(start, end, circa)


def parse_remarks(remarks: str | None, sdn_type: str | None) -> Identifiers:
    """The identifiers in one entry's Remarks; an entry whose type is not "individual" is an entity."""
    individual = (sdn_type or "").casefold() == "individual"
    dobs: list[DobSpan] = []
    nationalities: list[str] = []
    places: list[str] = []
    aliases: list[str] = []
    gender: str | None = None
    for item in _items(remarks or ""):
        lowered = item.casefold()
        for prefix in ("alt. dob ", "dob "):
            if lowered.startswith(prefix):
                span = parse_dob(item[len(prefix) :])
                if span is not None and span not in dobs:
                    dobs.append(span)
                break
        else:
            if lowered.startswith(("pob ", "alt. pob ")):
                places.append(item.split(" ", 2)[-1] if lowered.startswith("alt.") else item[4:].strip())
            elif lowered.startswith(("nationality ", "alt. nationality ", "citizen ", "alt. citizen ")):
                country = country_code(item.split(" ", 2 if lowered.startswith("alt.") else 1)[-1])
                if country not in nationalities:
                    nationalities.append(country)
            elif lowered in ("gender male", "gender female"):
                gender = lowered.split()[1]
            elif (aka := _AKA.match(item)) is not None:
                aliases.append(aka.group(1))
    return Identifiers(individual, tuple(dobs), tuple(nationalities), tuple(places), gender, tuple(aliases))


def _items(remarks: str) -> Iterable[str]:
    return (item.strip().rstrip(".").strip() for item in remarks.split(";") if item.strip())


# OFAC's spellings that differ from the CLDR English territory names.
_OFAC_COUNTRIES = {
    "korea, north": "KP", "korea, south": "KR", "burma": "MM", "russia": "RU", "iran": "IR", "syria": "SY",
    "congo, democratic republic of the": "CD", "congo, republic of the": "CG", "palestinian": "PS",
    "possibly palestinian": "PS", "region: gaza": "PS", "west bank": "PS", "gaza": "PS",
    "north macedonia, the republic of": "MK", "macedonia": "MK", "the gambia": "GM", "gambia": "GM",
    "cabo verde": "CV", "hong kong": "HK", "macau": "MO", "bosnia and herzegovina": "BA",
    "bosnia-herzegovina": "BA", "czech republic": "CZ", "czechia": "CZ", "turkey": "TR", "turkiye": "TR",
    "cote d ivoire": "CI", "cote d'ivoire": "CI", "saint kitts and nevis": "KN", "laos": "LA",
    "vietnam": "VN", "united states": "US", "united kingdom": "GB", "serbia and montenegro": "RS",
    "yugoslavia": "RS", "soviet union": "RU", "ussr": "RU", "tanzania": "TZ", "moldova": "MD",
    "bolivia": "BO", "venezuela": "VE", "taiwan": "TW", "kosovo": "XK", "trinidad and tobago": "TT",
    "antigua and barbuda": "AG", "saint vincent and the grenadines": "VC", "sao tome and principe": "ST",
}  # fmt: skip


# CLDR regions that are not countries (Kosovo's XK stays: OFAC lists nationals of Kosovo).
_NOT_COUNTRIES = frozenset({"ZZ", "QO", "EU", "EZ", "UN", "XA", "XB"})


@cache
def _territories() -> dict[str, str]:
    names = {
        _country_key(name): code
        for code, name in Locale("en").territories.items()
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    }
    names.update(_OFAC_COUNTRIES)
    return names


def _country_key(name: str) -> str:
    return " ".join(name.casefold().replace("&", "and").split())


def is_country_code(code: str) -> bool:
    """Whether `code` is an ISO 3166 alpha-2 country code (upper case)."""
    return code in _codes()


@cache
def _codes() -> frozenset[str]:
    return frozenset(_territories().values())


def country_code(name: str) -> str:
    """The ISO 3166 alpha-2 code of a country as OFAC writes it; the name itself when unknown."""
    cleaned = name.strip().rstrip(".")
    if len(cleaned) == 2 and cleaned.isalpha():
        return cleaned.upper()
    return _territories().get(_country_key(cleaned), cleaned)


# ---------------------------------------------------------------------------- comparing


class Agreement(StrEnum):
    """How one identifier of the customer compares with the listed ones."""

    MATCH = "match"
    """The customer's value is one the list gives (a DOB inside a listed span)."""
    NEAR = "near"
    """Close but not the same: a DOB within a year of a listed one, or the same year as a listed day."""
    CONTRADICTS = "contradicts"
    """Clearly different from every listed value."""
    UNKNOWN = "unknown"
    """The list or the customer gives no value: nothing to compare."""


def compare_dob(listed: Iterable[DobSpan], birth_date: date | None) -> Agreement:
    """The customer's birth date against every listed DOB; the closest one decides."""
    spans = list(listed)
    if birth_date is None or not spans:
        return Agreement.UNKNOWN
    best = Agreement.CONTRADICTS
    for span in spans:
        if span.start <= birth_date <= span.end:
            return Agreement.MATCH
        if span.start.year - NEAR_YEARS <= birth_date.year <= span.end.year + NEAR_YEARS:
            best = Agreement.NEAR
    return best


def compare_nationality(listed: Iterable[str], nationality: str | None) -> Agreement:
    """The customer's nationality against the listed nationalities and citizenships."""
    countries = list(listed)
    if nationality is None or not countries:
        return Agreement.UNKNOWN
    return Agreement.MATCH if nationality.upper() in countries else Agreement.CONTRADICTS
