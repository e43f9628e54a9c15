"""Users and roles as plain values."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Role(StrEnum):
    """What a staff member may do (sellers have no role)."""

    REVIEWER = "reviewer"
    """Works the review queue."""
    OPERATOR = "operator"
    """Runs the exchange: catalog, ledger, payouts, staff."""
    REVEAL_CODES = "reveal_codes"
    """May reveal a voucher's code to staff; every reveal is written to the audit log."""
    MAY_SELL = "may_sell"
    """A staff member an operator allowed to sell; someone else still decides their trades."""


class IdentityStatus(StrEnum):
    """Where the seller's identity check stands."""

    NONE = "none"
    """Not attempted."""
    VERIFIED = "verified"
    """The provider confirmed the person; the legal name is trusted."""
    UNDERAGE = "underage"
    """Confirmed but too young to sell."""
    FAILED = "failed"
    """The provider could not confirm the person."""


@dataclass(frozen=True)
class IdentityCheck:
    """One check of a person with the identity provider: identity is an event, not a field."""

    id: str
    user_id: str
    checked_at: datetime
    status: IdentityStatus
    reason: str | None
    legal_name: str
    birth_date: date
    nationality: str | None
    name_changed: bool
    """The verified name differs from the one verified before: tier dropped, accounts re-checked."""
    tier_before: int
    tier_after: int


@dataclass(frozen=True)
class User:
    """A signed-up person."""

    id: str
    email: str
    roles: frozenset[Role]
    kyc_tier: int
    legal_name: str | None
    birth_date: date | None
    identity_status: IdentityStatus
    language: str = "ko"
    email_verified: bool = False
    # Log-in lockouts count per password generation (a reset starts a new one).
    password_generation: str = "-"  # noqa: S105  # a marker, not a secret

    def has(self, role: Role) -> bool:
        """True when the user holds `role` (operators may also review)."""
        return role in self.roles or (role is Role.REVIEWER and Role.OPERATOR in self.roles)

    @property
    def is_staff(self) -> bool:
        """Reviewers and operators."""
        return self.has(Role.REVIEWER)


@dataclass(frozen=True)
class SignedIn:
    """The user behind a session or API token, and whether that token passed the second factor."""

    user: User
    second_factor: bool
    """Issued after a right two-factor code: only such a token reaches staff routes."""


class RevokeReason(StrEnum):
    """Why every other session and API token of an account was ended."""

    TWO_FACTOR_ENROLLED = "two_factor_enrolled"
    """Two-factor was switched on: tokens from before it must not become staff sessions."""
    ROLES_CHANGED = "roles_changed"
    """A role was granted or removed."""
    PASSWORD_CHANGED = "password_changed"  # noqa: S105  # a name, not a secret
    """The owner changed the password while signed in."""
    PASSWORD_RESET = "password_reset"  # noqa: S105  # a name, not a secret
    """The password was reset with a mailed link."""


class EnrolmentState(StrEnum):
    """Where a staff member's two-factor setup stands, as seen from one session."""

    NEW = "new"
    """This page load began the setup: the key is shown, this once."""
    IN_PROGRESS = "in_progress"
    """This session began the setup earlier: enter the code, or start over."""
    ABANDONED = "abandoned"
    """A session that has since ended began the setup: start over."""
    ELSEWHERE = "elsewhere"
    """Another session, still signed in, began the setup: only it may finish or start over."""
    ENROLLED = "enrolled"
    """Two-factor is on."""


class LinkPurpose(StrEnum):
    """What a single-use link mailed to an account does."""

    PASSWORD_RESET = "password_reset"  # noqa: S105  # a name, not a secret
    """Choose a new password (signs out every session)."""
    VERIFY_EMAIL = "verify_email"
    """Prove the owner reads mail at the address."""
    SIGN_IN_STEP = "sign_in_step"
    """Not mailed: the password was right; a staff member's code finishes the sign-in."""


class Notice(StrEnum):
    """A security notice mailed to an account's owner."""

    PASSWORD_CHANGED = "password_changed"  # noqa: S105  # a name, not a secret
    """The password was changed or reset."""
    EMAIL_CHANGE_REQUESTED = "email_change"
    """Someone signed in asked to move the account to another address (sent to the old one)."""
    SIGN_UP_ATTEMPT = "sign_up_attempt"
    """Someone tried to sign up with an address that already has an account."""


# The job that mails links and notices to an account.
ACCOUNT_MAIL = "account.mail"

# The job a seller's identity verification enqueues (ref: the user id): whatever was waiting for
# the seller to be cleared (held payouts) looks again. Trades handle it; accounts never call up.
SELLER_CLEARED = "seller.cleared"


def normalise_name(name: str) -> str:
    """Names compared for 'same person': case, spacing and compatibility forms folded."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(folded.replace(",", " ").replace(".", " ").split())


def roles_text(roles: frozenset[Role] | set[Role]) -> str:
    """Roles as stored: sorted values joined by commas."""
    return ",".join(sorted(r.value for r in roles))


def roles_from_text(text: str) -> frozenset[Role]:
    """Roles read back from `roles_text`."""
    return frozenset(Role(r) for r in text.split(",") if r)


class RoleRequestStatus(StrEnum):
    """Where a request to change a staff member's roles stands."""

    PENDING = "pending"
    """Filed by one operator; waits for another (it expires unanswered)."""
    APPROVED = "approved"
    """A second operator approved it; the roles changed."""
    DECLINED = "declined"
    """An operator declined or withdrew it; nothing changed."""


@dataclass(frozen=True)
class RoleRequest:
    """One operator's request to change an account's roles, which a different operator decides.

    `target_user_id` is None when the address has no account yet: approval creates it.
    """

    id: str
    target_user_id: str | None
    email: str
    roles_before: frozenset[Role]
    roles_after: frozenset[Role]
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    status: RoleRequestStatus
    decided_by: str | None = None
    decided_at: datetime | None = None
