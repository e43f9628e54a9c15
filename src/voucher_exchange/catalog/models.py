"""Brands as plain values: code formats, face values, rate bands. No I/O here."""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import BPS_DENOMINATOR, Money

ALPHABETS = {"digits": string.digits, "alnum": string.ascii_uppercase + string.digits}
MAX_CODE_INPUT = 64
_SEPARATORS = re.compile(r"[\s\-]")


class BrandStatus(StrEnum):
    """Whether a brand can be quoted and traded."""

    ACTIVE = "active"
    """Quoted and bought normally."""
    PAUSED = "paused"
    """Temporarily not bought (operator's choice); existing trades continue."""
    SUSPENDED = "suspended"
    """Issuer insolvent or unsafe: never bought, pending trades are refused."""


def status_change_needs_confirmation(current: BrandStatus, wanted: BrandStatus) -> bool:
    """Suspending refuses trades already in progress; lifting a suspension trusts the issuer again."""
    return wanted is not current and BrandStatus.SUSPENDED in (current, wanted)


def luhn_check_digit(digits: str) -> str:
    """The Luhn digit that makes `digits + d` valid."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when the last digit is the Luhn check digit of the rest."""
    return number.isdigit() and luhn_check_digit(number[:-1]) == number[-1]


@dataclass(frozen=True)
class CodeFormat:
    """How a brand's codes (and PINs) look: alphabet, length, prefix, check digit."""

    alphabet: str
    length: int
    prefix: str = ""
    check: str | None = None  # "luhn" or None
    pin_length: int | None = None
    groups: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeFormat:
        """Parse the catalog's JSON form."""
        fmt = cls(
            alphabet=data["alphabet"],
            length=int(data["length"]),
            prefix=data.get("prefix", ""),
            check=data.get("check"),
            pin_length=data.get("pin_length"),
            groups=tuple(data.get("groups", ())),
        )
        if fmt.alphabet not in ALPHABETS or fmt.check not in (None, "luhn"):
            raise ValueError(f"bad code format {data}")
        if fmt.check == "luhn" and fmt.alphabet != "digits":
            raise ValueError("a Luhn check digit needs a digits-only code")
        return fmt

    def as_json(self) -> dict[str, Any]:
        """The catalog's JSON form."""
        return {
            "alphabet": self.alphabet,
            "length": self.length,
            "prefix": self.prefix,
            "check": self.check,
            "pin_length": self.pin_length,
            "groups": list(self.groups),
        }

    def normalise(self, code: str) -> str:
        """Upper-case, separators removed: the form that is checked and fingerprinted."""
        return _SEPARATORS.sub("", code).upper()

    def validate(self, code: str, pin: str | None) -> tuple[str, str | None]:
        """Normalised (code, pin), or InvalidInput saying what is wrong (never echoing it)."""
        if len(code) > MAX_CODE_INPUT:
            raise InvalidInput("voucher_code_format", "The voucher code is too long.", "voucher.code")
        norm = self.normalise(code)
        allowed = ALPHABETS[self.alphabet]
        kind = "digits" if self.alphabet == "digits" else "letters and digits"
        if len(norm) != self.length or any(ch not in allowed for ch in norm):
            raise InvalidInput(
                "voucher_code_format",
                f"This brand's codes have {self.length} {kind}. Check the code and try again.",
                "voucher.code",
            )
        if not norm.startswith(self.prefix):
            raise InvalidInput(
                "voucher_code_format",
                f"This brand's codes start with {self.prefix!r}.",
                "voucher.code",
            )
        if self.check == "luhn" and not luhn_valid(norm):
            raise InvalidInput(
                "voucher_code_format",
                "The code's check digit does not match: a digit may be mistyped.",
                "voucher.code",
            )
        if self.pin_length is None:
            if pin:
                raise InvalidInput("voucher_pin_format", "This brand has no PIN.", "voucher.pin")
            return norm, None
        clean_pin = _SEPARATORS.sub("", pin or "")
        if len(clean_pin) != self.pin_length or not clean_pin.isdigit():
            raise InvalidInput(
                "voucher_pin_format",
                f"This brand needs a {self.pin_length}-digit PIN.",
                "voucher.pin",
            )
        return norm, clean_pin

    def generate(self, rng: random.Random) -> tuple[str, str | None]:
        """A fresh valid (code, pin) of this format; the sandbox issuer mints with it."""
        alphabet = ALPHABETS[self.alphabet]
        body_len = self.length - len(self.prefix) - (1 if self.check else 0)
        body = self.prefix + "".join(rng.choice(alphabet) for _ in range(body_len))
        code = body + luhn_check_digit(body) if self.check == "luhn" else body
        pin = "".join(rng.choice(string.digits) for _ in range(self.pin_length)) if self.pin_length else None
        return code, pin


@dataclass(frozen=True)
class FaceValues:
    """Allowed face values: an explicit list, or a min/max/step range (minor units)."""

    allowed: tuple[int, ...] = ()
    minimum: int = 0
    maximum: int = 0
    step: int = 1

    @classmethod
    def from_json(cls, data: dict[str, Any] | list[int]) -> FaceValues:
        """Parse `[5000, 10000]` or `{"min": 1000, "max": 50000, "step": 100}`."""
        if isinstance(data, list):
            return cls(allowed=tuple(sorted(int(v) for v in data)))
        return cls(minimum=int(data["min"]), maximum=int(data["max"]), step=int(data["step"]))

    def as_json(self) -> dict[str, int] | list[int]:
        """The catalog's JSON form."""
        if self.allowed:
            return list(self.allowed)
        return {"min": self.minimum, "max": self.maximum, "step": self.step}

    def permits(self, amount: int) -> bool:
        """True when `amount` is a face value this brand is sold in."""
        if self.allowed:
            return amount in self.allowed
        return self.minimum <= amount <= self.maximum and (amount - self.minimum) % self.step == 0

    def describe(self) -> str:
        """Plain words for an error message."""
        if self.allowed:
            return "one of " + ", ".join(str(v) for v in self.allowed)
        return f"between {self.minimum} and {self.maximum} in steps of {self.step}"


@dataclass(frozen=True)
class RateBand:
    """From `min_face` (inclusive, minor units) upwards the buy rate is `rate_bps`."""

    min_face: int
    rate_bps: int


@dataclass(frozen=True)
class RateSchedule:
    """One immutable version of a brand's buy rates."""

    version: int
    bands: tuple[RateBand, ...]

    def __post_init__(self) -> None:
        if not self.bands or self.bands[0].min_face != 0:
            raise InvalidInput("rate_bands_invalid", "The first rate band must start at 0.")
        for band in self.bands:
            if not 0 < band.rate_bps < BPS_DENOMINATOR:
                raise InvalidInput("rate_invalid", "Rates are between 1 and 9999 basis points.")
        faces = [b.min_face for b in self.bands]
        if faces != sorted(set(faces)):
            raise InvalidInput("rate_bands_invalid", "Rate bands must ascend by face value.")

    def rate_for(self, face_value: int) -> int:
        """The basis points paid for a voucher of this face value."""
        rate = self.bands[0].rate_bps
        for band in self.bands:
            if face_value >= band.min_face:
                rate = band.rate_bps
        return rate

    @staticmethod
    def bands_from_json(data: list[dict[str, int]]) -> tuple[RateBand, ...]:
        """Parse `[{"min_face": 0, "rate_bps": 9000}, ...]`."""
        return tuple(RateBand(int(b["min_face"]), int(b["rate_bps"])) for b in data)


# A rate moved by more than this (at any band's face value) asks the operator to confirm: a typo
# like 8.5 for 85 would otherwise pay sellers a tenth of the value until someone notices.
BIG_RATE_STEP_BPS = 500


def is_big_rate_change(current: RateSchedule, bands: list[dict[str, int]]) -> bool:
    """True when `bands` move the rate at any band's face value by more than BIG_RATE_STEP_BPS."""
    new = RateSchedule(current.version + 1, RateSchedule.bands_from_json(bands))
    faces = {b.min_face for b in current.bands} | {b["min_face"] for b in bands}
    return any(abs(new.rate_for(face) - current.rate_for(face)) > BIG_RATE_STEP_BPS for face in faces)


@dataclass(frozen=True)
class BrandStanding:
    """What a trade in progress needs of its brand: may it be bought, is it scam-favoured, and
    its names (the seller's notice names it)."""

    status: BrandStatus
    scam_favoured: bool
    name_ko: str
    name_en: str

    def name(self, lang: str) -> str:
        """The brand's display name in `lang`."""
        return self.name_ko if lang == "ko" else self.name_en


@dataclass(frozen=True)
class Brand:
    """A voucher product of one issuer, with its current rate schedule."""

    slug: str
    currency: str
    name_ko: str
    name_en: str
    issuer: str
    status: BrandStatus
    face_values: FaceValues
    code_format: CodeFormat
    rates: RateSchedule
    scam_favoured: bool = False
    daily_cap: int | None = None
    """Face value (minor units) bought per day at most (the issuer guard's cap); None: no cap."""

    def check_face_value(self, face_value: Money) -> None:
        """Refuse a face value in the wrong currency or not sold by this brand."""
        if face_value.currency != self.currency:
            raise InvalidInput(
                "currency_mismatch",
                f"{self.name_en} vouchers are in {self.currency}.",
                "face_value.currency",
            )
        if not self.face_values.permits(face_value.amount):
            raise InvalidInput(
                "face_value_invalid",
                f"{self.name_en} face values are {self.face_values.describe()}.",
                "face_value.amount",
            )
