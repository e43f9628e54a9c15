"""The simulated voucher issuer: mints vouchers, answers lookups, redeems into the operator."""

from __future__ import annotations

import asyncio
import hmac
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from voucher_exchange.clock import Clock
from voucher_exchange.sandbox import statements
from voucher_exchange.sandbox.store import CallCount, IssuerBehavior, SandboxError, SandboxStore, Voucher

MAX_MINOR_UNITS = 10**12
_MINT_ATTEMPTS = 20


@dataclass(frozen=True)
class SandboxBrand:
    """How the simulated issuer of one brand mints its vouchers."""

    currency: str  # "KRW" | "USD"
    # Returns (code, pin or None): a valid voucher code in the brand's format.
    generate: Callable[[random.Random], tuple[str, str | None]]


# A wobbly outage: the 1st and 3rd calls to a "flaky" voucher fail, then it is steady.
# (Failing every odd call forever would starve any client that does redeem-then-lookup.)
FLAKY_FAILING_CALLS = frozenset({1, 3})

BrandLookup = Callable[[str], SandboxBrand | None]


class _Body(BaseModel):
    # Unknown fields are refused so a typo in a test or demo script fails loudly.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MintBody(_Body):
    """A request to mint one voucher with chosen properties and behaviours."""

    brand: str = Field(min_length=1, max_length=64)
    face_value: int = Field(gt=0, le=MAX_MINOR_UNITS)
    balance: int | None = Field(default=None, ge=0, le=MAX_MINOR_UNITS)
    state: Literal["active", "redeemed", "expired", "blocked"] = "active"
    issued_at: datetime | None = None
    purchase_channel: Literal["card", "bank_transfer", "carrier_billing", "gift", "promotion", "unknown"] = (
        "card"
    )
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    failure: Literal["none", "flaky", "timeout"] = "none"
    # Only for state "redeemed": when someone else used it (default: now).
    redeemed_at: datetime | None = None

    @model_validator(mode="after")
    def _balance_within_face_value(self) -> MintBody:
        if self.balance is not None and self.balance > self.face_value:
            raise ValueError("balance cannot exceed face_value")
        if self.redeemed_at is not None and self.state != "redeemed":
            raise ValueError("redeemed_at is for a redeemed voucher only")
        return self


class LookupBody(_Body):
    """A voucher to look up; `brand` is optional and, when given, must match."""

    code: str = Field(min_length=1, max_length=64)
    pin: str | None = Field(default=None, max_length=32)
    brand: str | None = Field(default=None, max_length=64)


class RedeemBody(LookupBody):
    """A redemption of the voucher's whole current balance under the caller's reference."""

    amount: int = Field(gt=0, le=MAX_MINOR_UNITS)
    reference: str = Field(min_length=1, max_length=128)


class BehaviorBody(_Body):
    """POST /behavior: the whole issuer slow, failing or short-paying for a stretch."""

    latency_ms: int = Field(default=0, ge=0, le=60_000)
    failure: Literal["none", "flaky", "failing", "timeout"] = "none"
    until: datetime | None = None
    statement_short_bps: int = Field(default=0, ge=0, le=10_000)


class ChargebackBody(_Body):
    """POST /chargebacks."""

    code: str = Field(min_length=1, max_length=64)
    reason: Literal["stolen", "fraud", "chargeback"]


class BlockBody(LookupBody):
    """POST /vouchers/block: a voucher reported stolen or scam-sourced."""

    reason: Literal["stolen", "fraud", "chargeback"]
    charge_back: bool = False


class IssuerDesk:
    """The issuer's lookups and redemptions over `store`: its HTTP routes and the embedded
    demo's in-process client (`sandbox.inprocess`) both answer through this, so they agree."""

    def __init__(self, store: SandboxStore, brands: BrandLookup) -> None:
        self.store, self.brands = store, brands

    def find(self, body: LookupBody) -> Voucher | None:
        """The voucher with this code, if the PIN and brand (when given) match."""
        voucher = self.store.find_voucher(body.code)
        if voucher is None or not _matches(voucher, body.pin, body.brand):
            return None
        return voucher

    def not_found(self, brand: str | None) -> dict[str, object]:
        """The lookup answer for an unknown code or a wrong PIN."""
        known = self.brands(brand) if brand else None
        return {
            "state": "not_found",
            "balance": 0,
            "currency": known.currency if known else "",
            "issued_at": None,
            "purchase_channel": None,
            "redeemed_by": None,
            "redeemed_at": None,
        }

    def count_call(self, voucher: Voucher, *, redeem: bool) -> CallCount:
        """Count this call on the voucher (its simulated behaviours depend on the count)."""
        return self.store.count_call(voucher.code, redeem=redeem)

    def current(self, code: str) -> dict[str, object]:
        """The lookup answer for a voucher as it stands now."""
        current = self.store.find_voucher(code)
        assert current is not None  # vouchers are never deleted
        return {
            "state": current.state,
            "balance": current.balance,
            "currency": current.currency,
            "issued_at": current.issued_at,
            "purchase_channel": current.purchase_channel,
            "redeemed_by": current.redeemed_by,
            "redeemed_at": current.redeemed_at,
        }

    def stretch(self, now: datetime) -> tuple[float, str | None]:
        """How the stretch set by POST /behavior treats one call now: (seconds of delay, the
        failure: "failing", "timeout" or None). Counts the call while the stretch lasts."""
        stretch = self.store.behavior()
        if stretch.until is not None and now >= datetime.fromisoformat(stretch.until):
            return 0.0, None
        if stretch.failure == "none" and not stretch.latency_ms:
            return 0.0, None
        calls = self.store.count_issuer_call()
        latency = stretch.latency_ms / 1000 if stretch.latency_ms else 0.0
        if stretch.failure == "timeout":
            return latency, "timeout"
        if stretch.failure == "failing" or (stretch.failure == "flaky" and calls % 2 == 1):
            return latency, "failing"
        return latency, None

    def redeem(self, body: RedeemBody) -> dict[str, object]:
        """Redeem, idempotent on the reference; SandboxError(409) when it cannot be."""
        return {
            "reference": body.reference,
            "amount": self.store.redeem(body.code, body.amount, body.reference),
        }


def flaky_failure(voucher: Voucher, count: CallCount) -> None:
    """Raise the 503 a "flaky" voucher's failing calls get."""
    if voucher.failure == "flaky" and count.calls in FLAKY_FAILING_CALLS:
        raise SandboxError(503, "issuer_unavailable", "The issuer is briefly unavailable.")


def hangs(voucher: Voucher, count: CallCount) -> bool:
    """The first redeem of a "timeout" voucher does its work, then answers too late."""
    return voucher.failure == "timeout" and count.redeem_calls == 1


def issuer_router(store: SandboxStore, brands: BrandLookup, hang_seconds: float, clock: Clock) -> APIRouter:
    """The issuer's endpoints over `store`."""
    router = APIRouter()
    desk = IssuerDesk(store, brands)
    # Codes must be unguessable even in a demo, so they come from the OS's randomness.
    rng = random.SystemRandom()

    async def behave_as_issuer() -> None:
        """The stretch set by POST /behavior, before any voucher's own behaviour."""
        latency, failure = await run_in_threadpool(desk.stretch, clock.now())
        if latency:
            await asyncio.sleep(latency)
        if failure == "timeout":
            await asyncio.sleep(hang_seconds)  # the caller has given up by now: the call did nothing
        if failure is not None:
            raise SandboxError(503, "issuer_unavailable", "The issuer is unavailable.")

    async def behave(voucher: Voucher, *, redeem: bool) -> CallCount:
        await behave_as_issuer()
        count = await run_in_threadpool(desk.count_call, voucher, redeem=redeem)
        if voucher.latency_ms:
            await asyncio.sleep(voucher.latency_ms / 1000)
        flaky_failure(voucher, count)
        return count

    async def find(body: LookupBody) -> Voucher | None:
        return await run_in_threadpool(desk.find, body)

    @router.post("/vouchers", status_code=201)
    async def mint(body: MintBody) -> dict[str, object]:
        brand = brands(body.brand)
        if brand is None:
            raise SandboxError(404, "brand_unknown", "This issuer does not sell that brand.")
        issued_at = body.issued_at or clock.now()
        if issued_at.tzinfo is None:
            issued_at = issued_at.replace(tzinfo=UTC)
        redeemed_by: str | None = None
        redeemed_at: str | None = None
        if body.state == "redeemed":
            # Spent at one of the issuer's shops: its own reference and time of use.
            used = body.redeemed_at or clock.now()
            used = used if used.tzinfo is not None else used.replace(tzinfo=UTC)
            redeemed_at = used.astimezone(UTC).isoformat()
            redeemed_by = "POS-" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))
        balance = body.balance
        if balance is None:
            # A voucher someone else already spent has nothing left on it.
            balance = 0 if body.state == "redeemed" else body.face_value
        for _ in range(_MINT_ATTEMPTS):
            code, pin = brand.generate(rng)
            voucher = Voucher(
                code=code,
                pin=pin,
                brand=body.brand,
                currency=brand.currency,
                face_value=body.face_value,
                balance=balance,
                state=body.state,
                issued_at=issued_at.astimezone(UTC).isoformat(),
                purchase_channel=body.purchase_channel,
                redeemed_by=redeemed_by,
                latency_ms=body.latency_ms,
                failure=body.failure,
                redeemed_at=redeemed_at,
            )
            if await run_in_threadpool(store.add_voucher, voucher):
                return {
                    "code": code,
                    "pin": pin,
                    "brand": body.brand,
                    "face_value": body.face_value,
                    "currency": brand.currency,
                }
        raise SandboxError(409, "code_space_exhausted", "Could not mint an unused code.")

    @router.post("/vouchers/lookup")
    async def lookup(body: LookupBody) -> dict[str, object]:
        voucher = await find(body)
        if voucher is None:
            return desk.not_found(body.brand)
        await behave(voucher, redeem=False)
        return await run_in_threadpool(desk.current, voucher.code)

    @router.post("/vouchers/redeem")
    async def redeem(body: RedeemBody) -> dict[str, object]:
        voucher = await find(body)
        if voucher is None:
            raise SandboxError(409, "voucher_not_found", "No such voucher.", "not_found")
        count = await behave(voucher, redeem=True)
        # The first redeem of a "timeout" voucher does its work, then answers too late: the
        # caller cannot know whether the value moved.
        try:
            return await run_in_threadpool(desk.redeem, body)
        finally:
            if hangs(voucher, count):
                await asyncio.sleep(hang_seconds)

    @router.post("/vouchers/block")
    async def block(body: BlockBody) -> dict[str, object]:
        """Block an unspent voucher; a redeemed one stays redeemed (and is charged back if asked)."""
        voucher = await find(body)
        if voucher is None:
            return {"state": "not_found"}
        state = await run_in_threadpool(store.block, voucher.code, body.reason, body.charge_back)
        return {"state": state}

    @router.post("/behavior")
    async def set_behavior(body: BehaviorBody) -> dict[str, object]:
        """Make every look-up and redeem slow or failing until `until`, and the statements short."""
        until = body.until
        if until is not None and until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        behavior = IssuerBehavior(
            body.latency_ms,
            body.failure,
            until.astimezone(UTC).isoformat() if until else None,
            body.statement_short_bps,
        )
        await run_in_threadpool(store.set_behavior, behavior)
        return _behavior_json(behavior)

    @router.get("/behavior")
    async def get_behavior() -> dict[str, object]:
        return _behavior_json(await run_in_threadpool(store.behavior))

    @router.get("/redemptions")
    async def redemptions() -> dict[str, object]:
        return {"redemptions": await run_in_threadpool(store.redemptions)}

    @router.post("/chargebacks", status_code=202)
    async def report_chargeback(body: ChargebackBody) -> dict[str, object]:
        """The issuer reports a redeemed voucher as stolen, fraudulent or charged back."""
        return await run_in_threadpool(store.report_chargeback, body.code, body.reason)

    @router.get("/chargebacks")
    async def chargebacks(after: Annotated[int, Query(ge=0)] = 0) -> dict[str, object]:
        """What the issuer has charged back since `after` (its own sequence): the exchange polls this."""
        return {"chargebacks": await run_in_threadpool(store.chargebacks_after, after)}

    @router.get("/statements")
    async def statement(day: Annotated[date, Query(alias="date")]) -> Response:
        body = await run_in_threadpool(statements.issuer_statement, store, day)
        filename = f"issuer-statement-{day.isoformat()}.csv"
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return router


def _behavior_json(behavior: IssuerBehavior) -> dict[str, object]:
    return {
        "latency_ms": behavior.latency_ms,
        "failure": behavior.failure,
        "until": behavior.until,
        "statement_short_bps": behavior.statement_short_bps,
    }


def _matches(voucher: Voucher, pin: str | None, brand: str | None) -> bool:
    if brand is not None and brand != voucher.brand:
        return False
    if voucher.pin is None:
        return True
    return pin is not None and hmac.compare_digest(pin.encode(), voucher.pin.encode())
