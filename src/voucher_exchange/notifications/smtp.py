"""E-mail over SMTP (the standard library's client; STARTTLS when the server offers it).

Each sending thread keeps its own connection open and sends every message over it: a new
connection per mail costs a handshake (and a TLS one with STARTTLS) each time. A connection
that failed, or sat idle longer than servers usually keep one, is replaced.
"""

from __future__ import annotations

import re
import smtplib
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

from voucher_exchange.errors import ExternalUnavailable

# The software's own name where a sentence or signature names the service (never inside a
# link or address, e.g. /.well-known/voucher-exchange/keys).
_OUR_NAME = re.compile(r"(?<![\w./@:-])voucher-exchange(?![\w./@-])")

# Servers drop idle clients after a few minutes (RFC 5321 asks for at least 5): reconnect before.
IDLE_SECONDS = 60.0


def named(text: str, service_name: str) -> str:
    """`text` with the service's own name in place of the software's."""
    return _OUR_NAME.sub(lambda _: service_name, text)


class SmtpMailer:
    """Hands messages to an SMTP server, one reused connection per sending thread.

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
        self._local = threading.local()
        self._open: set[smtplib.SMTP] = set()
        self._lock = threading.Lock()

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
        reused = getattr(self._local, "client", None) is not None
        try:
            self._client().send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            if not reused:
                raise ExternalUnavailable(f"mail server: {type(exc).__name__}") from exc
            # The server may have closed a connection we kept: once more on a fresh one.
            try:
                self._client().send_message(message)
            except (OSError, smtplib.SMTPException) as again:
                self._drop()
                raise ExternalUnavailable(f"mail server: {type(again).__name__}") from again
        self._local.used = time.monotonic()

    def close(self) -> None:
        """Quit every thread's connection (at shutdown)."""
        with self._lock:
            clients, self._open = list(self._open), set()
        for client in clients:
            _quit(client)

    def _client(self) -> smtplib.SMTP:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        if client is not None and time.monotonic() - getattr(self._local, "used", 0.0) > IDLE_SECONDS:
            self._drop()
            client = None
        if client is None:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
            self._local.client = client
            with self._lock:
                self._open.add(client)
        return client

    def _drop(self) -> None:
        client: smtplib.SMTP | None = getattr(self._local, "client", None)
        self._local.client = None
        if client is not None:
            with self._lock:
                self._open.discard(client)
            _quit(client)


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        client.close()
