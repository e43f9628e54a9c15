"""The guarded webhook client: https only, no private, loopback, link-local or metadata address.

The host is resolved at every delivery and the connection is pinned to the address that was
checked (the TLS handshake still verifies the certificate for the host name), so a name that
resolves to a public address when saved and to 127.0.0.1 later (DNS rebinding) is refused.
Under `--demo` and in tests (`webhook_private_targets`), private addresses are allowed and
plain http is allowed for 127.0.0.1, localhost and the sandbox receiver's host.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from voucher_exchange.errors import InvalidInput
from voucher_exchange.ports.webhooks import SendResult

Resolver = Callable[[str, int], list[str]]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_ANSWER_BYTES = 64 * 1024
# Cloud metadata services; all are link-local or private too, named here so the rule reads plainly.
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def public_address(address: str) -> bool:
    """True for an address on the public internet (not private, loopback, link-local, metadata…)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast and ip not in METADATA


def refused(why: str) -> InvalidInput:
    return InvalidInput("webhook_url_not_allowed", why, "url")


class _PinnedBackend(httpcore.SyncBackend):
    """Connects to the checked address whatever host name the request carries."""

    def __init__(self, address: str) -> None:
        self.address = address

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return super().connect_tcp(self.address, port, timeout, local_address, socket_options)


class _PinnedTransport(httpx.HTTPTransport):
    def __init__(self, address: str, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=_PinnedBackend(address), max_connections=1
        )


class SafeWebhookSender:
    """`WebhookSender` over httpx, with the address rules above."""

    def __init__(
        self,
        timeout_seconds: float,
        private_targets: bool,
        http_hosts: Iterable[str] = (),
        resolver: Resolver = system_resolver,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.timeout = timeout_seconds
        self.private_targets = private_targets
        self.http_hosts = LOCAL_HOSTS | frozenset(h.lower() for h in http_hosts)
        self.resolver = resolver
        # The system's trust store (certifi); a test passes a context trusting its own CA.
        self._ssl = ssl_context or httpx.create_ssl_context()

    def check_url(self, url: str) -> None:
        """Refuse a URL that may not receive deliveries (when saved; `send` checks again)."""
        self._address(url)

    def _address(self, url: str) -> str:
        """The checked address to connect to for `url`."""
        if len(url) > 2048:
            raise refused("The URL is too long (at most 2,048 characters).")
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise refused("Give a URL like https://example.com/webhooks (no user name or password).")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise refused("The URL's port is not a number between 1 and 65535.") from None
        plain_ok = self.private_targets and host in self.http_hosts
        if parts.scheme != "https" and not (parts.scheme == "http" and plain_ok):
            raise refused("Webhook URLs must use https.")
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError):
            raise refused("The URL's host name does not resolve.") from None
        if not addresses:
            raise refused("The URL's host name does not resolve.")
        if not self.private_targets:
            for address in addresses:
                if not public_address(address):
                    raise refused(
                        "The URL points to a private, loopback, link-local or metadata address; "
                        "webhooks are only sent to the public internet."
                    )
        return addresses[0]

    def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """One POST to the checked address; at most `timeout` seconds and MAX_ANSWER_BYTES read."""
        try:
            address = self._address(url)
        except InvalidInput as exc:
            return SendResult(None, f"refused: {exc.message}")
        deadline = time.monotonic() + self.timeout
        transport = _PinnedTransport(address, self._ssl)
        try:
            with (
                httpx.Client(transport=transport, timeout=self.timeout, follow_redirects=False) as client,
                client.stream("POST", url, headers=headers, content=body) as answer,
            ):
                read = 0
                for chunk in answer.iter_raw():
                    read += len(chunk)
                    if read >= MAX_ANSWER_BYTES or time.monotonic() > deadline:
                        break
                return SendResult(answer.status_code)
        except httpx.TimeoutException:
            return SendResult(None, f"no answer within {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return SendResult(None, f"connection failed: {type(exc).__name__}")
