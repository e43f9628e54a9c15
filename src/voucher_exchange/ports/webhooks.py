"""The webhook sender interface: the guarded HTTP client, and whatever a test puts in its place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SendResult:
    """What came back from one delivery attempt: a status code, or why there was none."""

    status_code: int | None
    error: str | None = None


class WebhookSender(Protocol):
    """Posts one signed body to a partner's URL, refusing addresses the deployment does not allow."""

    def check_url(self, url: str) -> None:
        """Raise `InvalidInput` (`webhook_url_not_allowed`) when the URL may not receive deliveries."""

    def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """One POST, outside any transaction, with a bounded time and a bounded answer."""
