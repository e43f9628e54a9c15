"""E-mails about the account itself: reset and verification links, security notices.

The job's ref names what to send: `link:<start of the fingerprint>` (the token is
decrypted, mailed, then erased), `notice:<kind>:<user id>`, or `none:<nonce>` (the equal work done for
a reset asked for an unknown address: nothing is sent).
"""

from __future__ import annotations

from voucher_exchange import i18n
from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import LinkPurpose, Notice
from voucher_exchange.context import Context
from voucher_exchange.i18n import N_

SIGNATURE = "voucher-exchange"
_LINK_SUBJECTS = {
    LinkPurpose.PASSWORD_RESET: N_("Reset your voucher-exchange password"),
    LinkPurpose.VERIFY_EMAIL: N_("Confirm your e-mail address for voucher-exchange"),
}
_LINK_BODIES = {
    LinkPurpose.PASSWORD_RESET: N_(
        "Someone (we hope you) asked to reset the password of your voucher-exchange account. "
        "Open this link within an hour to choose a new one; it works once:"
    ),
    LinkPurpose.VERIFY_EMAIL: N_(
        "Open this link within 48 hours to confirm that this address is yours; it works once:"
    ),
}
_LINK_FOOTERS = {
    LinkPurpose.PASSWORD_RESET: N_(
        "If you did not ask for this, ignore this e-mail: your password stays as it is."
    ),
    LinkPurpose.VERIFY_EMAIL: N_("If you did not sign up, ignore this e-mail."),
}
_LINK_PATHS = {LinkPurpose.PASSWORD_RESET: "/password-reset/", LinkPurpose.VERIFY_EMAIL: "/verify-email/"}
_NOTICE_SUBJECTS = {
    Notice.PASSWORD_CHANGED: N_("Your voucher-exchange password was changed"),
    Notice.EMAIL_CHANGE_REQUESTED: N_("A change of your voucher-exchange e-mail address was asked for"),
    Notice.SIGN_UP_ATTEMPT: N_("Someone tried to sign up with your address"),
}
_NOTICE_BODIES = {
    Notice.PASSWORD_CHANGED: N_(
        "The password of your voucher-exchange account was just changed, and every other session "
        "was signed out. If this was not you, reset your password now:"
    ),
    Notice.EMAIL_CHANGE_REQUESTED: N_(
        "Someone signed in to your account asked to move it to another e-mail address. It moves "
        "only when the new address is confirmed. If this was not you, reset your password now:"
    ),
    Notice.SIGN_UP_ATTEMPT: N_(
        "Someone tried to create a voucher-exchange account with this address, which already has "
        "one. If it was you, log in, or reset your password if you forgot it:"
    ),
}


def compose_link(purpose: LinkPurpose, lang: str, url: str) -> tuple[str, str]:
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


def compose_notice(notice: Notice, lang: str, reset_url: str) -> tuple[str, str]:
    """(subject, body) of a security notice in `lang`."""
    body = [i18n.gettext(lang, _NOTICE_BODIES[notice]), "", reset_url, "", SIGNATURE]
    return i18n.gettext(lang, _NOTICE_SUBJECTS[notice]), "\n".join(body)


def mail_account(ctx: Context, ref: str) -> None:
    """The job: send the link or notice named by `ref`."""
    kind, _, rest = ref.partition(":")
    base = ctx.settings.public_url.rstrip("/")
    if kind == "link":
        _mail_link(ctx, rest, base)
    elif kind == "notice":
        name, _, rest = rest.partition(":")
        user_id = rest
        with ctx.uow(readonly=True) as uow:
            user = accounts.by_id(uow.conn, user_id)
        if user is None or ctx.mailer is None:
            return
        subject, body = compose_notice(Notice(name), user.language, base + "/password-reset")
        ctx.mailer.send(user.email, subject, body, user.language)


def _mail_link(ctx: Context, prefix: str, base: str) -> None:
    with ctx.uow(readonly=True) as uow:
        link = accounts.link_by_prefix(uow.conn, prefix)
        user = accounts.by_id(uow.conn, link.user_id) if link else None
    if link is None or user is None or link.token_enc is None:
        return  # already mailed, or spent before the mail went out
    token_hash = link.token_hash
    if ctx.mailer is not None:
        token = ctx.vault.decrypt(link.token_enc, token_hash.encode()).decode()
        subject, body = compose_link(link.purpose, user.language, base + _LINK_PATHS[link.purpose] + token)
        ctx.mailer.send(link.email, subject, body, user.language)
    with ctx.uow() as uow:
        accounts.forget_link_token(uow.conn, token_hash)
        uow.commit()
