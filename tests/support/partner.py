"""A partner's webhook endpoint for tests: a real HTTP server on 127.0.0.1 that keeps what arrives."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.polling import poll_until


@dataclass(frozen=True)
class Arrival:
    """One delivery as it arrived: the headers (lower-cased names), the raw body, our answer."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Partner:
    """The server's URL, what arrived, and per path the answers to give next (then 200)."""

    url: str = ""
    arrivals: list[Arrival] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def path(self, name: str) -> str:
        """A URL under this server (one per test, so tests sharing it read only their own)."""
        return f"{self.url}/{name}"

    def at(self, name: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == f"/{name}"]

    def wait(self, name: str, count: int, timeout: float = 20.0) -> list[Arrival]:
        """Poll until `count` deliveries reached `/name`."""
        return poll_until(
            lambda: found if len(found := self.at(name)) >= count else None,
            timeout,
            what=f"{count} deliveries at /{name}",
        )


@contextmanager
def partner_server() -> Iterator[Partner]:
    """Serve a Partner on a free port of 127.0.0.1 until the block ends."""
    partner = Partner()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the stdlib's name
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with partner.lock:
                queued = partner.answers.get(self.path, [])
                status = queued.pop(0) if queued else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                partner.arrivals.append(Arrival(self.path, headers, body, status))
            self.send_response(status)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    partner.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield partner
    finally:
        server.shutdown()
        server.server_close()
