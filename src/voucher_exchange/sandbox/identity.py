"""The simulated identity vendor: checks a name, a birth date and a well-formed phone."""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from voucher_exchange.clock import Clock

_KR_MOBILE = re.compile(r"01[016789]\d{7,8}")
_E164 = re.compile(r"\+[1-9]\d{7,14}")
_SEPARATORS = re.compile(r"[\s-]")


class CheckBody(BaseModel):
    """A person to verify; an empty name is a verdict, not a malformed request."""

    model_config = ConfigDict(extra="forbid")

    legal_name: str = Field(max_length=200)
    birth_date: date
    phone: str = Field(max_length=32)


def phone_well_formed(phone: str) -> bool:
    """A Korean mobile number (01X + 7-8 digits) or E.164 (+ and 8-15 digits)."""
    digits = _SEPARATORS.sub("", phone)
    return bool(_KR_MOBILE.fullmatch(digits) or _E164.fullmatch(digits))


def check_identity(legal_name: str, birth_date: date, phone: str, today: date) -> str | None:
    """The reason the person fails verification, or None when verified.

    Age limits and sanctions are the exchange's own rules, so they are not judged here.
    """
    if not legal_name.strip() or birth_date > today:
        return "identity_invalid"
    if not phone_well_formed(phone):
        return "phone_invalid"
    return None


def identity_router(clock: Clock) -> APIRouter:
    """The identity vendor's endpoints."""
    router = APIRouter()

    @router.post("/checks")
    async def check(body: CheckBody) -> dict[str, object]:
        reason = check_identity(body.legal_name, body.birth_date, body.phone, clock.now().date())
        return {"verified": reason is None, "reason": reason}

    return router
