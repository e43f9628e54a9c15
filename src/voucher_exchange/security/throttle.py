"""Abuse limits: attempts counted in the database, atomically, before the work they guard.

Each limit is a fixed-window counter per subject (an e-mail, an address, an account, or
a pair of them). One `INSERT … ON CONFLICT DO UPDATE … RETURNING count` both counts and
reads, so forty racing guesses see forty different counts and only the first few pass.
The attempt is committed before the guarded work runs: a request that then fails (a
wrong password) has still been counted.

Log-in is limited per address and per e-mail-and-address pair, never per e-mail alone:
a per-e-mail lockout is one a stranger can trigger for anyone, forever.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import Connection

from voucher_exchange.clock import Clock
from voucher_exchange.config import Settings
from voucher_exchange.db.retry import again_if_lost
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import TooManyRequests
from voucher_exchange.security import throttle_repository as repository
from voucher_exchange.security.vault import Vault

T = TypeVar("T")


class Context(Protocol):
    """What counting needs of the application's context (security sits below `context`)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def vault(self) -> Vault: ...
    def uow(self, readonly: bool = False) -> UnitOfWork: ...


@dataclass(frozen=True)
class Limit:
    """At most `count` attempts per subject in each `window`."""

    name: str
    count: int
    window: timedelta
    message: str


_WAIT = "Too many attempts. Wait {minutes} minutes and try again."
LOGIN_PER_ACCOUNT_AND_IP = Limit(
    "login:account+ip",
    5,
    timedelta(minutes=15),
    "Too many log-in attempts for this e-mail. Wait {minutes} minutes and try again.",
)
LOGIN_PER_IP = Limit("login:ip", 50, timedelta(minutes=15), _WAIT)
SIGN_UP_PER_IP = Limit("signup:ip", 20, timedelta(hours=1), _WAIT)
SIGN_UP_PER_EMAIL = Limit("signup:email", 5, timedelta(hours=1), _WAIT)
RESET_PER_IP = Limit("reset:ip", 20, timedelta(hours=1), _WAIT)
RESET_PER_EMAIL = Limit("reset:email", 5, timedelta(hours=1), _WAIT)
VERIFY_PER_ACCOUNT = Limit("verify:account", 5, timedelta(hours=1), _WAIT)
REAUTH_PER_ACCOUNT = Limit(
    "reauth:account",
    5,
    timedelta(minutes=15),
    "Too many wrong passwords. Wait {minutes} minutes and try again.",
)
TOTP_PER_ACCOUNT = Limit(
    "totp:account",
    5,
    timedelta(minutes=15),
    "Too many wrong codes. Wait {minutes} minutes and try again.",
)
QUOTE_PER_ACCOUNT = Limit("quote:account", 120, timedelta(minutes=1), _WAIT)
QUOTE_PER_IP = Limit("quote:ip", 600, timedelta(minutes=1), _WAIT)
TRADE_PER_ACCOUNT = Limit("trade:account", 30, timedelta(minutes=1), _WAIT)
TRADE_PER_IP = Limit("trade:ip", 120, timedelta(minutes=1), _WAIT)
FRAUD_REPORT_PER_IP = Limit("fraud_report:ip", 20, timedelta(hours=1), _WAIT)
FRAUD_REPORT_PER_CONTACT = Limit("fraud_report:contact", 5, timedelta(hours=1), _WAIT)

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def _window_start(limit: Limit, now: datetime) -> datetime:
    span = limit.window.total_seconds()
    return EPOCH + timedelta(seconds=math.floor((now - EPOCH).total_seconds() / span) * span)


def _subject(ctx: Context, limit: Limit, *parts: str | None) -> str:
    # Keyed, so the table holds no e-mail or address and every subject has one length.
    return ctx.vault.fingerprint("throttle/" + limit.name, "\x00".join(p or "-" for p in parts))


Check = tuple[Limit, tuple[str | None, ...]]


def hit(ctx: Context, *checks: Check) -> None:
    """Count one attempt against each limit (committed at once); TooManyRequests if any is over."""
    now = ctx.clock.now()
    windows = _windows(ctx, checks, now)

    def increment() -> list[int]:
        with ctx.uow() as uow:
            counted = repository.increment(uow.conn, windows)
            uow.commit()
        return counted

    # Counted again only if the connection was lost before COMMIT (nothing stored).
    _refuse_over(ctx, checks, again_if_lost(increment), now)


def hit_after(
    ctx: Context, read: Callable[[Connection], T | None], checks: Callable[[T], tuple[Check, ...]]
) -> T | None:
    """`read(conn)`, then one attempt counted against each of `checks(found)`, in one transaction.

    The read (who is asking: a signed-in user) shares the counting's transaction rather than
    opening one of its own. None, and nothing counted, when `read` answers None.
    """
    now = ctx.clock.now()

    def read_and_increment() -> tuple[T | None, tuple[Check, ...], list[int]]:
        with ctx.uow() as uow:
            found = read(uow.conn)
            if found is None:
                return None, (), []
            limits = checks(found)
            counted = repository.increment(uow.conn, _windows(ctx, limits, now))
            uow.commit()
        return found, limits, counted

    found, limits, counts = again_if_lost(read_and_increment)
    if found is not None:
        _refuse_over(ctx, limits, counts, now)
    return found


def _windows(ctx: Context, checks: tuple[Check, ...], now: datetime) -> list[tuple[str, str, datetime]]:
    return [(limit.name, _subject(ctx, limit, *parts), _window_start(limit, now)) for limit, parts in checks]


def _refuse_over(ctx: Context, checks: tuple[Check, ...], counts: list[int], now: datetime) -> None:
    """TooManyRequests when any count is over its limit (Retry-After: the latest window's end)."""
    refused: list[tuple[Limit, datetime]] = []
    starts = [_window_start(limit, now) for limit, _ in checks]
    for (limit, _), start, count in zip(checks, starts, counts, strict=True):
        if count > limit.count * ctx.settings.rate_limit_multiplier:
            refused.append((limit, start + limit.window))
    if refused:
        limit, reset = max(refused, key=lambda r: r[1])
        seconds = max(1, math.ceil((reset - now).total_seconds()))
        raise TooManyRequests(
            "rate_limited",
            limit.message.format(minutes=max(1, math.ceil(seconds / 60))),
            retry_after=seconds,
        )


def refund(ctx: Context, limit: Limit, *parts: str | None) -> None:
    """Take back one counted attempt (a log-in that succeeded is not a guess)."""
    with ctx.uow() as uow:
        start = _window_start(limit, ctx.clock.now())
        repository.decrement(uow.conn, limit.name, _subject(ctx, limit, *parts), start)
        uow.commit()


def login(email: str, client_ip: str | None, generation: str = "-") -> tuple[Check, Check]:
    """The limits on one log-in attempt.

    The per-account count belongs to the account's password generation: a password reset
    starts a new one, so the reset link also lifts a lockout, from every address.
    """
    return (LOGIN_PER_IP, (client_ip,)), (LOGIN_PER_ACCOUNT_AND_IP, (email, client_ip, generation))


def password_reset(email: str, client_ip: str | None) -> tuple[Check, Check]:
    """The limits on asking for a password-reset e-mail."""
    return (RESET_PER_IP, (client_ip,)), (RESET_PER_EMAIL, (email,))


def sign_up(email: str, client_ip: str | None) -> tuple[Check, Check]:
    """The limits on one sign-up attempt."""
    return (SIGN_UP_PER_IP, (client_ip,)), (SIGN_UP_PER_EMAIL, (email,))


def quote(user_id: str, client_ip: str | None) -> tuple[Check, Check]:
    """The limits on asking for a quote."""
    return (QUOTE_PER_ACCOUNT, (user_id,)), (QUOTE_PER_IP, (client_ip,))


def api_key(key_id: str, per_minute: int) -> Check:
    """The limit on one API key's requests (the account's own limits apply as well)."""
    limit = Limit(
        "apikey:key",
        per_minute,
        timedelta(minutes=1),
        "This API key made too many requests. Wait {minutes} minutes and try again.",
    )
    return limit, (key_id,)


def trade(user_id: str, client_ip: str | None) -> tuple[Check, Check]:
    """The limits on submitting a trade."""
    return (TRADE_PER_ACCOUNT, (user_id,)), (TRADE_PER_IP, (client_ip,))


def fraud_report(contact: str, client_ip: str | None) -> tuple[Check, Check]:
    """The limits on filing a fraud report: per address and per reporter's contact."""
    return (FRAUD_REPORT_PER_IP, (client_ip,)), (FRAUD_REPORT_PER_CONTACT, (contact.strip().lower(),))
