"""Password hashing with argon2id; API tokens stored as SHA-256 of 256 random bits.

Each argon2id hash takes 64 MiB and about 0.1 s of a core, in 4 lanes that libargon2
runs on threads of their own, so one hash at a time already keeps two cores busy.
Hashes run in a bounded pool: a request that finds every slot busy for
`SLOT_WAIT_SECONDS` is refused (429, retry in a second), so a flood of log-ins costs
at most `slots × 64 MiB` and cannot take the threads every other request needs.

One slot by default: with four, concurrent sign-ups took an API process from ~130 MB
to ~380 MB resident; with one it stays under 250 MB (docs/benchmarks.md, issue 14).
The wait is long enough for a few queued hashes to take their turn, not for a flood.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from voucher_exchange.errors import TooManyRequests

_hasher = PasswordHasher()
# A fixed hash verified when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY = _hasher.hash("not-a-real-password")
DEFAULT_SLOTS = 1
SLOT_WAIT_SECONDS = 0.5
_slots = threading.BoundedSemaphore(DEFAULT_SLOTS)


def configure(slots: int) -> None:
    """Set how many hashes may run at once in this process (call before serving)."""
    global _slots  # noqa: PLW0603  # one pool per process, sized from its settings
    _slots = threading.BoundedSemaphore(max(1, slots))


@contextmanager
def _slot() -> Iterator[None]:
    pool = _slots
    if not pool.acquire(timeout=SLOT_WAIT_SECONDS):
        raise TooManyRequests(
            "server_busy", "We are handling many sign-ins right now. Try again in a second.", retry_after=1
        )
    try:
        yield
    finally:
        pool.release()


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    with _slot():
        return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; constant work whether or not the account exists."""
    with _slot():
        try:
            return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
        except (VerificationError, InvalidHashError):
            return False


def new_token() -> str:
    """A bearer token for the API (shown once, stored hashed)."""
    return "vx_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """How a token is stored and looked up. High-entropy tokens need no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()
