"""Korean and English: gettext catalogues (Babel), money and dates formatted per locale.

English is the source language; `locale/ko/LC_MESSAGES/messages.po` holds the Korean.
The .po file is compiled in memory when first needed, so no generated file is shipped.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from io import BytesIO
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

from voucher_exchange.money import CURRENCY_EXPONENTS, Money

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
_LOCALES = {"ko": "ko_KR", "en": "en_US"}


def N_(message: str) -> str:  # noqa: N802  # the gettext convention for "mark, translate later"
    """Mark a message for extraction; it is translated where it is shown."""
    return message


def pick(*candidates: str | None) -> str:
    """The first supported language among the candidates (cookie, account, Accept-Language)."""
    for candidate in candidates:
        tag = (candidate or "").strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue for `lang` (English needs none)."""
    if lang == "en":
        return NullTranslations()
    source = resources.files("voucher_exchange").joinpath(f"locale/{lang}/LC_MESSAGES/messages.po")
    with source.open("rb") as po:
        catalog = read_po(po, locale=lang)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def gettext(lang: str, message: str) -> str:
    """`message` in `lang`."""
    return translations(lang).gettext(message)


def locale(lang: str) -> Locale:
    """The Babel locale for a language."""
    return Locale.parse(_LOCALES.get(lang, _LOCALES["en"]))


def major_units(money: Money) -> Decimal:
    """100 USD cents → Decimal('1.00'); KRW has no minor unit."""
    return Decimal(money.amount).scaleb(-CURRENCY_EXPONENTS[money.currency])


def format_money(money: Money, lang: str) -> str:
    """₩50,000 / $25.00, as the reader's locale writes it."""
    return format_currency(major_units(money), money.currency, locale=locale(lang))


def format_amount_text(money: Money, lang: str) -> str:
    """An amount inside a sentence: '45,500원' in Korean (as people write it), '₩45,500' in English."""
    if lang == "ko" and money.currency == "KRW":
        return format_decimal(major_units(money), "#,##0", locale=locale(lang)) + "원"
    return format_money(money, lang)


def format_bps(bps: int, lang: str) -> str:
    """Basis points as a percentage: 9150 → 91.5%."""
    return format_percent(Decimal(bps) / 10000, "#,##0.##%", locale=locale(lang))


def format_when(at: datetime, lang: str, tz: str) -> str:
    """A moment in the jurisdiction's time zone, as the reader's locale writes it."""
    return format_datetime(at, "medium", tzinfo=ZoneInfo(tz), locale=locale(lang))


_DAYS = {"ko": "yyyy년 M월 d일", "en": "MMMM d, yyyy"}


def format_day(at: datetime, lang: str, tz: str) -> str:
    """A calendar day in the jurisdiction's time zone (when a text takes effect)."""
    return format_datetime(at, _DAYS.get(lang, _DAYS["en"]), tzinfo=ZoneInfo(tz), locale=locale(lang))


_MINUTES = {"ko": "yyyy. M. d. a h:mm", "en": "MMM d, yyyy, h:mm a"}


_SECONDS = {"ko": "yyyy. M. d. a h:mm:ss", "en": "MMM d, yyyy, h:mm:ss a"}


def format_second(at: datetime, lang: str, tz: str) -> str:
    """A moment to the second (a trade's steps, often all within one minute)."""
    return format_datetime(at, _SECONDS.get(lang, _SECONDS["en"]), tzinfo=ZoneInfo(tz), locale=locale(lang))


def format_minute(at: datetime, lang: str, tz: str) -> str:
    """A moment to the minute (timelines): seconds are noise to a reader."""
    return format_datetime(at, _MINUTES.get(lang, _MINUTES["en"]), tzinfo=ZoneInfo(tz), locale=locale(lang))
