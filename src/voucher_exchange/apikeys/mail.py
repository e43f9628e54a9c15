"""The API key e-mail job: tell the account's owner a key was created, rolled or revoked.

The job's ref is `<event>:<key id>`; the mail names the key and its prefix, never the secret
(which was never stored). `notifications.api_keys` words it.
"""

from __future__ import annotations

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.apikeys import repository
from voucher_exchange.apikeys.models import KeyEvent
from voucher_exchange.context import Context
from voucher_exchange.notifications import api_keys as wording


def mail_key_event(ctx: Context, ref: str) -> None:
    """The job: mail the owner about the key event named by `ref`."""
    event, _, key_id = ref.partition(":")
    with ctx.uow(readonly=True) as uow:
        user_id = repository.owner_of(uow.conn, key_id)
        user = accounts.by_id(uow.conn, user_id) if user_id else None
        key = repository.of_user(uow.conn, user_id, key_id) if user_id else None
    if key is None or user is None or ctx.mailer is None:
        return  # the account was erased meanwhile (its keys with it), or mail is off
    reset = ctx.settings.public_url.rstrip("/") + "/password-reset"
    event = KeyEvent(event).value
    wording.send_key_notice(ctx.mailer, user.email, user.language, event, key.name, key.prefix, reset)
