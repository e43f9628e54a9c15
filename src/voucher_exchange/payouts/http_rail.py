"""The payout-rail interface over HTTP, as the sandbox rail serves it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from voucher_exchange.errors import Conflict, ExternalUnavailable
from voucher_exchange.ports.rail import AccountHolder, RailTransfer, RailTransferStatus


class HttpPayoutRail:
    """A `PayoutRail` reached at `base_url` (the sandbox root); one connection pool per instance."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/") + "/rail", timeout=timeout)

    def account_holder(self, bank_code: str, account_number: str) -> AccountHolder:
        """Who holds this account, per the bank."""
        response = self._send(
            "POST",
            "/accounts/lookup",
            {"bank_code": bank_code, "account_number": account_number},
        )
        body = _expect_ok(response, "account lookup")
        return AccountHolder(exists=bool(body["exists"]), holder_name=body.get("holder_name"))

    def transfer(
        self,
        idempotency_key: str,
        bank_code: str,
        account_number: str,
        holder_name: str,
        amount: int,
        currency: str,
    ) -> RailTransfer:
        """Send money; the same key never executes twice.

        Raises `Conflict` if the key was already used for a different transfer.
        """
        response = self._send(
            "POST",
            "/transfers",
            {
                "idempotency_key": idempotency_key,
                "bank_code": bank_code,
                "account_number": account_number,
                "holder_name": holder_name,
                "amount": amount,
                "currency": currency,
            },
        )
        if response.status_code == 409:
            raise Conflict(
                "idempotency_conflict",
                "The rail already holds a different transfer under this key.",
            )
        return _transfer(_expect_ok(response, "transfer"))

    def transfer_status(self, idempotency_key: str) -> RailTransfer:
        """What happened to the transfer with this key (NOT_FOUND if never received)."""
        response = self._send("GET", f"/transfers/{idempotency_key}", None)
        if response.status_code == 404:
            return RailTransfer(
                idempotency_key=idempotency_key,
                status=RailTransferStatus.NOT_FOUND,
                amount=0,
                currency="",
                rail_reference=None,
            )
        return _transfer(_expect_ok(response, "transfer status"))

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()

    def _send(self, method: str, path: str, payload: dict[str, object] | None) -> httpx.Response:
        # Messages name the operation only: account numbers must never reach logs.
        operation = path.split("/")[1]
        try:
            response = self._client.request(method, path, json=payload)
        except httpx.TimeoutException as exc:
            raise ExternalUnavailable(f"payout rail did not answer ({operation}) in time") from exc
        except httpx.TransportError as exc:
            raise ExternalUnavailable(f"payout rail unreachable ({operation})") from exc
        if response.status_code >= 500:
            raise ExternalUnavailable(f"payout rail failed ({operation}) with HTTP {response.status_code}")
        return response


def _expect_ok(response: httpx.Response, operation: str) -> dict[str, Any]:
    if response.status_code != 200:
        # Anything else means we sent something the rail cannot accept: a bug, not an outcome.
        raise RuntimeError(f"payout rail rejected {operation} with HTTP {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


def _transfer(body: dict[str, Any]) -> RailTransfer:
    return RailTransfer(
        idempotency_key=str(body["idempotency_key"]),
        status=RailTransferStatus(body["status"]),
        amount=int(body["amount"]),
        currency=str(body["currency"]),
        rail_reference=body.get("rail_reference"),
        executed_at=_moment(body.get("executed_at")),
    )


def _moment(value: Any) -> datetime | None:
    """A rail time stamp as an aware UTC datetime (a naive one is UTC)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
