"""Password hashing with argon2id; API tokens stored as SHA-256 of 256 random bits."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A fixed hash verified when the e-mail is unknown, so timing does not reveal accounts.
_DUMMY = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches; constant work whether or not the account exists."""
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
