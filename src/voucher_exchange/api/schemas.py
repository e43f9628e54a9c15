"""Request bodies: strict types and bounds, so bad input is a 422, never a 500."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictInt

from voucher_exchange.money import MAX_MINOR_UNITS
from voucher_exchange.trades.models import AcquisitionMethod

Short = Annotated[str, Field(min_length=1, max_length=200)]


class Body(BaseModel):
    """Unknown fields are refused: a typo should not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MoneyIn(Body):
    """`{"amount": 50000, "currency": "KRW"}` — whole minor units only."""

    amount: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR_UNITS)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class SignUp(Body):
    """POST /accounts."""

    email: Annotated[EmailStr, Field(max_length=254)]
    password: Annotated[str, Field(min_length=10, max_length=200)]


class LogIn(Body):
    """POST /sessions."""

    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class IdentityIn(Body):
    """POST /me/identity."""

    legal_name: Short
    birth_date: date
    phone: Annotated[str, Field(min_length=4, max_length=40)]
    nationality: Annotated[str | None, Field(min_length=2, max_length=2)] = None


class DestinationIn(Body):
    """POST /me/payout-destinations."""

    kind: Literal["bank_account"]
    bank_code: Annotated[str, Field(min_length=2, max_length=11)]
    account_number: Annotated[str, Field(min_length=6, max_length=30)]
    holder_name: Short


class QuoteIn(Body):
    """POST /quotes."""

    brand: Annotated[str, Field(min_length=1, max_length=60)]
    face_value: MoneyIn


class VoucherIn(Body):
    """The secret part of a trade; never echoed back."""

    code: Annotated[str, Field(min_length=1, max_length=64)]
    pin: Annotated[str | None, Field(max_length=32)] = None


class AcquisitionIn(Body):
    """How the seller got the voucher."""

    method: AcquisitionMethod
    acquired_on: date


class TradeIn(Body):
    """POST /trades."""

    quote_id: Annotated[str, Field(min_length=1, max_length=36)]
    voucher: VoucherIn
    acquisition: AcquisitionIn
    payout_destination_id: Annotated[str, Field(min_length=1, max_length=36)]


class ReviewDecisionIn(Body):
    """POST /review/trades/{id}/decision."""

    outcome: Literal["approve", "reject"]
    note: Annotated[str, Field(min_length=1, max_length=2000)]
    reason: Annotated[str | None, Field(max_length=40)] = None
