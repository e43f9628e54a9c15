"""E-mail over SMTP (the standard library's client; STARTTLS when the server offers it)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import make_msgid

from voucher_exchange.errors import ExternalUnavailable


class SmtpMailer:
    """Hands messages to an SMTP server."""

    def __init__(self, host: str, port: int, sender: str, timeout: float) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, to: str, subject: str, body: str, language: str) -> None:
        """Deliver one message, or ExternalUnavailable (the job retries later)."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Content-Language"] = language
        message["Message-ID"] = make_msgid(domain="voucher-exchange")
        message.set_content(body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as client:
                client.ehlo()
                if client.has_extn("starttls"):
                    client.starttls()
                    client.ehlo()
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise ExternalUnavailable(f"mail server: {type(exc).__name__}") from exc
