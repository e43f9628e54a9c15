"""One person behind several accounts: whose debts an account's payouts settle.

A receivable (what a seller owes after a reversal) belongs to the person as well as the
account. Accounts are the same person when they share
- a verified identity: the vault's keyed fingerprint of the legal name (normalised) and birth
  date, stored at every verified identity check (`person_links`, kind `identity`);
- a bank account the bank confirmed in their name (the payout account's keyed fingerprint,
  as the mule rule sees it; an account refused for another holder ties nobody);
- a closed login's e-mail address, now confirmed by a new account (kind `email`: stored when
  the login is closed; the new account's address counts once it has opened our link).

One step only: the accounts tied to this one, not the accounts tied to those.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, union

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import IdentityStatus, User, normalise_name
from voucher_exchange.context import Context
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.security.vault import Vault

IDENTITY = "identity"
EMAIL = "email"


def identity_key(vault: Vault, legal_name: str, birth_date: date) -> str:
    """The keyed fingerprint of a verified identity (never the name or date itself)."""
    return vault.fingerprint("person_identity", f"{normalise_name(legal_name)}|{birth_date.isoformat()}")


def email_key(vault: Vault, email: str) -> str:
    """The keyed fingerprint of an e-mail address."""
    return vault.fingerprint("person_email", email.strip().lower())


def remember_identity(
    conn: Connection, vault: Vault, user_id: str, legal_name: str, birth_date: date, now: datetime
) -> None:
    """A verified identity check: tie the account to that identity."""
    accounts.add_person_link(conn, user_id, IDENTITY, identity_key(vault, legal_name, birth_date), now)


def remember_login(conn: Connection, vault: Vault, user: User, now: datetime) -> None:
    """Before a login is closed: keep the fingerprints a new account of the same person will share."""
    accounts.add_person_link(conn, user.id, EMAIL, email_key(vault, user.email), now)
    if _verified(user):
        assert user.legal_name is not None and user.birth_date is not None
        remember_identity(conn, vault, user.id, user.legal_name, user.birth_date, now)


def _verified(user: User) -> bool:
    return (
        user.identity_status is IdentityStatus.VERIFIED
        and user.legal_name is not None
        and user.birth_date is not None
    )


def linked_accounts(conn: Connection, vault: Vault, user: User) -> list[str]:
    """The other accounts of the same person as `user` (as read in this transaction), in a stable
    order (by id)."""
    keys = set()
    if _verified(user):
        assert user.legal_name is not None and user.birth_date is not None
        keys.add((IDENTITY, identity_key(vault, user.legal_name, user.birth_date)))
    if user.email_verified:
        keys.add((EMAIL, email_key(vault, user.email)))
    params = {"user_id": user.id, "holder": user.id, "keys": sorted(keys)}
    return sorted(row.user_id for row in conn.execute(_LINKED, params))


# One statement, built once: tied by a fingerprint, or by a bank account both were confirmed for.
_LINKED = union(accounts.linked_to(), payout_repo.holders_of_same_accounts())


def link_past_identities(ctx: Context) -> int:
    """Use case: store the fingerprint of every verified identity check, including those made
    before links were kept (migration 0025 cannot: the key is the vault's); how many checks."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        done = 0
        for user_id, legal_name, birth_date in accounts.verified_identities(uow.conn):
            remember_identity(uow.conn, ctx.vault, user_id, legal_name, birth_date, now)
            done += 1
        uow.commit()
    return done
