"""Reading what people type: amounts in major units, errors in their language."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from voucher_exchange import i18n
from voucher_exchange.errors import DomainError, InvalidInput
from voucher_exchange.money import CURRENCY_EXPONENTS, MAX_MINOR_UNITS, Money
from voucher_exchange.web import labels


def parse_amount(text: str, currency: str, field: str = "face_value") -> Money:
    """'50,000' → ₩50,000; '25.50' → $25.50. Refuses fractions a currency does not have."""
    cleaned = text.strip().replace(",", "").replace(" ", "").lstrip("₩$")
    try:
        major = Decimal(cleaned)
    except InvalidOperation as exc:
        raise InvalidInput("amount_invalid", "Enter an amount in numbers.", field) from exc
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
    try:
        bps = Decimal(text.strip().rstrip("%")) * 100
    except InvalidOperation as exc:
        raise InvalidInput("rate_invalid", "Enter a rate in percent.", "rate") from exc
    if not bps.is_finite() or bps != bps.to_integral_value() or not 100 <= bps <= 10000:
        raise InvalidInput("rate_invalid", "Enter rates between 1% and 100%.", "rate")
    return int(bps)


def message(error: DomainError, lang: str) -> str:
    """The error in the reader's language (the service's own words when we have no translation)."""
    known = labels.ERRORS.get(error.code)
    return i18n.gettext(lang, known) if known else error.message
