"""Delete my account: refused while money is in flight; otherwise the person is forgotten
as far as the law allows (docs/privacy.md says what is kept and why).
"""

from __future__ import annotations

from sqlalchemy import Connection

from voucher_exchange import idempotency
from voucher_exchange.accounts import credentials
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import User
from voucher_exchange.apikeys import service as api_keys
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict
from voucher_exchange.identity import documents as identity_documents
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import seller_payable, seller_receivable
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import PayoutStatus
from voucher_exchange.privacy import repository
from voucher_exchange.trades.models import TERMINAL
from voucher_exchange.webhooks import service as webhook_service

SETTLED = frozenset({PayoutStatus.EXECUTED.value, PayoutStatus.REJECTED.value})


def tombstone(user_id: str) -> str:
    """What the e-mail column holds after erasure (unique, and nobody's address)."""
    return f"erased-{user_id}@deleted.invalid"


def money_in_flight(conn: Connection, user_id: str, currency: str) -> bool:
    """True while a trade is open, a payout unsettled, or the person is owed or owes money."""
    if repository.open_trades(conn, user_id, frozenset(s.value for s in TERMINAL)):
        return True
    if repository.unsettled_payouts(conn, user_id, SETTLED):
        return True
    for ref in (seller_payable(user_id, currency), seller_receivable(user_id, currency)):
        account = ledger_repo.account(conn, ref)
        if account is not None and (
            account.debits_posted != account.credits_posted
            or account.debits_pending
            or account.credits_pending
        ):
            return True
    return False


def erase_account(ctx: Context, user: User, password: str) -> dict[str, int]:
    """Erase the signed-in person's account (password asked again); what was forgotten."""
    credentials.confirm_password(ctx, user, password)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        # The seller's row lock serialises this with a trade being submitted (PostgreSQL).
        account_repo.by_id(uow.conn, user.id, lock=True)
        if money_in_flight(uow.conn, user.id, ctx.settings.currency):
            raise Conflict(
                "money_in_flight",
                "You have a trade, payout or balance still open. Delete the account once it is settled.",
            )
        conn = uow.conn
        erased = account_repo.erase(conn, user.id, tombstone(user.id), now)
        erased["idempotency_keys"] = idempotency.forget(conn, user.id)
        # Its API keys stop working in the same transaction (every process looks keys up each time).
        erased["api_keys"] = api_keys.erase_of(conn, user.id)
        erased["payout_destinations"] = payout_repo.erase_unused_destinations(
            conn, user.id, repository.destinations_named_by_trades(user.id)
        )
        erased["webhook_endpoints"] = webhook_service.forget_account(conn, user.id, now)
        # The ID images go once this commits; the decisions stay (docs/privacy.md).
        erased["identity_documents"] = identity_documents.forget_account(
            uow, ctx.settings.identity_document_dir, user.id, now
        )
        audit.record(uow.conn, f"user:{user.id}", "account.erased", user.id, erased, now)
        uow.commit()
    return erased
