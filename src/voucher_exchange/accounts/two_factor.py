"""Two-factor sign-in for staff: a TOTP code (RFC 6238) or a one-time recovery code.

The secret is encrypted with the vault; recovery codes are kept as keyed fingerprints.
A code is accepted for the current 30-second step or the one either side, and only for a
step later than the last one used, so an overheard code cannot be replayed. Wrong codes
are counted per account (security/throttle.py).
"""

from __future__ import annotations

import hmac
import secrets

import pyotp

from voucher_exchange.accounts import totp_repository as repository
from voucher_exchange.accounts.models import User
from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, Unauthorized
from voucher_exchange.security import throttle

ISSUER = "voucher-exchange"
STEP_SECONDS = 30
RECOVERY_CODES = 10


class TotpRequired(Unauthorized):
    """The password was right; the account also needs a code (`pending` continues a web sign-in)."""

    def __init__(self, pending: str | None = None) -> None:
        super().__init__("totp_required", "Enter the 6-digit code from your authenticator app.", "totp")
        self.pending = pending


def _invalid() -> Unauthorized:
    return Unauthorized(
        "totp_invalid", "That code is not right, or was already used. Enter the newest code.", "totp"
    )


def _context(user_id: str) -> str:
    return f"totp:{user_id}"


def _recovery_hash(ctx: Context, code: str) -> str:
    return ctx.vault.fingerprint("totp-recovery", code.strip().lower().replace("-", "").replace(" ", ""))


def enrolled(ctx: Context, user_id: str) -> bool:
    """True when the account confirmed a TOTP secret."""
    with ctx.uow(readonly=True) as uow:
        found = repository.secret(uow.conn, user_id)
    return bool(found and found[1])


def must_enrol(ctx: Context, user: User) -> bool:
    """True for staff who still have to set up two-factor before anything else (when required)."""
    return ctx.settings.staff_two_factor and user.is_staff and not enrolled(ctx, user.id)


def begin_enrolment(ctx: Context, user: User) -> tuple[str, str]:
    """A new secret, shown once: (base32 secret, otpauth:// URI for an authenticator app)."""
    with ctx.uow() as uow:
        found = repository.secret(uow.conn, user.id)
        if found and found[1]:
            raise Conflict("totp_enrolled", "Two-factor sign-in is already set up for this account.")
        secret = pyotp.random_base32()
        sealed = ctx.vault.encrypt_json({"secret": secret}, _context(user.id))
        repository.start(uow.conn, user.id, sealed, ctx.clock.now())
        uow.commit()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def enrol_with(ctx: Context, user: User, secret: str) -> list[str]:
    """Enrol with a given secret (the demo's published one, and test helpers); the recovery codes."""
    with ctx.uow() as uow:
        sealed = ctx.vault.encrypt_json({"secret": secret}, _context(user.id))
        repository.start(uow.conn, user.id, sealed, ctx.clock.now())
        uow.commit()
    return confirm_enrolment(ctx, user, pyotp.TOTP(secret).at(ctx.clock.now()))


def confirm_enrolment(ctx: Context, user: User, code: str) -> list[str]:
    """Check the first code from the app, then switch two-factor on; the recovery codes, shown once."""
    check_code(ctx, user, code, allow_recovery=False, enrolling=True)
    codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
    now = ctx.clock.now()
    with ctx.uow() as uow:
        repository.confirm(uow.conn, user.id, now, [_recovery_hash(ctx, c) for c in codes])
        audit.record(uow.conn, user.email, "account.two_factor_enrolled", user.id, {}, now)
        uow.commit()
    return codes


def check_code(
    ctx: Context, user: User, code: str, allow_recovery: bool = True, enrolling: bool = False
) -> None:
    """Accept a fresh TOTP code (or an unused recovery code) once; `totp_invalid` otherwise."""
    throttle.hit(ctx, (throttle.TOTP_PER_ACCOUNT, (user.id,)))
    code = code.strip()[:40]
    now = ctx.clock.now()
    with ctx.uow() as uow:
        found = repository.secret(uow.conn, user.id)
        if found is None or found[1] == enrolling:
            raise _invalid()
        accepted = False
        if code.isdigit() and len(code) == 6:
            totp = pyotp.TOTP(ctx.vault.decrypt_json(found[0], _context(user.id))["secret"] or "")
            current = int(now.timestamp()) // STEP_SECONDS
            for step in (current - 1, current, current + 1):
                if hmac.compare_digest(totp.generate_otp(step), code):
                    accepted = repository.use_step(uow.conn, user.id, step)
                    break
        elif allow_recovery and code:
            accepted = repository.use_recovery_code(uow.conn, user.id, _recovery_hash(ctx, code), now)
            if accepted:
                audit.record(uow.conn, user.email, "account.recovery_code_used", user.id, {}, now)
        if not accepted:
            raise _invalid()
        uow.commit()
    throttle.refund(ctx, throttle.TOTP_PER_ACCOUNT, user.id)
