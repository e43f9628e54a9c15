"""E-mails about an account's API keys, worded: created, rolled, revoked.

The key's owner decides nothing here; `apikeys/mail.py` says whom to tell about which key. The
mail names the key and its prefix, never the key itself.
"""

from __future__ import annotations

from voucher_exchange import i18n
from voucher_exchange.i18n import N_
from voucher_exchange.ports.mailer import Mailer

SIGNATURE = "voucher-exchange"
_SUBJECTS = {
    "created": N_("A new API key was created for your voucher-exchange account"),
    "rolled": N_("An API key of your voucher-exchange account was rolled"),
    "revoked": N_("An API key of your voucher-exchange account was revoked"),
}
_BODIES = {
    "created": N_(
        "A new API key was created for your account. Programs holding it can act for you within its scopes."
    ),
    "rolled": N_(
        "An API key of your account was replaced by a new one. The old key keeps working until "
        "the overlap ends, then stops."
    ),
    "revoked": N_("An API key of your account was revoked. It no longer works."),
}
_KEY_LINE = N_("Key: {name} ({prefix}…)")
_FOOTER = N_("If this was not you, revoke your keys and reset your password now:")


def compose_key_notice(event: str, lang: str, name: str, prefix: str, manage_url: str) -> tuple[str, str]:
    """(subject, body) of an API key notice in `lang`."""
    body = [
        i18n.gettext(lang, _BODIES[event]),
        "",
        i18n.gettext(lang, _KEY_LINE).format(name=name, prefix=prefix),
        "",
        i18n.gettext(lang, _FOOTER),
        manage_url,
        "",
        SIGNATURE,
    ]
    return i18n.gettext(lang, _SUBJECTS[event]), "\n".join(body)


def send_key_notice(
    mailer: Mailer, to: str, lang: str, event: str, name: str, prefix: str, manage_url: str
) -> None:
    """Word and send an API key notice."""
    subject, body = compose_key_notice(event, lang, name, prefix, manage_url)
    mailer.send(to, subject, body, lang)
