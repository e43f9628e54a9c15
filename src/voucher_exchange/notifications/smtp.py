"""E-mail over SMTP (the standard library's client; STARTTLS when the server offers it)."""

from __future__ import annotations

import re
import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

from voucher_exchange.errors import ExternalUnavailable

# The software's own name where a sentence or signature names the service (never inside a
# link or address, e.g. /.well-known/voucher-exchange/keys).
_OUR_NAME = re.compile(r"(?<![\w./@:-])voucher-exchange(?![\w./@-])")


def named(text: str, service_name: str) -> str:
    """`text` with the service's own name in place of the software's."""
    return _OUR_NAME.sub(lambda _: service_name, text)


class SmtpMailer:
    """Hands messages to an SMTP server.

    `service_name`, when given, says what the operator calls the service (the business profile):
    the sender's display name, and the name in every subject and signature, so an e-mail never
    carries another name than the site's header.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        service_name: Callable[[], str] | None = None,
    ) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout
        self.service_name = service_name

    def send(self, to: str, subject: str, body: str, language: str) -> None:
        """Deliver one message, or ExternalUnavailable (the job retries later)."""
        message = EmailMessage()
        sender = self.sender
        if self.service_name is not None:
            name = self.service_name()
            sender = formataddr((name, parseaddr(self.sender)[1]))
            subject, body = named(subject, name), named(body, name)
        message["From"] = sender
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
