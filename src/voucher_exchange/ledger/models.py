"""The generic double-entry ledger: accounts, transfers, two-phase pending/post/void.

Every transfer moves a positive amount from one debited account to one credited
account in the same currency, so each transfer balances by construction and all
accounts together always sum to zero per currency. Balance = debits − credits.

The ledger knows no trades and no payouts: a transfer carries an opaque `reference`
("trade:<id>", "payout:<id>", "funding:<bank ref>") chosen by whoever posts it. The
posting rules that name trades and payouts live with them (`trades/postings.py`,
`payouts/postings.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from voucher_exchange.money import Money


class AccountKind(StrEnum):
    """What an account represents."""

    TREASURY = "treasury"
    """The operator's bank money that payouts are sent from (asset)."""
    CAPITAL = "capital"
    """The operator's funding of the treasury (equity)."""
    INVENTORY = "inventory"
    """Value secured at an issuer, per brand (asset)."""
    SELLER_PAYABLE = "seller_payable"
    """What the exchange owes one seller (liability)."""
    MARGIN = "margin"
    """Fees earned (revenue)."""
    REVERSALS = "reversals"
    """Clawbacks after payout (contra): what the issuer took back, less what the seller owes."""
    SELLER_RECEIVABLE = "seller_receivable"
    """What one seller owes the exchange after a reversal (asset)."""
    LOSSES = "losses"
    """Value the exchange lost and will not recover (expense)."""
    PROMISE_COMPENSATION = "promise_compensation"
    """What the exchange paid sellers for missing its payout-time promise (expense)."""


# House accounts that every trade touches: keeping their totals in their row would make
# every concurrent trade wait on that one row lock until commit. Their totals are derived
# from the transfers when read (they need no cover check, so nothing reads them on the
# money path). Accounts with a cover check (treasury, receivables) keep stored totals.
DERIVED_TOTALS = frozenset({AccountKind.INVENTORY, AccountKind.MARGIN})


class Phase(StrEnum):
    """Where a transfer stands in the two-phase protocol."""

    SINGLE = "single"
    """Posted at once."""
    PENDING = "pending"
    """Reserved: waits for the outside world to decide."""
    POST = "post"
    """Settles a pending transfer: it happened."""
    VOID = "void"
    """Cancels a pending transfer: it did not happen."""


@dataclass(frozen=True)
class AccountRef:
    """An account by its code and currency."""

    code: str
    currency: str
    kind: AccountKind


@dataclass(frozen=True)
class TransferIntent:
    """One balanced movement to write; `key` makes writing it idempotent, `reference` says what for."""

    key: str
    reference: str
    debit: AccountRef
    credit: AccountRef
    amount: int
    phase: Phase
    memo: str
    covered: bool = False
    """The credited account must hold the amount (posted debits − posted credits − pending
    credits ≥ amount), checked in the same statement that reserves it: it never promises
    money it does not have, however many writers race."""


class InsufficientFunds(Exception):
    """A covered transfer's credited account does not hold the amount; nothing was written."""

    def __init__(self, account: AccountRef, amount: int) -> None:
        super().__init__(f"{account.code} ({account.currency}) cannot cover {amount}")
        self.account = account
        self.amount = amount


def treasury(currency: str) -> AccountRef:
    """The payout treasury."""
    return AccountRef("treasury", currency, AccountKind.TREASURY)


def capital(currency: str) -> AccountRef:
    """Operator capital."""
    return AccountRef("operator_capital", currency, AccountKind.CAPITAL)


def inventory(brand: str, currency: str) -> AccountRef:
    """Secured voucher value of one brand."""
    return AccountRef(f"inventory:{brand}", currency, AccountKind.INVENTORY)


def seller_payable(user_id: str, currency: str) -> AccountRef:
    """What one seller is owed."""
    return AccountRef(f"seller_payable:{user_id}", currency, AccountKind.SELLER_PAYABLE)


def margin(currency: str) -> AccountRef:
    """Fees earned."""
    return AccountRef("margin", currency, AccountKind.MARGIN)


def reversals(currency: str) -> AccountRef:
    """Clawbacks after payout."""
    return AccountRef("reversals", currency, AccountKind.REVERSALS)


def seller_receivable(user_id: str, currency: str) -> AccountRef:
    """What one seller owes after a reversal."""
    return AccountRef(f"seller_receivable:{user_id}", currency, AccountKind.SELLER_RECEIVABLE)


def losses(currency: str) -> AccountRef:
    """The exchange's own losses."""
    return AccountRef("losses", currency, AccountKind.LOSSES)


def promise_compensation(currency: str) -> AccountRef:
    """Compensation paid for payouts later than promised (an operator expense)."""
    return AccountRef("promise_compensation", currency, AccountKind.PROMISE_COMPENSATION)


@dataclass(frozen=True)
class Account:
    """One account with its running totals (posted and pending, debits and credits)."""

    id: int
    code: str
    currency: str
    kind: AccountKind
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    @property
    def balance(self) -> Money:
        """Posted debits − credits."""
        return Money(self.debits_posted - self.credits_posted, self.currency)

    @property
    def pending(self) -> Money:
        """Pending debits − credits."""
        return Money(self.debits_pending - self.credits_pending, self.currency)

    def totals(self) -> dict[str, int]:
        """The four running totals by column name."""
        return {
            "debits_posted": self.debits_posted,
            "credits_posted": self.credits_posted,
            "debits_pending": self.debits_pending,
            "credits_pending": self.credits_pending,
        }


@dataclass(frozen=True)
class Transfer:
    """One stored transfer, with its accounts' codes."""

    id: int
    key: str
    reference: str
    debit: str
    credit: str
    amount: Money
    phase: Phase
    pending_id: int | None
    memo: str
    created_at: datetime
