"""Request bodies: strict types and bounds, so bad input is a 422, never a 500."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator

from voucher_exchange.apikeys.models import MAX_OVERLAP_HOURS, Scope
from voucher_exchange.money import MAX_MINOR_UNITS
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.security.input_policy import (
    EMAIL_MAX,
    NOTE_MAX,
    PASSWORD_MAX,
    PHONE_MAX,
    Line,
    Lines,
    Name,
)
from voucher_exchange.trust.models import ConsentKind

# Every text field is a `Line` (no control characters) with the length of its column and vendors.
Id = Annotated[Line, Field(min_length=1, max_length=36)]


class Body(BaseModel):
    """Unknown fields are refused: a typo should not be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class MoneyIn(Body):
    """`{"amount": 50000, "currency": "KRW"}` — whole minor units only."""

    amount: Annotated[StrictInt, Field(gt=0, le=MAX_MINOR_UNITS)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class SignUp(Body):
    """POST /accounts."""

    email: Annotated[Line, Field(min_length=3, max_length=EMAIL_MAX)]
    password: Annotated[Line, Field(min_length=10, max_length=PASSWORD_MAX)]
    # What the seller agreed to (the current versions are recorded). Left out, the API's
    # sign-up counts as accepting the required ones (terms, privacy) and not marketing.
    consents: Annotated[list[ConsentKind], Field(max_length=3)] | None = None


class LogIn(Body):
    """POST /sessions."""

    email: Annotated[Line, Field(min_length=3, max_length=EMAIL_MAX)]
    password: Annotated[Line, Field(min_length=1, max_length=PASSWORD_MAX)]
    # Staff with two-factor: the 6-digit code (or a recovery code).
    totp: Annotated[Line, Field(min_length=1, max_length=40)] | None = None


class PasswordResetIn(Body):
    """POST /password-resets."""

    email: Annotated[Line, Field(min_length=3, max_length=EMAIL_MAX)]


class NewPasswordIn(Body):
    """POST /password-resets/{token}."""

    password: Annotated[Line, Field(min_length=1, max_length=PASSWORD_MAX)]


class IdentityIn(Body):
    """POST /me/identity."""

    legal_name: Name
    birth_date: date
    phone: Annotated[Line, Field(min_length=4, max_length=PHONE_MAX)]
    nationality: Annotated[Line | None, Field(min_length=2, max_length=2)] = None


class DestinationIn(Body):
    """POST /me/payout-destinations."""

    kind: Literal["bank_account"]
    bank_code: Annotated[Line, Field(min_length=2, max_length=11)]
    account_number: Annotated[Line, Field(min_length=6, max_length=30)]
    holder_name: Name


class QuoteIn(Body):
    """POST /quotes."""

    brand: Annotated[Line, Field(min_length=1, max_length=60)]
    face_value: MoneyIn


class VoucherIn(Body):
    """The secret part of a trade; never echoed back."""

    code: Annotated[Line, Field(min_length=1, max_length=64)]
    pin: Annotated[Line | None, Field(max_length=32)] = None


class AcquisitionIn(Body):
    """How the seller got the voucher."""

    method: AcquisitionMethod
    acquired_on: date


class TradeIn(Body):
    """POST /trades."""

    quote_id: Id
    voucher: VoucherIn
    acquisition: AcquisitionIn
    payout_destination_id: Id


class ReviewDecisionIn(Body):
    """POST /review/trades/{id}/decision."""

    outcome: Literal["approve", "reject"]
    note: Annotated[Lines, Field(min_length=1, max_length=NOTE_MAX)]
    reason: Annotated[Line | None, Field(max_length=40)] = None


class DocumentDecisionIn(Body):
    """POST /review/identity-documents/{id}/decision."""

    outcome: Literal["approve", "reject"]
    reason: Annotated[Line | None, Field(max_length=40)] = None
    note: Annotated[Lines, Field(max_length=NOTE_MAX)] = ""


class ErrorDetail(BaseModel):
    """What went wrong: a stable code, a message for people, the field at fault (if one)."""

    code: str
    message: str
    field: str | None


class ErrorOut(BaseModel):
    """Every 4xx answer: `{"error": {"code", "message", "field"}}`."""

    error: ErrorDetail


# Documented on every API route, in place of FastAPI's own 422 shape (which we never send).
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    "4XX": {"model": ErrorOut, "description": "Refused; `code` is stable, `message` is for people."}
}


class PayoutRedirectIn(Body):
    """POST /trades/{id}/payout: send a refused payout to another of the seller's verified accounts."""

    payout_destination_id: Annotated[Line, Field(min_length=1, max_length=36)]


class AppealIn(Body):
    """POST /trades/{id}/appeal: why the seller contests a refusal or a reversal.

    `message` (contract section 6); `note`, its earlier name, is still read.
    """

    message: Annotated[Lines | None, Field(min_length=1, max_length=NOTE_MAX)] = None
    note: Annotated[Lines | None, Field(min_length=1, max_length=NOTE_MAX)] = None

    @property
    def text(self) -> str:
        """What the seller wrote, under either name."""
        return self.message or self.note or ""


class AppealAnswerIn(Body):
    """POST /review/appeals/{trade_id}/decision: upheld | overturned (refusal) | written_off (reversal)."""

    outcome: Literal["upheld", "overturned", "written_off"]
    note: Annotated[Lines, Field(min_length=1, max_length=NOTE_MAX)]


class ApiKeyIn(Body):
    """POST /api-keys."""

    name: Annotated[Line, Field(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=len(Scope))]
    # CIDRs such as "203.0.113.0/24"; checked (422 invalid_cidr) by the use case.
    allowed_ips: Annotated[list[Annotated[Line, Field(max_length=50)]], Field(max_length=20)] | None = None
    expires_at: AwareDatetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError as exc:  # year 9999 in a zone west of UTC
            raise ValueError("expires_at is out of range") from exc


class ApiKeyRollIn(Body):
    """POST /api-keys/{id}/roll."""

    overlap_hours: Annotated[StrictInt, Field(ge=0, le=MAX_OVERLAP_HOURS)] | None = None


WebhookEventName = Annotated[Line, Field(min_length=1, max_length=40)]


class WebhookEndpointIn(Body):
    """POST /webhook-endpoints: where to send which events."""

    url: Annotated[Line, Field(min_length=1, max_length=2048)]
    events: Annotated[list[WebhookEventName], Field(min_length=1, max_length=20)]
    description: Annotated[Line, Field(max_length=200)] | None = None


class RotateSecretIn(Body):
    """POST /webhook-endpoints/{id}/rotate-secret: how long the old secret keeps signing too."""

    overlap_hours: Annotated[StrictInt, Field(ge=0, le=168)] | None = None


class ReplayIn(Body):
    """POST /webhook-endpoints/{id}/replay: re-deliver every event since this time."""

    since: AwareDatetime
