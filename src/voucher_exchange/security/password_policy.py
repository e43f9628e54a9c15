"""What a password must be: long enough, not a common one, not the e-mail."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

from voucher_exchange.errors import InvalidInput

MIN_PASSWORD = 10
MAX_PASSWORD = 200
MIN_EMAIL_REST = 8
# Digits and symbols people add around a common word ("Password2026!").
_DECORATION = re.compile(r"^[\d\W_]+|[\d\W_]+$")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list (`common_passwords.txt`), lower case."""
    text = resources.files("voucher_exchange.security").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check(password: str, email: str) -> None:
    """Refuse a password that is too short or long, common, or made from the e-mail."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            "password_invalid",
            f"Use a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            "password",
        )
    folded = password.casefold()
    core = _DECORATION.sub("", folded)
    common = common_passwords()
    if folded in common or core in common or len(set(folded)) <= 2:
        raise InvalidInput(
            "password_common",
            "This password is one of the most used and is guessed first. Choose another.",
            "password",
        )
    # The e-mail is the first thing a guesser tries: what is left without it must stand alone.
    local = email.casefold().partition("@")[0]
    rest = folded.replace(email.casefold(), "")
    if len(local) >= 3:
        rest = rest.replace(local, "")
    if len(rest) < MIN_EMAIL_REST:
        raise InvalidInput(
            "password_like_email", "The password must not contain your e-mail address.", "password"
        )
