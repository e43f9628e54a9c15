"""E-mails to the operators about the issuer guard: an action was taken on an issuer, or lifted.

`issuers/mail.py` says what happened and to whom; this words it in the operator's language.
"""

from __future__ import annotations

from dataclasses import dataclass

from voucher_exchange import i18n
from voucher_exchange.i18n import N_
from voucher_exchange.ports.mailer import Mailer

SIGNATURE = "voucher-exchange"
_SUBJECTS = {
    "started": N_("Issuer guard: action taken on {issuer}"),
    "lifted": N_("Issuer guard: action on {issuer} lifted"),
}
_SIGNAL_LINE = N_("Signal {signal}: {observed} (threshold {threshold}).")
_BRANDS_LINE = N_("Brands: {brands}")
_LIFTED_LINE = N_("Lifted by {actor}.")
_FOOTER = N_("The issuer dashboard shows the signals, the exposure and every action:")


@dataclass(frozen=True)
class IssuerActionNotice:
    """What to tell the operators: the event, the issuer, what sellers were told, and the figures."""

    event: str  # started | lifted
    issuer: str
    sentence: str  # the action in plain words, already in the operator's language
    signal: str
    observed: int
    threshold: int
    brands: tuple[str, ...]
    lifted_by: str | None
    dashboard_url: str


def compose(notice: IssuerActionNotice, lang: str) -> tuple[str, str]:
    """(subject, body) in `lang`."""
    lines = [
        notice.sentence,
        "",
        i18n.gettext(lang, _SIGNAL_LINE).format(
            signal=notice.signal, observed=notice.observed, threshold=notice.threshold
        ),
        i18n.gettext(lang, _BRANDS_LINE).format(brands=", ".join(notice.brands) or "—"),
    ]
    if notice.event == "lifted" and notice.lifted_by:
        lines.append(i18n.gettext(lang, _LIFTED_LINE).format(actor=notice.lifted_by))
    lines += ["", i18n.gettext(lang, _FOOTER), notice.dashboard_url, "", SIGNATURE]
    return i18n.gettext(lang, _SUBJECTS[notice.event]).format(issuer=notice.issuer), "\n".join(lines)


def send(mailer: Mailer, to: str, lang: str, notice: IssuerActionNotice) -> None:
    """Word and send one operator's notice."""
    subject, body = compose(notice, lang)
    mailer.send(to, subject, body, lang)
