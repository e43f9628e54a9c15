"""Request guards in pure ASGI, before any route, form parser or database sees the request.

- A body larger than the limit is refused with 413 (by its Content-Length at once, or
  as soon as a chunked body passes the limit), so nothing is spooled to disk.
- A path or query string holding control characters (NUL breaks PostgreSQL) is a 400.
- Requests that hash a password (log-in, sign-up) beyond `max_password_requests` in
  flight are answered 429 at once, before they take one of the threads every other
  request needs; the hashing pool itself (security/passwords.py) bounds the memory.
- Every response says `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`
  (pages add their Content-Security-Policy in web/render.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voucher_exchange.api.errors import error_body

_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))


async def _refuse(send: Send, status: int, code: str, message: str, retry_after: int | None = None) -> None:
    body = json.dumps(error_body(code, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers + list(_HEADERS)})
    await send({"type": "http.response.body", "body": body})


PASSWORD_ROUTES = frozenset({"/api/v1/sessions", "/api/v1/accounts", "/login", "/signup"})


class RequestGuards:
    """Body size limit, control characters in the URL, password-route admission, security headers."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_password_requests: int,
        upload_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # POST paths that take a file (an ID document) and their own, larger, body limit.
        self.upload_limits = dict(upload_limits or {})
        self.max_password_requests = max_password_requests
        # Only the event loop's thread touches it: no lock needed.
        self.password_requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = unquote(scope.get("query_string", b"").decode("latin-1"), errors="surrogateescape")
        if _CONTROL.search(scope.get("path", "")) or _CONTROL.search(query):
            await _refuse(send, 400, "invalid_request", "The address holds characters it may not.")
            return
        if scope.get("method") == "POST" and scope.get("path") in PASSWORD_ROUTES:
            if self.password_requests >= self.max_password_requests:
                await _refuse(
                    send,
                    429,
                    "server_busy",
                    "We are handling many sign-ins right now. Try again in a second.",
                    retry_after=1,
                )
                return
            self.password_requests += 1
            try:
                await self._guarded(scope, receive, send)
            finally:
                self.password_requests -= 1
            return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_body_bytes
        if scope.get("method") == "POST":
            limit = self.upload_limits.get(scope.get("path", ""), limit)
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                await _refuse(
                    send, 413, "payload_too_large", f"The request body may be at most {limit} bytes."
                )
                return
        received = 0
        started = refused = False

        async def limited_receive() -> Message:
            # Past the limit the app is told the client left, and the 413 is sent from here:
            # an exception would be rewrapped (as a 400) by the layers in between.
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _refuse(
                            send, 413, "payload_too_large", f"The request body may be at most {limit} bytes."
                        )
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in _HEADERS if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise
