"""The issuer guard's e-mail job: tell every operator an action was taken or lifted.

The job's ref is `<started|lifted>:<action id>`; `notifications.issuers` words the mail.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import Role
from voucher_exchange.context import Context
from voucher_exchange.issuers import repository, views
from voucher_exchange.notifications import issuers as wording
from voucher_exchange.risk.screening import JURISDICTION_TZ


def mail_action(ctx: Context, ref: str) -> None:
    """The job: mail the operators about the action named by `ref`."""
    event, _, raw_id = ref.partition(":")
    if ctx.mailer is None or event not in ("started", "lifted") or not raw_id.isdigit():
        return
    with ctx.uow(readonly=True) as uow:
        action = repository.get_action(uow.conn, int(raw_id))
        operators = [u for u in accounts.staff(uow.conn) if u.has(Role.OPERATOR)]
    if action is None:
        return
    tz = ZoneInfo(JURISDICTION_TZ[ctx.settings.jurisdiction])
    url = ctx.settings.public_url.rstrip("/") + "/staff/issuers"
    for operator in operators:
        notice = wording.IssuerActionNotice(
            event=event,
            issuer=action.issuer,
            sentence=views.words(action, operator.language, tz),
            signal=action.signal.value,
            observed=action.observed,
            threshold=action.threshold,
            brands=tuple(c.slug for c in action.brands),
            lifted_by=action.lifted_by,
            dashboard_url=url,
        )
        wording.send(ctx.mailer, operator.email, operator.language, notice)
