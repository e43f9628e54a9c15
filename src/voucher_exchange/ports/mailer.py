"""The notifier interface: the SMTP client and the test/demo capture both implement it."""

from __future__ import annotations

from typing import Protocol


class Mailer(Protocol):
    """Sends one plain-text e-mail; raises ExternalUnavailable when the server does not take it."""

    def send(self, to: str, subject: str, body: str, language: str) -> None:
        """Deliver one message."""
