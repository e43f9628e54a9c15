"""The account e-mail job: which link or notice to send, to whom, in what language.

The job's ref names what to send: `link:<start of the fingerprint>` (the token is decrypted,
mailed, then erased), `notice:<kind>:<user id>`, or `none:<nonce>` (the equal work done for a
reset asked for an unknown address: nothing is sent). `notifications.accounts` words it.
"""

from __future__ import annotations

from voucher_exchange import i18n
from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import LinkPurpose, Notice
from voucher_exchange.context import Context
from voucher_exchange.notifications import accounts as wording
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import ConsentKind

LINK_PATHS = {LinkPurpose.PASSWORD_RESET: "/password-reset/", LinkPurpose.VERIFY_EMAIL: "/verify-email/"}


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
        wording.send_notice(ctx.mailer, user.email, user.language, Notice(name), base + "/password-reset")


def _mail_link(ctx: Context, prefix: str, base: str) -> None:
    with ctx.uow(readonly=True) as uow:
        link = accounts.link_by_prefix(uow.conn, prefix)
        user = accounts.by_id(uow.conn, link.user_id) if link else None
    if link is None or user is None or link.token_enc is None:
        return  # already mailed, or spent before the mail went out
    token_hash = link.token_hash
    if ctx.mailer is not None:
        token = ctx.vault.decrypt(link.token_enc, token_hash.encode()).decode()
        url = base + LINK_PATHS[link.purpose] + token
        wording.send_link(ctx.mailer, link.email, user.language, link.purpose, url)
    with ctx.uow() as uow:
        accounts.forget_link_token(uow.conn, token_hash)
        uow.commit()


CONSENT_PATHS = {
    ConsentKind.TERMS: "/terms",
    ConsentKind.PRIVACY: "/privacy",
    ConsentKind.MARKETING: "/privacy",
}


def mail_consent_notice(ctx: Context, ref: str) -> None:
    """The job: tell one seller, in their language, of a new version of a text they accepted
    (ref `<kind>:<version>:<user id>`, queued by `trust.service.publish`)."""
    kind, number, user_id = ref.split(":", 2)
    with ctx.uow(readonly=True) as uow:
        doc = trust.document_version(uow.conn, ConsentKind(kind), int(number))
        user = accounts.by_id(uow.conn, user_id)
    if doc is None or user is None or doc.effective_at is None or ctx.mailer is None:
        return
    title, _ = doc.in_language(user.language)
    tz = JURISDICTION_TZ[ctx.settings.jurisdiction]
    day = i18n.format_day(doc.effective_at, user.language, tz)
    url = f"{ctx.settings.public_url.rstrip('/')}{CONSENT_PATHS[doc.kind]}?version={doc.version}"
    wording.send_consent_notice(ctx.mailer, user.email, user.language, title, doc.version, day, url)
