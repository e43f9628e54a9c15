"""Templates per language, formatting filters, and the headers every page gets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel.numbers import format_decimal
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from voucher_exchange import i18n, korean
from voucher_exchange.catalog.models import Brand
from voucher_exchange.money import Money
from voucher_exchange.payouts import banks
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.security.input_policy import shown
from voucher_exchange.web import labels, profile_cache, staff_words
from voucher_exchange.web.session import CSRF_COOKIE, SESSION_DAYS, Visitor

# No script or style from elsewhere; nothing may frame our pages; forms post only to us.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def _as_money(value: Any) -> Money:
    if isinstance(value, dict):
        return Money(int(value["amount"]), str(value["currency"]))
    assert isinstance(value, Money)
    return value


def _money(value: Any, lang: str) -> str:
    """'45,500원' on Korean pages (as Korean sellers and staff write it), '₩45,500' in English."""
    return i18n.format_amount_text(_as_money(value), lang)


def _with_particles(gettext: Callable[..., str]) -> Callable[..., str]:
    """`_()` whose Korean particles agree with the values put in (korean.resolve)."""

    @pass_context
    def translate(context: Context, message: str, **values: Any) -> str:
        marked = {k: v + korean.MARK if isinstance(v, str) else v for k, v in values.items()}
        text = gettext(context, message, **marked)
        # resolve only drops our markers and adds Hangul particles: escaped text stays escaped.
        return Markup(korean.resolve(text)) if isinstance(text, Markup) else korean.resolve(text)  # noqa: S704

    return translate


def _face_values(brand: Brand, lang: str) -> Markup:
    """A brand's face values in the reader's words and money format; a line never breaks inside an amount."""
    values = brand.face_values

    def fmt(amount: int) -> Markup:
        return Markup('<span class="tok">%s</span>') % i18n.format_amount_text(
            Money(amount, brand.currency), lang
        )

    if values.allowed:
        return Markup(", ").join(fmt(v) for v in values.allowed)
    template = escape(i18n.gettext(lang, "%(low)s to %(high)s, in steps of %(step)s"))
    # An escaped Markup formatted with Markup values: nothing unescaped gets in.
    return template % {"low": fmt(values.minimum), "high": fmt(values.maximum), "step": fmt(values.step)}


def _rate_range(brand: Brand, lang: str) -> str:
    """91% or 90–91%: what a brand pays, over its face-value bands."""
    rates = sorted({b.rate_bps for b in brand.rates.bands})
    if len(rates) == 1:
        return i18n.format_bps(rates[0], lang)
    return f"{i18n.format_bps(rates[0], lang)}–{i18n.format_bps(rates[-1], lang)}"


def _since(at: datetime, start: datetime, lang: str) -> str:
    """How long after `start`: '+0.4초', '+12초', '+3분' (a trade's steps, often within a second)."""
    seconds = max(0.0, (at - start).total_seconds())
    if seconds < 10:
        n, unit = format_decimal(Decimal(str(round(seconds, 1))), "0.0", locale=i18n.locale(lang)), "s"
    elif seconds < 120:
        n, unit = str(round(seconds)), "s"
    else:
        n, unit = str(round(seconds / 60)), "min"
    if lang == "ko":
        return f"+{n}{'초' if unit == 's' else '분'}"
    return f"+{n} {unit}"


def _points(bps: int, lang: str) -> str:
    """A difference between two rates, in percentage points: '5%p' in Korean, '5 points' in English."""
    number = format_decimal(Decimal(bps) / 100, "#,##0.##", locale=i18n.locale(lang))
    return f"{number}%p" if lang == "ko" else f"{number} percentage points"


def _moment(value: Any) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value


@lru_cache(maxsize=2 * len(i18n.LANGUAGES))
def environment(lang: str, tz: str) -> Environment:
    """One Jinja environment per language (its catalogue installed) and time zone."""
    env = Environment(
        loader=PackageLoader("voucher_exchange.web", "templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["gettext"] = _with_particles(env.globals["gettext"])  # type: ignore[arg-type]
    env.filters["money"] = lambda v: _money(v, lang)
    env.filters["shown"] = lambda v: shown(str(v))  # text from a file: control characters escaped
    env.filters["face_values"] = lambda b: _face_values(b, lang)
    env.filters["rate_range"] = lambda b: _rate_range(b, lang)
    env.filters["major"] = lambda v, cur: str(i18n.major_units(Money(int(v), cur)))
    env.filters["bps"] = lambda v: i18n.format_bps(int(v), lang)
    env.filters["amount"] = lambda v: i18n.format_amount_text(_as_money(v), lang)
    env.filters["trade_no"] = labels.trade_number
    env.filters["points"] = lambda v: _points(int(v), lang)
    env.filters["minute"] = lambda v: i18n.format_minute(_moment(v), lang, tz) if v else ""
    # A trade's steps often share a minute: the timeline shows seconds so each time is distinct.
    env.filters["second"] = lambda v: i18n.format_second(_moment(v), lang, tz) if v else ""
    env.filters["since"] = lambda v, start: _since(_moment(v), _moment(start), lang)
    env.filters["day"] = lambda v: i18n.format_day(_moment(v), lang, tz) if v else ""
    env.filters["when"] = lambda v: i18n.format_when(_moment(v), lang, tz) if v else ""
    env.globals.update(
        lang=lang,
        languages=i18n.LANGUAGES,
        status_label=lambda s: i18n.gettext(lang, labels.STATUS.get(str(s), str(s))),
        trade_label=lambda t: i18n.gettext(lang, labels.trade_status(t)),
        honest_refusal=labels.honest_refusal,
        method_label=lambda m: i18n.gettext(lang, labels.METHOD.get(str(m), str(m))),
        bank_name=lambda code: banks.bank_name(str(code), lang),
        STEPS=labels.STEPS,
        ROLES=labels.ROLES,
        brand_status_label=lambda s: i18n.gettext(lang, labels.BRAND_STATUS.get(str(s), str(s))),
        RESTING=labels.RESTING,
        reversal_reason=lambda r: i18n.gettext(lang, labels.REVERSAL_REASON.get(str(r), str(r))),
        PROFILE_LABELS=labels.PROFILE_LABELS,
        CONSENT_KIND=labels.CONSENT_KIND,
        document_kind=lambda k: i18n.gettext(lang, labels.DOCUMENT_KIND.get(str(k), str(k))),
        document_status=lambda s: i18n.gettext(lang, labels.DOCUMENT_STATUS.get(str(s), str(s))),
        document_rejection=lambda r: i18n.gettext(lang, labels.DOCUMENT_REJECTION.get(str(r), str(r))),
    )
    env.filters.update(staff_words.filters(lang, tz))
    env.globals.update(staff_words.helpers(lang))
    return env


def _finish(v: Visitor, response: Response) -> Response:
    if v.new_csrf_seed:
        response.set_cookie(
            CSRF_COOKIE,
            v.csrf_seed,
            max_age=SESSION_DAYS * 86400,
            httponly=True,
            samesite="lax",
            secure=v.secure,
        )
    for name, value in v.cookies.items():
        response.set_cookie(
            name, value, max_age=SESSION_DAYS * 86400, httponly=True, samesite="lax", secure=v.secure
        )
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def page(v: Visitor, template: str, status: int = 200, **values: Any) -> Response:
    """Render a template for this visitor."""
    env = environment(v.lang, JURISDICTION_TZ[v.ctx.settings.jurisdiction])
    html = env.get_template(template).render(
        v=v,
        user=v.user,
        csrf=v.csrf_token,
        path=v.request.url.path,
        currency=v.ctx.settings.currency,
        # Fragments (htmx swaps, `_*.html`) have no footer.
        business=None if template.startswith("_") else profile_cache.business_profile(v.ctx, v.offline),
        **values,
    )
    return _finish(v, HTMLResponse(html, status_code=status))


def unchanged(v: Visitor) -> Response:
    """204: what the page shows is still true (htmx swaps nothing, so a click in progress lands)."""
    return _finish(v, Response(status_code=204))


def redirect(v: Visitor, url: str) -> Response:
    """See other (after a POST)."""
    return _finish(v, RedirectResponse(url, status_code=303))


def safe_next(target: str | None, default: str = "/") -> str:
    """Only our own paths: never `//evil.example` or an absolute URL."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:300]
    return default
