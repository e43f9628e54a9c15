"""E-mails about the account itself, worded: reset and verification links, security notices.

Accounts own the facts (`accounts/mail.py` runs the job and says whom to tell what); this
module only words and sends, keyed by the link purpose's and notice's stable names.
"""

from __future__ import annotations

from voucher_exchange import i18n, korean
from voucher_exchange.i18n import N_
from voucher_exchange.ports.mailer import Mailer

SIGNATURE = "voucher-exchange"
_LINK_SUBJECTS = {
    "password_reset": N_("Reset your voucher-exchange password"),
    "verify_email": N_("Confirm your e-mail address for voucher-exchange"),
}
_LINK_BODIES = {
    "password_reset": N_(
        "Someone (we hope you) asked to reset the password of your voucher-exchange account. "
        "Open this link within an hour to choose a new one; it works once:"
    ),
    "verify_email": N_(
        "Open this link within 48 hours to confirm that this address is yours; it works once:"
    ),
}
_LINK_FOOTERS = {
    "password_reset": N_("If you did not ask for this, ignore this e-mail: your password stays as it is."),
    "verify_email": N_("If you did not sign up, ignore this e-mail."),
}
_LINK_PATHS = {"password_reset": "/password-reset/", "verify_email": "/verify-email/"}
_NOTICE_SUBJECTS = {
    "password_changed": N_("Your voucher-exchange password was changed"),
    "email_change": N_("A change of your voucher-exchange e-mail address was asked for"),
    "sign_up_attempt": N_("Someone tried to sign up with your address"),
}
_NOTICE_BODIES = {
    "password_changed": N_(
        "The password of your voucher-exchange account was just changed, and every other session "
        "was signed out. If this was not you, reset your password now:"
    ),
    "email_change": N_(
        "Someone signed in to your account asked to move it to another e-mail address. It moves "
        "only when the new address is confirmed. If this was not you, reset your password now:"
    ),
    "sign_up_attempt": N_(
        "Someone tried to create a voucher-exchange account with this address, which already has "
        "one. If it was you, log in, or reset your password if you forgot it:"
    ),
}


def compose_link(purpose: str, lang: str, url: str) -> tuple[str, str]:
    """(subject, body) of a link e-mail in `lang`."""
    body = [
        i18n.gettext(lang, _LINK_BODIES[purpose]),
        "",
        url,
        "",
        i18n.gettext(lang, _LINK_FOOTERS[purpose]),
        "",
        SIGNATURE,
    ]
    return i18n.gettext(lang, _LINK_SUBJECTS[purpose]), "\n".join(body)


def compose_notice(notice: str, lang: str, reset_url: str) -> tuple[str, str]:
    """(subject, body) of a security notice in `lang`."""
    body = [i18n.gettext(lang, _NOTICE_BODIES[notice]), "", reset_url, "", SIGNATURE]
    return i18n.gettext(lang, _NOTICE_SUBJECTS[notice]), "\n".join(body)


def send_link(mailer: Mailer, to: str, lang: str, purpose: str, url: str) -> None:
    """Word and send a link e-mail (accounts decided whom, which link and in what language)."""
    subject, body = compose_link(purpose, lang, url)
    mailer.send(to, subject, body, lang)


def send_notice(mailer: Mailer, to: str, lang: str, notice: str, reset_url: str) -> None:
    """Word and send a security notice."""
    subject, body = compose_notice(notice, lang, reset_url)
    mailer.send(to, subject, body, lang)


# A new version of a text the seller accepted: what, from when, where to read it, and what they may do.
_CONSENT_SUBJECT = N_("%(title)s change on %(day)s")
_CONSENT_BODY = N_(
    "We published a new version (version %(version)s) of “%(title)s”, which you agreed to. "
    "It applies from %(day)s. Read it here:"
)
_CONSENT_FOOTER = N_(
    "Until then the version you accepted applies. If you do not agree, you can close your account "
    "before that day (on the account page); trades already paid are not affected."
)


def compose_consent_notice(title: str, version: int, day: str, lang: str, url: str) -> tuple[str, str]:
    """(subject, body) of the notice of a new consent text version, in `lang`."""
    # The title is marked so a Korean particle after it agrees with it (korean.resolve).
    values = {"title": title + korean.MARK, "version": version, "day": day}
    body = [
        korean.resolve(i18n.gettext(lang, _CONSENT_BODY) % values),
        "",
        url,
        "",
        i18n.gettext(lang, _CONSENT_FOOTER),
        "",
        SIGNATURE,
    ]
    return korean.resolve(i18n.gettext(lang, _CONSENT_SUBJECT) % values), "\n".join(body)


def send_consent_notice(
    mailer: Mailer, to: str, lang: str, title: str, version: int, day: str, url: str
) -> None:
    """Word and send the notice of a new consent text version."""
    subject, body = compose_consent_notice(title, version, day, lang, url)
    mailer.send(to, subject, body, lang)
