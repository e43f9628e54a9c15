"""Reading what people type: amounts in major units, errors in their language."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import Form
from pydantic import AfterValidator

from voucher_exchange import i18n, korean
from voucher_exchange.errors import DomainError, InvalidInput
from voucher_exchange.money import CURRENCY_EXPONENTS, MAX_MINOR_UNITS, Money
from voucher_exchange.security.input_policy import NAME_MAX, PHONE_MAX, multi_line, single_line
from voucher_exchange.web import labels

# Form fields under the one input policy (security/input_policy.py): no control characters,
# and the length of the column or vendor the value goes to.
Text = Annotated[str, Form(max_length=300), AfterValidator(single_line)]
NameText = Annotated[str, Form(max_length=NAME_MAX), AfterValidator(single_line)]
PhoneText = Annotated[str, Form(max_length=PHONE_MAX), AfterValidator(single_line)]
BankCodeText = Annotated[str, Form(max_length=11), AfterValidator(single_line)]
AccountNumberText = Annotated[str, Form(max_length=30), AfterValidator(single_line)]
NoteText = Annotated[str, Form(max_length=2000), AfterValidator(multi_line)]
CodesText = Annotated[str, Form(max_length=20000), AfterValidator(multi_line)]

# Plain digits with an optional fraction: nothing Decimal could overflow on or signal about
# ('1e999999999', 'sNaN', 'Infinity' never reach it).
_AMOUNT = re.compile(r"[0-9]{1,16}(\.[0-9]{1,4})?")
_PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,4})?")


def check_text(text: str, field: str) -> None:
    """Text from an uploaded file under the same policy as a form field."""
    try:
        multi_line(text)
    except ValueError as exc:
        raise InvalidInput("text_invalid", "The text holds characters it may not.", field) from exc


def parse_amount(text: str, currency: str, field: str = "face_value") -> Money:
    """'50,000', '50,000원', '5만원', '5만 5천원', '₩50,000' → ₩50,000; '25.50' → $25.50.

    Refuses fractions a currency does not have; anything else typed is a field error, never a crash.
    """
    cleaned = "".join(text[:60].split()).replace(",", "")
    cleaned = cleaned.removeprefix("₩").removeprefix("$").removeprefix("￦")
    cleaned = cleaned.removesuffix("원").removesuffix("KRW").removesuffix("USD")
    if currency == "KRW" and (major_ko := korean.korean_number(cleaned)) is not None:
        cleaned = str(major_ko)
    if len(text) > 60 or not _AMOUNT.fullmatch(cleaned):
        raise InvalidInput("amount_invalid", "Enter an amount in numbers.", field)
    major = Decimal(cleaned)
    minor = major.scaleb(CURRENCY_EXPONENTS[currency])
    if not major.is_finite() or minor != minor.to_integral_value() or not 0 < minor <= MAX_MINOR_UNITS:
        raise InvalidInput("amount_invalid", "Enter an amount in numbers.", field)
    return Money(int(minor), currency)


def parse_date(text: str, field: str) -> date:
    """'1990-05-17' → a date, or the field's own error code."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        code = "birth_date_invalid" if field == "birth_date" else "acquired_on_invalid"
        raise InvalidInput(code, "Enter a date like 1990-05-17.", field) from exc


def parse_percent_bps(text: str) -> int:
    """'91.5' (percent) → 9150 basis points."""
    cleaned = text.strip().rstrip("%").strip()
    if not _PERCENT.fullmatch(cleaned):
        raise InvalidInput("rate_invalid", "Enter a rate in percent.", "rate")
    bps = Decimal(cleaned) * 100
    if not bps.is_finite() or bps != bps.to_integral_value() or not 100 <= bps <= 10000:
        raise InvalidInput("rate_invalid", "Enter rates between 1% and 100%.", "rate")
    return int(bps)


def parse_whole(text: str, field: str, code: str) -> int:
    """'10' → 10 (digits only, at most six), or `code` on the field."""
    cleaned = text.strip().rstrip("%").strip()
    if not cleaned.isascii() or not cleaned.isdigit() or len(cleaned) > 6:
        raise InvalidInput(code, "Enter a whole number.", field)
    return int(cleaned)


def message(error: DomainError, lang: str) -> str:
    """The error in the reader's language (the service's own words when we have no translation)."""
    known = labels.ERRORS.get(error.code)
    return i18n.gettext(lang, known) if known else error.message
