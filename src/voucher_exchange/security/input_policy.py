"""One input policy for the API and the web forms, applied before anything reaches the database.

Text may not hold control characters (NUL breaks PostgreSQL; CR/LF break headers and
e-mails) or lone surrogates (they cannot be encoded). Lengths are the smallest of the
column's and every vendor's that receives the value, so an over-long value is a 422
here rather than a 500 from the database or a partner.
"""

from __future__ import annotations

import re
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, Field

from voucher_exchange.errors import InvalidInput

EMAIL_MAX = 254
PASSWORD_MAX = 200
# users.legal_name is 200, but the holder name must equal it and the rail takes 100.
NAME_MAX = 100
PHONE_MAX = 32  # the identity vendor's limit (users.phone is 40)
NOTE_MAX = 2000
TEXT_MAX = 200

_SINGLE_LINE_BAD = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_MULTI_LINE_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def single_line(value: str) -> str:
    """The value, if it holds no control character (tab, CR and LF included)."""
    if _SINGLE_LINE_BAD.search(value):
        raise ValueError("must not contain control characters")
    return value


def multi_line(value: str) -> str:
    """The value, if its only control characters are tab, CR and LF."""
    if _MULTI_LINE_BAD.search(value):
        raise ValueError("must not contain control characters")
    return value


Line = Annotated[str, AfterValidator(single_line)]
"""A single line of text (add a Field for its length)."""
Lines = Annotated[str, AfterValidator(multi_line)]
"""Text that may span lines, e.g. a reviewer's note."""
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(single_line)]


def parse_email(text: str) -> str:
    """A normalised e-mail address (lower case), or `email_invalid`; the same rule for web and API."""
    candidate = text.strip()
    if len(candidate) > EMAIL_MAX or _SINGLE_LINE_BAD.search(candidate):
        raise InvalidInput("email_invalid", "Enter a valid e-mail address.", "email")
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput("email_invalid", "Enter a valid e-mail address.", "email") from exc
    return checked.normalized.lower()


# C0 and C1 controls, DEL, and the format characters that reorder or hide text on a terminal
# (bidirectional overrides and isolates, zero-width characters, the BOM).
_UNSHOWABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def shown(text: str) -> str:
    """Text from a file or a stranger, safe to show: each control character as its escape.

    `\\x1b[2J` is shown as the eight characters `\\x1b[2J`, never sent to the terminal. The
    result may still hold markup-like brackets: print it as a Rich `Text`, or escaped.
    """
    return _UNSHOWABLE.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
