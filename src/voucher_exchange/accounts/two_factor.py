"""Two-factor sign-in for staff: a TOTP code (RFC 6238) or a one-time recovery code.

The secret is encrypted with the vault; recovery codes are kept as keyed fingerprints.
A code is accepted for the current 30-second step or the one either side, and only for a
step later than the last one used, so an overheard code cannot be replayed. Wrong codes
are counted per account (security/throttle.py); a code that cannot be one (not six ASCII
digits, nor a recovery code's shape) is refused before it is counted.

The second factor binds the session: a token records whether it was issued after a right
code, and staff routes admit only such tokens. Enrolment is one-shot: the secret is made
once, shown once, and only the session that began it may confirm it or start over (while
that session lives). Switching two-factor on ends every other session of the account.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import Connection

from voucher_exchange.accounts import repository as accounts_repository
from voucher_exchange.accounts import totp_repository as repository
from voucher_exchange.accounts.models import EnrolmentState, RevokeReason, User
from voucher_exchange.accounts.sessions import revoke_other_sessions
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, Forbidden, InvalidInput, Unauthorized
from voucher_exchange.security import throttle
from voucher_exchange.security.passwords import token_hash

ISSUER = "voucher-exchange"
STEP_SECONDS = 30
RECOVERY_CODES = 10
# ASCII only, written out: `\d` and str.isdigit() also take full-width and other scripts' digits.
_TOTP_CODE = re.compile(r"[0-9]{6}")
_RECOVERY_CODE = re.compile(r"[0-9a-f]{16}")


class TotpRequired(Unauthorized):
    """The password was right; the account also needs a code (`pending` continues a web sign-in)."""

    def __init__(self, pending: str | None = None) -> None:
        super().__init__("totp_required", "Enter the 6-digit code from your authenticator app.", "totp")
        self.pending = pending


class EnrolmentRequired(Forbidden):
    """A staff member without two-factor asked for a staff route (while the deployment requires it)."""

    def __init__(self) -> None:
        super().__init__(
            "totp_enrolment_required", "Set up two-factor sign-in on the site (/account/two-factor) first."
        )


class SecondFactorRequired(Forbidden):
    """A staff route asked for with a token that was not issued after a two-factor code."""

    def __init__(self) -> None:
        super().__init__(
            "totp_session_required",
            "This sign-in did not use your two-factor code, so it cannot open staff pages. "
            "Sign out, then sign in again with your password and the code from your app.",
        )


@dataclass(frozen=True)
class Enrolment:
    """Two-factor setup as one session sees it; the key and its URI only when just begun (NEW)."""

    state: EnrolmentState
    secret: str | None = None
    uri: str | None = None


def _invalid() -> Unauthorized:
    return Unauthorized(
        "totp_invalid", "That code is not right, or was already used. Enter the newest code.", "totp"
    )


def _malformed() -> InvalidInput:
    return InvalidInput(
        "totp_malformed",
        "Type the 6-digit code with the digits 0 to 9 (half-width), or a recovery code as it was shown.",
        "totp",
    )


def _elsewhere() -> Conflict:
    return Conflict(
        "totp_enrolment_elsewhere",
        "Two-factor setup was begun from another sign-in, and only that one can finish it or start "
        "over. If it was not you, change your password: that signs every other session out.",
    )


def _enrolled_already() -> Conflict:
    return Conflict("totp_enrolled", "Two-factor sign-in is already set up for this account.")


def _context(user_id: str) -> str:
    return f"totp:{user_id}"


def _recovery_form(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def _recovery_hash(ctx: Context, code: str) -> str:
    return ctx.vault.fingerprint("totp-recovery", _recovery_form(code))


def enrolled(ctx: Context, user_id: str) -> bool:
    """True when the account confirmed a TOTP secret."""
    with ctx.uow(readonly=True) as uow:
        found = repository.secret(uow.conn, user_id)
    return bool(found and found[1])


def must_enrol(ctx: Context, user: User) -> bool:
    """True for staff who still have to set up two-factor before anything else (when required)."""
    return ctx.settings.staff_two_factor and user.is_staff and not enrolled(ctx, user.id)


def check_staff_session(ctx: Context, user: User, second_factor: bool) -> None:
    """Admit a staff route's caller, or refuse: a token without the second factor, or no enrolment.

    A token issued after a right code passes. An enrolled account's token issued without
    one (before enrolment, by a mailed link) is a seller's token at best:
    `totp_session_required`. Staff who have not enrolled get `totp_enrolment_required` while
    the deployment requires two-factor.
    """
    if second_factor:
        return
    if enrolled(ctx, user.id):
        raise SecondFactorRequired
    if ctx.settings.staff_two_factor and user.is_staff:
        raise EnrolmentRequired


def _state(conn: Connection, user_id: str, began: str, now: datetime) -> EnrolmentState | None:
    """Where setup stands for the session whose token hash is `began`; None when nothing is pending."""
    found = repository.enrolment(conn, user_id)
    if found is None:
        return None
    is_enrolled, begun_by = found
    if is_enrolled:
        return EnrolmentState.ENROLLED
    if begun_by == began:
        return EnrolmentState.IN_PROGRESS
    if begun_by and accounts_repository.token_live(conn, begun_by, now):
        return EnrolmentState.ELSEWHERE
    return EnrolmentState.ABANDONED


def _begin(ctx: Context, conn: Connection, user: User, began: str, now: datetime) -> Enrolment | None:
    """A new secret owned by this session, if nothing is pending (else None: someone was first)."""
    secret = pyotp.random_base32()
    sealed = ctx.vault.encrypt_json({"secret": secret}, _context(user.id))
    if not repository.begin(conn, user.id, sealed, now, began):
        return None
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(EnrolmentState.NEW, secret, uri)


def enrolment(ctx: Context, user: User, session_token: str) -> Enrolment:
    """Where setup stands for this session; begins it (the key shown this once) when nothing is pending.

    Loading the page again never replaces a pending secret.
    """
    began = token_hash(session_token)
    now = ctx.clock.now()
    with ctx.uow(readonly=True) as uow:
        state = _state(uow.conn, user.id, began, now)
    if state is None:
        with ctx.uow() as uow:
            begun = _begin(ctx, uow.conn, user, began, now)
            uow.commit()
        if begun is not None:
            return begun
        with ctx.uow(readonly=True) as uow:  # another page load began it a moment ago
            state = _state(uow.conn, user.id, began, now)
    return Enrolment(state or EnrolmentState.ELSEWHERE)


def enrolment_state(ctx: Context, user: User, session_token: str) -> Enrolment | None:
    """Where setup stands for this session, changing nothing; None when nothing is pending."""
    with ctx.uow(readonly=True) as uow:
        state = _state(uow.conn, user.id, token_hash(session_token), ctx.clock.now())
    return Enrolment(state) if state is not None else None


def restart_enrolment(ctx: Context, user: User, session_token: str) -> Enrolment:
    """Start over with a new secret: only the session that began the setup, or any once it has ended."""
    began = token_hash(session_token)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        state = _state(uow.conn, user.id, began, now)
        if state is EnrolmentState.ENROLLED:
            raise _enrolled_already()
        if state is EnrolmentState.ELSEWHERE:
            raise _elsewhere()
        if state is not None:
            found = repository.enrolment(uow.conn, user.id)
            # Conditional on the owner seen above: a concurrent start-over wins once.
            if found is None or not repository.abandon(uow.conn, user.id, found[1]):
                raise _elsewhere()
        begun = _begin(ctx, uow.conn, user, began, now)
        if begun is None:
            raise _elsewhere()
        uow.commit()
    return begun


def enrol_with(ctx: Context, user: User, secret: str) -> list[str]:
    """Enrol with a given secret (the demo's published one, and test helpers); the recovery codes.

    No session begins it, so every session and token of the account ends.
    """
    with ctx.uow() as uow:
        sealed = ctx.vault.encrypt_json({"secret": secret}, _context(user.id))
        repository.start(uow.conn, user.id, sealed, ctx.clock.now())
        uow.commit()
    return _switch_on(ctx, user, pyotp.TOTP(secret).at(ctx.clock.now()), None)


def confirm_enrolment(ctx: Context, user: User, code: str, session_token: str) -> list[str]:
    """Check the first code from the app in the session that began the setup, then switch two-factor on.

    That session passes the second factor; every other session and token of the account
    ends. The recovery codes are returned, to be shown once.
    """
    began = token_hash(session_token)
    with ctx.uow(readonly=True) as uow:
        state = _state(uow.conn, user.id, began, ctx.clock.now())
    if state is EnrolmentState.ENROLLED:
        raise _enrolled_already()
    if state in (EnrolmentState.ELSEWHERE, EnrolmentState.ABANDONED):
        raise _elsewhere()
    return _switch_on(ctx, user, code, began)


def _switch_on(ctx: Context, user: User, code: str, began: str | None) -> list[str]:
    check_code(ctx, user, code, allow_recovery=False, enrolling=True)
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if not repository.confirm(uow.conn, user.id, began, now, [_recovery_hash(ctx, c) for c in codes]):
            raise _elsewhere()  # started over or confirmed by another request meanwhile
        if began is not None:
            accounts_repository.pass_second_factor(uow.conn, began, user.id)
        revoke_other_sessions(
            uow.conn, user.id, RevokeReason.TWO_FACTOR_ENROLLED, user.email, now, keep_token_hash=began
        )
        audit.record(uow.conn, user.email, "account.two_factor_enrolled", user.id, {}, now)
        uow.commit()
    return codes


def check_code(
    ctx: Context, user: User, code: str, allow_recovery: bool = True, enrolling: bool = False
) -> None:
    """Accept a fresh TOTP code (or an unused recovery code) once; `totp_invalid` otherwise.

    A code of the wrong shape (full-width digits, letters, the wrong length) is
    `totp_malformed` and is not counted: it cannot be a guess at the right one.
    """
    code = code.strip()
    is_totp = _TOTP_CODE.fullmatch(code) is not None
    if not is_totp and not (allow_recovery and _RECOVERY_CODE.fullmatch(_recovery_form(code))):
        raise _malformed()
    throttle.hit(ctx, (throttle.TOTP_PER_ACCOUNT, (user.id,)))
    now = ctx.clock.now()
    with ctx.uow() as uow:
        found = repository.secret(uow.conn, user.id)
        if found is None or found[1] == enrolling:
            raise _invalid()
        accepted = False
        if is_totp:
            totp = pyotp.TOTP(ctx.vault.decrypt_json(found[0], _context(user.id))["secret"] or "")
            current = int(now.timestamp()) // STEP_SECONDS
            for step in (current - 1, current, current + 1):
                if hmac.compare_digest(totp.generate_otp(step), code):
                    accepted = repository.use_step(uow.conn, user.id, step)
                    break
        else:
            accepted = repository.use_recovery_code(uow.conn, user.id, _recovery_hash(ctx, code), now)
            if accepted:
                audit.record(uow.conn, user.email, "account.recovery_code_used", user.id, {}, now)
        if not accepted:
            raise _invalid()
        uow.commit()
    throttle.refund(ctx, throttle.TOTP_PER_ACCOUNT, user.id)
