"""The issuer interface over HTTP, as the sandbox (and an issuer speaking its API) serves it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx

from voucher_exchange.errors import ExternalTimedOut, ExternalUnavailable
from voucher_exchange.ports.issuer import (
    Chargeback,
    Redemption,
    VoucherRefused,
    VoucherState,
    VoucherStatus,
)


class HttpIssuer:
    """An `Issuer` reached at `base_url` (the sandbox root); one connection pool per instance."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/") + "/issuer", timeout=timeout)

    def lookup(self, brand: str, code: str, pin: str | None) -> VoucherStatus:
        """Balance, state and provenance of a voucher; changes nothing."""
        raw = self._post_raw("/vouchers/lookup", {"brand": brand, "code": code, "pin": pin})
        body: dict[str, Any] = json.loads(raw)
        issued_at = body.get("issued_at")
        redeemed_at = body.get("redeemed_at")
        return VoucherStatus(
            state=VoucherState(body["state"]),
            balance=int(body["balance"]),
            currency=str(body.get("currency") or ""),
            issued_at=_aware(issued_at) if issued_at else None,
            purchase_channel=body.get("purchase_channel"),
            redeemed_by=body.get("redeemed_by"),
            redeemed_at=_aware(str(redeemed_at)) if redeemed_at else None,
            answer=raw,
        )

    def redeem(self, brand: str, code: str, pin: str | None, amount: int, reference: str) -> Redemption:
        """Move the voucher's value into the operator's account, idempotent on `reference`."""
        body = self._post(
            "/vouchers/redeem",
            {"brand": brand, "code": code, "pin": pin, "amount": amount, "reference": reference},
        )
        return Redemption(reference=str(body["reference"]), amount=int(body["amount"]))

    def chargebacks(self, after: int) -> list[Chargeback]:
        """Values the issuer took back after redemption, reported after its own id `after`."""
        try:
            response = self._client.get("/chargebacks", params={"after": after})
        except httpx.HTTPError as exc:
            raise ExternalUnavailable("issuer unreachable for /chargebacks") from exc
        if response.status_code != 200:
            raise ExternalUnavailable(f"issuer failed /chargebacks with HTTP {response.status_code}")
        return [
            Chargeback(
                id=int(c["id"]),
                reference=str(c["reference"]),
                amount=int(c["amount"]),
                currency=str(c["currency"]),
                reason=str(c["reason"]),
                reported_at=_aware(str(c["reported_at"])),
            )
            for c in response.json()["chargebacks"]
        ]

    def block(self, brand: str, code: str, pin: str | None, reason: str, charge_back: bool) -> VoucherState:
        """Block a voucher reported stolen (and with `charge_back`, take a redeemed one's value back)."""
        body = self._post(
            "/vouchers/block",
            {"brand": brand, "code": code, "pin": pin, "reason": reason, "charge_back": charge_back},
        )
        return VoucherState(body["state"])

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _post(self, path: str, payload: dict[str, object]) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self._post_raw(path, payload))
        return result

    def _post_raw(self, path: str, payload: dict[str, object]) -> bytes:
        # Messages name the operation only: codes and PINs must never reach logs.
        try:
            response = self._client.post(path, json=payload)
        except httpx.TimeoutException as exc:
            raise ExternalTimedOut(f"issuer did not answer {path} in time") from exc
        except httpx.TransportError as exc:
            raise ExternalUnavailable(f"issuer unreachable for {path}") from exc
        if response.status_code >= 500:
            raise ExternalUnavailable(f"issuer failed {path} with HTTP {response.status_code}")
        if response.status_code == 409 and path == "/vouchers/redeem":
            raise VoucherRefused(VoucherState(response.json()["state"]), response.content)
        if response.status_code != 200:
            # Anything else means we sent something the issuer cannot accept: a bug, not a state.
            raise RuntimeError(
                f"issuer rejected {path} with HTTP {response.status_code}: {_error_code(response)}"
            )
        return response.content


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return "unreadable error"
