"""Ledger use cases: balances, transfers by reference, and the ledger's own invariants."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import AccountKind, Transfer


def balances(conn: Connection) -> list[dict[str, Any]]:
    """Every account's posted and pending balance (debits − credits)."""
    return [
        {
            "account": a.code,
            "kind": a.kind.value,
            "currency": a.currency,
            "balance": a.balance.amount,
            "pending": a.pending.amount,
        }
        for a in ledger_repo.all_accounts(conn)
    ]


def transfers(
    conn: Connection, references: Sequence[str] = (), key_prefix: str | None = None
) -> list[Transfer]:
    """The transfers made for some references (or whose key starts with a prefix), oldest first."""
    return ledger_repo.transfers(conn, references, key_prefix)


@dataclass
class BooksCheck:
    """What checking the ledger on its own found."""

    checked: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)


def check_books(conn: Connection) -> BooksCheck:
    """Invariant 3 (balanced): totals match transfers, every currency sums to zero, no payable below zero."""
    found = BooksCheck()
    accounts = ledger_repo.all_accounts(conn)
    recomputed = ledger_repo.recomputed_totals(conn)
    empty = {"debits_posted": 0, "credits_posted": 0, "debits_pending": 0, "credits_pending": 0}
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for acct in accounts:
        sums[acct.currency][0] += acct.balance.amount
        sums[acct.currency][1] += acct.pending.amount
        if acct.totals() != recomputed.get(acct.id, empty):
            found.violations.append(f"account {acct.code} ({acct.currency}) totals differ from its transfers")
        if acct.kind is AccountKind.SELLER_PAYABLE:
            owed = acct.credits_posted - acct.debits_posted - acct.debits_pending
            if owed < 0:
                found.violations.append(f"{acct.code} is negative ({owed}) without a recorded reversal")
    for currency, (posted, pending) in sums.items():
        if posted or pending:
            found.violations.append(
                f"{currency} accounts do not sum to zero (posted {posted}, pending {pending})"
            )
    malformed = ledger_repo.count_malformed(conn)
    if malformed:
        found.violations.append(f"{malformed} transfers are not a positive amount between two accounts")
    found.checked["accounts"] = len(accounts)
    found.checked["transfers"] = ledger_repo.count_transfers(conn)
    return found
