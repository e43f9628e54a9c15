"""The identity-verification interface (a real KYC vendor or the sandbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol


@dataclass(frozen=True)
class IdentityResult:
    """The provider's verdict on a person."""

    verified: bool
    reason: str | None  # e.g. "phone_invalid", "not_found"; None when verified


class IdentityProvider(Protocol):
    """Checks that a person with this name, birth date and phone exists and owns the phone."""

    def check(self, legal_name: str, birth_date: date, phone: str) -> IdentityResult:
        """Verify a person. May raise `ExternalUnavailable`."""
        ...
