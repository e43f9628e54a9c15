"""Identity use cases: verify a person, add a payout destination in their own name.

Both call the outside world, so each does: read, call (no transaction open), then
record the outcome in one short transaction.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import (
    SELLER_CLEARED,
    IdentityCheck,
    IdentityStatus,
    User,
    normalise_name,
)
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Forbidden, InvalidInput, NotFound
from voucher_exchange.identity import links
from voucher_exchange.jobs import queue
from voucher_exchange.payouts import banks
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import DestinationStatus
from voucher_exchange.risk import sanctions_customers
from voucher_exchange.risk.sanctions import Strength
from voucher_exchange.risk.sanctions_identifiers import PersonFacts, is_country_code
from voucher_exchange.risk.screening import ADULT_AGE, is_adult
from voucher_exchange.security.vault import mask

_ACCOUNT_NUMBER = re.compile(r"^\d{6,20}$")
_BANK_CODE = re.compile(r"^[0-9A-Za-z]{2,11}$")


@dataclass(frozen=True)
class IdentityOutcome:
    """The seller's tier after a check, and the refusal code if the check refused."""

    kyc_tier: int
    refused: str | None


def verify_identity(
    ctx: Context, user: User, legal_name: str, birth_date: date, phone: str, nationality: str | None = None
) -> IdentityOutcome:
    """Check a person with the provider; adults only.

    `nationality` (ISO 3166 alpha-2) is what the person states; a domestic check records the
    deployment's own country when none is given. Sanctions screening weighs it with the birth date.
    """
    legal_name = " ".join(legal_name.split())
    if not legal_name:
        raise InvalidInput("legal_name_invalid", "Enter your full legal name.", "legal_name")
    nationality = _nationality(nationality, ctx.settings.jurisdiction)
    today = ctx.clock.now().date()
    if birth_date >= today:
        raise InvalidInput("birth_date_invalid", "The birth date must be in the past.", "birth_date")
    result = ctx.identity.check(legal_name, birth_date, phone)
    if not result.verified:
        status, refused = IdentityStatus.FAILED, result.reason or "identity_failed"
    elif not is_adult(birth_date, today, ctx.settings.jurisdiction):
        status, refused = IdentityStatus.UNDERAGE, "underage"
    else:
        status, refused = IdentityStatus.VERIFIED, None
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        before = accounts.by_id(conn, user.id, lock=True)
        assert before is not None
        # Risk screens the legal name and keeps the standing in its own table.
        screening = sanctions_customers.screen_customer(
            conn, user.id, legal_name, PersonFacts(birth_date, nationality)
        )
        if status is IdentityStatus.VERIFIED and screening.match.strength is Strength.STRONG:
            status, refused = IdentityStatus.FAILED, "sanctions_match"
        name_changed = status is IdentityStatus.VERIFIED and _another_name(before, legal_name)
        accounts.set_identity(conn, user.id, status, legal_name, birth_date, phone, refused)
        accounts.set_nationality(conn, user.id, nationality)
        tier = _tier_after(conn, before, status, legal_name, name_changed)
        accounts.add_identity_check(
            conn,
            IdentityCheck(
                str(uuid.uuid4()),
                user.id,
                now,
                status,
                refused,
                legal_name,
                birth_date,
                nationality,
                name_changed,
                before.kyc_tier,
                tier,
            ),
        )
        if status is IdentityStatus.VERIFIED:
            # The person behind the account: another account of theirs settles its debts (links.py).
            links.remember_identity(conn, ctx.vault, user.id, legal_name, birth_date, now)
        if name_changed:
            audit.record(
                conn,
                user.email,
                "identity.name_changed",
                user.id,
                {"tier_before": before.kyc_tier, "tier_after": tier},
                now,
            )
        if status is IdentityStatus.VERIFIED and before.identity_status is not IdentityStatus.NONE:
            # A seller checked before may have payouts waiting for this check (nothing is sold
            # before the first one). Trades listen for the job; identity never calls up.
            queue.enqueue(conn, SELLER_CLEARED, user.id, now)
            uow.after_commit(ctx.wake_workers)
        uow.commit()
    return IdentityOutcome(tier, refused)


def _another_name(before: User, legal_name: str) -> bool:
    """The person was verified before under a different legal name."""
    return (
        before.identity_status is IdentityStatus.VERIFIED
        and before.legal_name is not None
        and normalise_name(before.legal_name) != normalise_name(legal_name)
    )


def _tier_after(
    conn: Connection, before: User, status: IdentityStatus, legal_name: str, name_changed: bool
) -> int:
    """The tier after a check: nothing without a verified identity; a new name starts again at 0.

    Payout accounts confirmed by the bank in another name stop being usable ("unconfirmed")
    until the seller is verified under that name again; accounts in the current name are usable.
    """
    if status is not IdentityStatus.VERIFIED:
        accounts.set_tier(conn, before.id, 0)
        return 0
    current = normalise_name(legal_name)
    for dest in payout_repo.destinations_of(conn, before.id):
        if dest.status not in (DestinationStatus.VERIFIED, DestinationStatus.UNCONFIRMED):
            continue
        in_this_name = normalise_name(dest.holder_name) == current
        wanted = DestinationStatus.VERIFIED if in_this_name else DestinationStatus.UNCONFIRMED
        if dest.status is not wanted:
            payout_repo.set_destination_status(conn, dest.id, wanted)
    tier = 0 if name_changed else before.kyc_tier
    if tier < 1 and payout_repo.has_verified_destination(conn, before.id):
        tier = 1
    accounts.set_tier(conn, before.id, tier)
    return tier


def _nationality(given: str | None, jurisdiction: str) -> str:
    if given is None or not given.strip():
        return jurisdiction
    code = given.strip().upper()
    if not is_country_code(code):
        message = "Give your nationality as a two-letter country code, e.g. KR."
        raise InvalidInput("nationality_invalid", message, "nationality")
    return code


def identity_refusal(code: str, jurisdiction: str) -> Forbidden:
    """The error for a refused identity check."""
    if code == "underage":
        return Forbidden("underage", f"You must be {ADULT_AGE[jurisdiction]} or older to sell vouchers here.")
    if code == "sanctions_match":
        return Forbidden(
            "sanctions_match", "We cannot open selling for this name because of sanctions screening."
        )
    if code == "phone_invalid":
        return Forbidden("phone_invalid", "Enter a mobile number you own, e.g. 010-1234-5678.", "phone")
    return Forbidden(
        "identity_failed", "We could not confirm your identity. Check the details and try again."
    )


@dataclass(frozen=True)
class Destination:
    """A payout destination as shown to its owner."""

    id: str
    status: str
    masked: str
    bank_code: str
    holder_name: str
    is_default: bool = False


@dataclass(frozen=True)
class HolderCheck:
    """What the bank says about an account before it is saved (예금주 확인)."""

    bank_code: str
    account_number: str
    holder_name: str
    matches: bool
    reason: str | None  # account_unknown | holder_mismatch | None

    @property
    def masked(self) -> str:
        """The account number as the page may show it."""
        return mask(self.account_number)


def check_holder(
    ctx: Context, user: User, bank_code: str, account_number: str, holder_name: str
) -> HolderCheck:
    """Ask the bank who holds an account and compare with the seller's verified legal name; stores nothing."""
    account_number = account_number.replace("-", "").replace(" ", "")
    if not _ACCOUNT_NUMBER.match(account_number):
        raise InvalidInput(
            "account_number_invalid", "An account number has 6 to 20 digits.", "account_number"
        )
    if not _BANK_CODE.match(bank_code) or not banks.known(ctx.settings.jurisdiction, bank_code):
        raise InvalidInput("bank_code_invalid", "Choose your bank from the list.", "bank_code")
    holder_name = " ".join(holder_name.split())
    if not holder_name:
        raise InvalidInput("holder_name_invalid", "Enter the account holder's name.", "holder_name")
    verified_name = user.legal_name if user.identity_status is IdentityStatus.VERIFIED else None
    holder = ctx.rail.account_holder(bank_code, account_number)
    if not holder.exists or holder.holder_name is None:
        reason: str | None = "account_unknown"
    elif (
        verified_name is None
        or normalise_name(holder_name) != normalise_name(verified_name)
        or normalise_name(holder.holder_name) != normalise_name(verified_name)
    ):
        reason = "holder_mismatch"
    else:
        reason = None
    return HolderCheck(bank_code, account_number, holder_name, reason is None, reason)


def add_payout_destination(
    ctx: Context, user: User, bank_code: str, account_number: str, holder_name: str
) -> Destination:
    """Register a bank account; verified only if the bank says it is held in the seller's verified name."""
    checked = check_holder(ctx, user, bank_code, account_number, holder_name)
    return save_checked_destination(ctx, user, checked)


def save_checked_destination(ctx: Context, user: User, checked: HolderCheck) -> Destination:
    """Store an account the bank was asked about; sanctions screening of the holder decides last."""
    bank_code, account_number, holder_name = checked.bank_code, checked.account_number, checked.holder_name
    dest_id = str(uuid.uuid4())
    now = ctx.clock.now()
    with ctx.uow() as uow:
        # The holder must be the seller, so the seller's identifiers weigh in.
        screening = sanctions_customers.screen_holder(uow.conn, user.id, holder_name)
        same_person = checked.matches and screening.match.strength is not Strength.STRONG
        status = DestinationStatus.VERIFIED if same_person else DestinationStatus.REJECTED
        payout_repo.insert_destination(
            uow.conn,
            dest_id,
            user.id,
            bank_code,
            ctx.vault.encrypt(account_number.encode(), dest_id.encode()),
            ctx.vault.fingerprint("bank_account", f"{bank_code}:{account_number}"),
            account_number[-4:],
            holder_name,
            status,
            now,
        )
        sanctions_customers.record_holder(uow.conn, dest_id, user.id, screening)
        if same_person:
            accounts.raise_tier(uow.conn, user.id, 1)
            if not any(d.is_default for d in payout_repo.destinations_of(uow.conn, user.id)):
                payout_repo.set_default(uow.conn, user.id, dest_id)
        uow.commit()
    return Destination(dest_id, status.value, mask(account_number), bank_code, holder_name)


def make_default(ctx: Context, user: User, destination_id: str) -> None:
    """The account preselected when the seller sells."""
    with ctx.uow() as uow:
        if not payout_repo.set_default(uow.conn, user.id, destination_id):
            raise NotFound("payout_destination_unknown", "There is no such verified account of yours.")
        uow.commit()


def list_destinations(ctx: Context, user: User) -> list[Destination]:
    """The seller's payout destinations, newest first."""
    with ctx.uow(readonly=True) as uow:
        return [
            Destination(d.id, d.status.value, d.masked, d.bank_code, d.holder_name, d.is_default)
            for d in payout_repo.destinations_of(uow.conn, user.id)
        ]
