"""A local SMTP server for the demo and the tests (aiosmtpd): keeps what it receives."""

from __future__ import annotations

import logging
import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Inbox:
    """Messages received, in order, in memory; or, given a folder, written there as .eml files only.

    The demo's catcher (`serve --demo`) writes to var/mail/ and keeps nothing in memory: a
    long-running demo would otherwise hold every e-mail it ever sent (the soak found it).
    """

    folder: Path | None = None
    messages: list[EmailMessage] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)  # the client's address and port, per message
    received: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802  # aiosmtpd's hook name
        """aiosmtpd calls this for each message."""
        with self.lock:
            self.received += 1
            count = self.received
            if self.folder is None:
                parsed = message_from_bytes(envelope.content, policy=policy.default)
                assert isinstance(parsed, EmailMessage)
                self.messages.append(parsed)
                self.peers.append(f"{session.peer[0]}:{session.peer[1]}")
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{count:06d}.eml").write_bytes(envelope.content)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages sent to one address."""
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_local_smtp(port: int = 0, folder: Path | None = None) -> tuple[Controller, Inbox, int]:
    """An SMTP server on 127.0.0.1:`port` (0 = a free one); stop it with controller.stop()."""
    port = port or free_port()
    # aiosmtpd narrates every connection at INFO; the exchange's own logs say what matters.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    inbox = Inbox(folder)
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox, port


_LINK = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class CaughtMail:
    """One e-mail the demo caught, decoded: who it went to, its subject, its text and links."""

    name: str
    to: str
    subject: str
    text: str
    links: tuple[str, ...]


def caught_mails(folder: Path) -> list[CaughtMail]:
    """The .eml files in `folder` (what `serve --demo` caught), decoded, oldest first."""
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        text = str(body.get_content()) if body is not None else ""
        found.append(
            CaughtMail(
                path.name, str(message["To"] or ""), str(message["Subject"] or ""), text.rstrip(),
                tuple(_LINK.findall(text)),
            )
        )  # fmt: skip
    return found
