"""Delete my account: refused while money is in flight, while the person owes money after a
reversal, and inside the liability window after their last paid trade (an issuer may still take
a voucher back, and the debt must find the person); otherwise the person is forgotten as far as
the law allows (docs/privacy.md says what is kept and why). Closing the login instead is always
possible once no trade or payout is open: nobody can sign in, and the record stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

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
from voucher_exchange.identity import links
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import Account, seller_payable, seller_receivable
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import PayoutStatus
from voucher_exchange.privacy import repository
from voucher_exchange.reversals import service as reversals
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades.models import TERMINAL, TradeStatus
from voucher_exchange.webhooks import service as webhook_service

SETTLED = frozenset({PayoutStatus.EXECUTED.value, PayoutStatus.REJECTED.value})


def tombstone(user_id: str) -> str:
    """What the e-mail column holds after erasure (unique, and nobody's address)."""
    return f"erased-{user_id}@deleted.invalid"


def money_in_flight(conn: Connection, user_id: str, currency: str) -> bool:
    """True while a trade is open, a payout unsettled, or the exchange owes the person money."""
    if repository.open_trades(conn, user_id, frozenset(s.value for s in TERMINAL)):
        return True
    if repository.unsettled_payouts(conn, user_id, SETTLED):
        return True
    return _open(ledger_repo.account(conn, seller_payable(user_id, currency)))


def _open(account: Account | None) -> bool:
    """A ledger account with a balance or a pending transfer."""
    return account is not None and (
        account.debits_posted != account.credits_posted
        or account.debits_pending != 0
        or account.credits_pending != 0
    )


def _receivable_open(conn: Connection, vault: Vault, user_id: str, currency: str) -> bool:
    """The person owes money after a reversal, on this account or another of theirs (posted or pending)."""
    if _open(ledger_repo.account(conn, seller_receivable(user_id, currency))):
        return True
    return reversals.owed_by_person(conn, vault, user_id, currency).linked.is_positive()


@dataclass(frozen=True)
class ErasureBlocked:
    """Why an account cannot be erased now, and from when it can (None: once settled)."""

    code: str
    possible_from: date | None

    def refusal(self) -> Conflict:
        """The stable 409 the API and the web answer with."""
        if self.code == "money_in_flight":
            message = "You have a trade, payout or balance still open. Delete the account once it is settled."
        elif self.code == "receivable_open":
            message = (
                "You owe money after a reversal. The account can be deleted once it is settled; "
                "you can close your login now instead."
            )
        else:
            assert self.possible_from is not None
            message = (
                "An issuer can still take back a voucher you sold, and you would owe us for it. "
                f"You can delete the account from {self.possible_from.isoformat()}; "
                "you can close your login now instead."
            )
        return Conflict(self.code, message)


def erasure_blocked(
    conn: Connection, vault: Vault, user_id: str, currency: str, window_days: int, now: datetime
) -> ErasureBlocked | None:
    """Why the account may not be erased now (None: it may)."""
    if money_in_flight(conn, user_id, currency):
        return ErasureBlocked("money_in_flight", None)
    if _receivable_open(conn, vault, user_id, currency):
        return ErasureBlocked("receivable_open", None)
    paid_at = repository.last_paid_at(conn, user_id, TradeStatus.PAID.value)
    if paid_at is not None:
        ends = paid_at + timedelta(days=window_days)
        if ends > now:
            # The first whole day after the window (the page shows a date, not an hour).
            return ErasureBlocked("liability_window_open", ends.date() + timedelta(days=1))
    return None


def erasure_status(ctx: Context, user: User) -> ErasureBlocked | None:
    """For the security page: why the account cannot be erased now, if it cannot."""
    with ctx.uow(readonly=True) as uow:
        return erasure_blocked(
            uow.conn,
            ctx.vault,
            user.id,
            ctx.settings.currency,
            ctx.settings.liability_window_days,
            ctx.clock.now(),
        )


def erase_account(ctx: Context, user: User, password: str) -> dict[str, int]:
    """Erase the signed-in person's account (password asked again); what was forgotten."""
    credentials.confirm_password(ctx, user, password)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        # The seller's row lock serialises this with a trade being submitted (PostgreSQL).
        account_repo.by_id(uow.conn, user.id, lock=True)
        blocked = erasure_blocked(
            uow.conn, ctx.vault, user.id, ctx.settings.currency, ctx.settings.liability_window_days, now
        )
        if blocked is not None:
            raise blocked.refusal()
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


def closed_tombstone(user_id: str) -> str:
    """What the e-mail column holds once the login is closed (the address may sign up again)."""
    return f"closed-{user_id}@closed.invalid"


def close_login(ctx: Context, user: User, password: str) -> dict[str, int]:
    """Close the signed-in person's login and keep the record (password asked again).

    Nobody can sign in any more (sessions, API keys and links end; no password matches); the
    trades, identity check, bank accounts and what the person owes stay, and so do the
    fingerprints of their identity and e-mail address: a new account of the same person settles
    the debt (identity/links.py). Refused while a trade or payout is open or we owe them money.
    """
    credentials.confirm_password(ctx, user, password)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        current = account_repo.by_id(conn, user.id, lock=True)
        assert current is not None
        if money_in_flight(conn, user.id, ctx.settings.currency):
            raise ErasureBlocked("money_in_flight", None).refusal()
        links.remember_login(conn, ctx.vault, current, now)
        closed = account_repo.close_login(conn, user.id, closed_tombstone(user.id), now)
        closed["api_keys"] = api_keys.erase_of(conn, user.id)
        closed["webhook_endpoints"] = webhook_service.forget_account(conn, user.id, now)
        audit.record(conn, f"user:{user.id}", "account.login_closed", user.id, closed, now)
        uow.commit()
    return closed
