"""The identity-verification interface over HTTP, as the sandbox vendor serves it."""

from __future__ import annotations

from datetime import date

import httpx

from voucher_exchange.errors import ExternalUnavailable
from voucher_exchange.ports.identity import IdentityResult


class HttpIdentityProvider:
    """An `IdentityProvider` reached at `base_url` (the sandbox root)."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._client = httpx.Client(base_url=base_url.rstrip("/") + "/identity", timeout=timeout)

    def check(self, legal_name: str, birth_date: date, phone: str) -> IdentityResult:
        """Verify a person. May raise `ExternalUnavailable`."""
        payload = {"legal_name": legal_name, "birth_date": birth_date.isoformat(), "phone": phone}
        # Messages carry no personal data: they may be logged.
        try:
            response = self._client.post("/checks", json=payload)
        except httpx.TimeoutException as exc:
            raise ExternalUnavailable("identity vendor did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ExternalUnavailable("identity vendor unreachable") from exc
        if response.status_code >= 500:
            raise ExternalUnavailable(f"identity vendor failed with HTTP {response.status_code}")
        if response.status_code != 200:
            # A malformed request is a bug on our side, not a verdict about the person.
            raise RuntimeError(f"identity vendor rejected the check with HTTP {response.status_code}")
        body = response.json()
        return IdentityResult(verified=bool(body["verified"]), reason=body.get("reason"))

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
