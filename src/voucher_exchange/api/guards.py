"""Request guards in pure ASGI, before any route, form parser or database sees the request.

- A body larger than the limit is refused with 413 (by its Content-Length at once, or
  as soon as a chunked body passes the limit), so nothing is spooled to disk.
- A path or query string holding control characters (NUL breaks PostgreSQL) is a 400.
- Every response says `X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`
  (pages add their Content-Security-Policy in web/render.py).
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voucher_exchange.api.errors import error_body

_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin"))


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + list(_HEADERS)})
    await send({"type": "http.response.body", "body": body})


class RequestGuards:
    """Body size limit, control characters in the URL, baseline security headers."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = unquote(scope.get("query_string", b"").decode("latin-1"), errors="surrogateescape")
        if _CONTROL.search(scope.get("path", "")) or _CONTROL.search(query):
            await _refuse(send, 400, "invalid_request", "The address holds characters it may not.")
            return
        limit = self.max_body_bytes
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
