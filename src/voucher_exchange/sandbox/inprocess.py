"""The embedded demo's adapters: the mounted sandboxes called in-process, no loopback HTTP.

`serve --demo` (one process) mounts the sandboxes at /sandbox for people and scripts, and
its own issuer, rail and identity calls go straight to the same state through these
clients (PRODUCT.md allows it for the embedded demo only; every other deployment uses the
HTTP adapters). They validate with the sandbox's own request models, answer through the
same desk as its routes, and turn its refusals into what the HTTP adapters raise; the
contract suite (tests/adapters/test_contracts.py) runs both against the same cases.

A simulated delay (a voucher's latency, a "timeout" voucher or account hanging) is waited
out in the caller's thread up to the caller's timeout; past it the call raises
`ExternalUnavailable` like an HTTP client giving up, after the work was done, as the
sandbox's server would have done it anyway.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from voucher_exchange.clock import Clock
from voucher_exchange.errors import Conflict, ExternalTimedOut, ExternalUnavailable
from voucher_exchange.ports.identity import IdentityResult
from voucher_exchange.ports.issuer import Chargeback, Redemption, VoucherRefused, VoucherState, VoucherStatus
from voucher_exchange.ports.rail import AccountHolder, RailTransfer, RailTransferStatus
from voucher_exchange.sandbox.identity import CheckBody, check_identity
from voucher_exchange.sandbox.issuer import (
    BlockBody,
    IssuerDesk,
    LookupBody,
    RedeemBody,
    flaky_failure,
    hangs,
)
from voucher_exchange.sandbox.rail import AccountLookupBody, TransferBody
from voucher_exchange.sandbox.store import SandboxError, SandboxStore, TransferRequest


@dataclass(frozen=True)
class Sandboxes:
    """The state behind a sandbox app, for in-process callers (app.state.sandboxes)."""

    store: SandboxStore
    desk: IssuerDesk
    hang_seconds: float
    clock: Clock


class _Waiter:
    """Waits out a simulated delay, or gives up at the caller's timeout like an HTTP client."""

    def __init__(self, timeout: float, sleep: Callable[[float], None] = time.sleep) -> None:
        self.timeout, self.sleep = timeout, sleep

    def wait(self, seconds: float, what: str) -> None:
        if seconds <= 0:
            return
        if seconds >= self.timeout:
            self.sleep(self.timeout)
            raise ExternalTimedOut(f"{what} did not answer in time")
        self.sleep(seconds)


def _valid(model: type[Any], what: str, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        # Something the sandbox cannot accept is a bug on our side, as over HTTP (no values logged).
        raise RuntimeError(
            f"{what} rejected the request: invalid_input ({exc.error_count()} errors)"
        ) from None


class InProcessIssuer:
    """An `Issuer` answering from the mounted sandbox's state."""

    def __init__(self, sandboxes: Sandboxes, timeout: float) -> None:
        self._desk, self._hang, self._waiter = sandboxes.desk, sandboxes.hang_seconds, _Waiter(timeout)
        self._store, self._clock = sandboxes.store, sandboxes.clock

    def lookup(self, brand: str, code: str, pin: str | None) -> VoucherStatus:
        """Balance, state and provenance of a voucher; changes nothing."""
        body = _valid(LookupBody, "issuer", brand=brand, code=code, pin=pin)
        voucher = self._desk.find(body)
        if voucher is None:
            return _status(self._desk.not_found(body.brand))
        self._as_issuer()
        count = self._desk.count_call(voucher, redeem=False)
        self._waiter.wait(voucher.latency_ms / 1000, "issuer")
        self._flaky(voucher, count)
        return _status(self._desk.current(voucher.code))

    def block(self, brand: str, code: str, pin: str | None, reason: str, charge_back: bool) -> VoucherState:
        """Block a voucher reported stolen (and with `charge_back`, take a redeemed one's value back)."""
        body = _valid(
            BlockBody, "issuer", brand=brand, code=code, pin=pin, reason=reason, charge_back=charge_back
        )
        voucher = self._desk.find(body)
        if voucher is None:
            return VoucherState.NOT_FOUND
        return VoucherState(self._store.block(voucher.code, body.reason, body.charge_back))

    def _as_issuer(self) -> None:
        """The issuer-wide stretch set by POST /sandbox/issuer/behavior, as its routes apply it."""
        latency, failure = self._desk.stretch(self._clock.now())
        self._waiter.wait(latency, "issuer")
        if failure == "timeout":
            self._waiter.wait(max(self._hang, self._waiter.timeout), "issuer")
        if failure is not None:
            raise ExternalUnavailable("issuer failed with HTTP 503")

    def redeem(self, brand: str, code: str, pin: str | None, amount: int, reference: str) -> Redemption:
        """Move the voucher's value into the operator's account, idempotent on `reference`."""
        body = _valid(
            RedeemBody, "issuer", brand=brand, code=code, pin=pin, amount=amount, reference=reference
        )
        voucher = self._desk.find(body)
        if voucher is None:
            unknown = SandboxError(409, "voucher_not_found", "No such voucher.", "not_found")
            raise VoucherRefused(VoucherState.NOT_FOUND, _answer(unknown.body()))
        self._as_issuer()
        count = self._desk.count_call(voucher, redeem=True)
        latency = voucher.latency_ms / 1000
        if latency >= self._waiter.timeout:
            # The caller gives up first; the sandbox carries on with the call, as its server would.
            with suppress(SandboxError):
                flaky_failure(voucher, count)
                self._desk.redeem(body)
        self._waiter.wait(latency, "issuer")
        self._flaky(voucher, count)
        try:
            answer = self._desk.redeem(body)
        except SandboxError as refused:
            state = VoucherState(refused.state or "not_found")
            raise VoucherRefused(state, _answer(refused.body())) from None
        if hangs(voucher, count):
            self._waiter.wait(self._hang, "issuer")
        return Redemption(reference=str(answer["reference"]), amount=int(str(answer["amount"])))

    def chargebacks(self, after: int) -> list[Chargeback]:
        """Values the issuer took back after redemption, reported after its own id `after`."""
        return [
            Chargeback(
                id=int(str(c["id"])),
                reference=str(c["reference"]),
                amount=int(str(c["amount"])),
                currency=str(c["currency"]),
                reason=str(c["reason"]),
                reported_at=_aware(str(c["reported_at"])),
            )
            for c in self._store.chargebacks_after(after)
        ]

    def close(self) -> None:
        """Nothing to release (the sandbox's app owns its store)."""

    @staticmethod
    def _flaky(voucher: Any, count: Any) -> None:
        try:
            flaky_failure(voucher, count)
        except SandboxError:
            raise ExternalUnavailable("issuer failed with HTTP 503") from None


class InProcessPayoutRail:
    """A `PayoutRail` answering from the mounted sandbox's state."""

    def __init__(self, sandboxes: Sandboxes, timeout: float) -> None:
        self._store, self._hang, self._waiter = sandboxes.store, sandboxes.hang_seconds, _Waiter(timeout)

    def account_holder(self, bank_code: str, account_number: str) -> AccountHolder:
        """Who holds this account, per the bank."""
        body = _valid(AccountLookupBody, "payout rail", bank_code=bank_code, account_number=account_number)
        account = self._store.find_account(body.bank_code, body.account_number)
        return AccountHolder(exists=account is not None, holder_name=account.holder_name if account else None)

    def transfer(
        self,
        idempotency_key: str,
        bank_code: str,
        account_number: str,
        holder_name: str,
        amount: int,
        currency: str,
    ) -> RailTransfer:
        """Send money; the same key never executes twice (`Conflict` for a reused key)."""
        body = _valid(
            TransferBody,
            "payout rail",
            idempotency_key=idempotency_key,
            bank_code=bank_code,
            account_number=account_number,
            holder_name=holder_name,
            amount=amount,
            currency=currency,
        )
        request = TransferRequest(
            idempotency_key=body.idempotency_key,
            bank_code=body.bank_code,
            account_number=body.account_number,
            holder_name=body.holder_name,
            amount=body.amount,
            currency=body.currency,
        )
        try:
            recorded, hang = self._store.transfer(request)
        except SandboxError as refused:
            if refused.status == 409:
                raise Conflict(
                    "idempotency_conflict", "The rail already holds a different transfer under this key."
                ) from None
            raise RuntimeError(f"payout rail rejected transfer with HTTP {refused.status}") from None
        if hang:
            # The money has moved; the caller just never hears so from this call.
            self._waiter.wait(self._hang, "payout rail (transfers)")
        return _transfer(recorded)

    def transfer_status(self, idempotency_key: str) -> RailTransfer:
        """What happened to the transfer with this key (NOT_FOUND if never received)."""
        recorded = self._store.find_transfer(idempotency_key)
        if recorded is None:
            return RailTransfer(idempotency_key, RailTransferStatus.NOT_FOUND, 0, "", None)
        return _transfer(recorded)

    def close(self) -> None:
        """Nothing to release."""


class InProcessIdentityProvider:
    """An `IdentityProvider` answering as the mounted sandbox vendor does."""

    def __init__(self, sandboxes: Sandboxes, timeout: float) -> None:
        self._clock = sandboxes.clock

    def check(self, legal_name: str, birth_date: date, phone: str) -> IdentityResult:
        """Verify a person."""
        body = _valid(CheckBody, "identity vendor", legal_name=legal_name, birth_date=birth_date, phone=phone)
        reason = check_identity(body.legal_name, body.birth_date, body.phone, self._clock.now().date())
        return IdentityResult(verified=reason is None, reason=reason)

    def close(self) -> None:
        """Nothing to release."""


def _answer(body: dict[str, object]) -> bytes:
    """The answer as the sandbox's route would have sent it (its SHA-256 goes on the evidence record)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _status(body: dict[str, object]) -> VoucherStatus:
    issued_at = body.get("issued_at")
    redeemed_at = body.get("redeemed_at")
    return VoucherStatus(
        state=VoucherState(str(body["state"])),
        balance=int(str(body["balance"])),
        currency=str(body.get("currency") or ""),
        issued_at=_aware(str(issued_at)) if issued_at else None,
        purchase_channel=None if body.get("purchase_channel") is None else str(body["purchase_channel"]),
        redeemed_by=None if body.get("redeemed_by") is None else str(body["redeemed_by"]),
        redeemed_at=_aware(str(redeemed_at)) if redeemed_at else None,
        answer=_answer(body),
    )


def _transfer(recorded: Any) -> RailTransfer:
    return RailTransfer(
        idempotency_key=recorded.idempotency_key,
        status=RailTransferStatus(recorded.status),
        amount=recorded.amount,
        currency=recorded.currency,
        rail_reference=recorded.rail_reference,
        executed_at=_aware(recorded.executed_at) if recorded.executed_at else None,
    )


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
