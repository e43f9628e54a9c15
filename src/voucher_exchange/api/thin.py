"""The hot API routes on a thin path: `POST /quotes`, `POST /trades`, `GET /trades/{trade_id}`.

Each is matched before every other route (the app's ~30 routers are tried in turn), reads
its headers and JSON body by hand, runs its use case in one threadpool hop (the database
work: PostgreSQL round trips, SQLite writes waiting for the lock) and answers with a
response serialised once. FastAPI's dependency solving is skipped.

The routes the OpenAPI document describes stay where they were and answer every request
the thin path does not take as it comes: a missing or oversized header, a body that is not
a JSON object of the right shape, an unexpected content type. The thin path hands those on
untouched (the body it read is replayed) before doing anything, so every refusal, 422 and
header rule is FastAPI's own, and the contract is the same byte for byte. A use case's
refusal (`DomainError`) raised here meets the same exception handlers as on the full path.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path
from starlette.types import Message, Receive, Scope, Send

from voucher_exchange.api.deps import Bearer
from voucher_exchange.api.routes import catalog, trades
from voucher_exchange.api.schemas import QuoteIn, TradeIn
from voucher_exchange.api.scopes import API_PREFIX
from voucher_exchange.context import Context

# Set on a request the thin path handed on: the routers then skip the thin routes.
_HANDED_ON = "vx.thin_handed_on"
# The header limits of the documented routes (deps.py, the routes' own `Header(max_length=…)`).
_LIMITS = {
    b"authorization": 400,
    b"accept-language": 200,
    b"idempotency-key": 200,
    b"if-none-match": 1000,
    b"x-device-id": None,
    b"content-type": None,
}
M = TypeVar("M", bound=BaseModel)


class HandOn(Exception):
    """The thin path does not take this request: the documented route answers it."""


@dataclass(frozen=True)
class Call:
    """What the thin path read of a request."""

    ctx: Context
    headers: dict[bytes, str]
    path_params: dict[str, str]
    client_ip: str | None
    body: bytes

    def bearer(self, route: tuple[str, str]) -> Bearer:
        """The credential, as `deps.bearer_token` reads it (else the documented route refuses it)."""
        authorization = self.headers.get(b"authorization", "")
        if not authorization.startswith("Bearer "):
            raise HandOn
        return Bearer(authorization.removeprefix("Bearer ").strip(), route, self.client_ip)

    def lang(self) -> str:
        """As `deps.lang`."""
        return "ko" if self.headers.get(b"accept-language", "").strip().lower().startswith("ko") else "en"

    def json_body(self, model: type[M]) -> M:
        """The body as `model`, when it is JSON that FastAPI would have accepted as it is."""
        if self.headers.get(b"content-type") != "application/json":
            raise HandOn
        try:
            return model.model_validate(json.loads(self.body))
        except (ValueError, ValidationError) as exc:  # JSONDecodeError and UnicodeDecodeError too
            raise HandOn from exc


Handler = Callable[[Call], Awaitable[Response]]


class ThinRoute(BaseRoute):
    """One method and path, answered by `handler` unless it hands the request on."""

    def __init__(self, method: str, path: str, handler: Handler) -> None:
        self.method = method
        self.path = path  # the template, as `scopes.route_template` and the metrics label read it
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.handler = handler
        self.reads_body = method == "POST"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Only its own method: any other falls to the documented routes as before."""
        if scope["type"] != "http" or scope["method"] != self.method or _HANDED_ON in scope:
            return Match.NONE, {}
        found = self.path_regex.match(_route_path(scope))
        if found is None:
            return Match.NONE, {}
        return Match.FULL, {"route": self, "path_params": found.groupdict()}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """Not named: `url_for` finds the documented route."""
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer, or hand the request on to the routers with what was read of it."""
        read: list[Message] = []
        headers = _headers(scope)
        body = b""
        if headers is not None and self.reads_body:
            body, read = await _read_body(receive)
        if headers is not None and (not read or read[-1]["type"] == "http.request"):
            client = scope.get("client")
            call = Call(
                scope["app"].state.ctx, headers, scope["path_params"], client[0] if client else None, body
            )
            try:
                response = await self.handler(call)
            except HandOn:
                pass
            else:
                await response(scope, receive, send)
                return
        scope[_HANDED_ON] = True
        del scope["route"]
        await scope["router"](scope, _replay(read, receive), send)


def _route_path(scope: Scope) -> str:
    """The path below the app's root path (as Starlette's top-level router matches it)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _headers(scope: Scope) -> dict[bytes, str] | None:
    """The headers the hot routes read, or None when one is repeated or too long (FastAPI decides)."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _LIMITS:
            limit = _LIMITS[name]
            if name in found or (limit is not None and len(value) > limit):
                return None
            found[name] = value.decode("latin-1")
    return found


async def _read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole body and the messages it came in (a disconnect ends them)."""
    read: list[Message] = []
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    return b"".join(m.get("body", b"") for m in read if m["type"] == "http.request"), read


def _replay(read: list[Message], receive: Receive) -> Receive:
    """`receive` that first gives back the messages already read."""
    pending = list(read)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _quote(call: Call) -> Response:
    body = call.json_body(QuoteIn)
    key = call.headers.get(b"idempotency-key")
    return await catalog.quote(call.ctx, call.bearer(("POST", f"{API_PREFIX}/quotes")), body, key)


async def _submit(call: Call) -> Response:
    body = call.json_body(TradeIn)
    key = call.headers.get(b"idempotency-key")
    device_id = call.headers.get(b"x-device-id", "")[:64] or None
    bearer = call.bearer(("POST", f"{API_PREFIX}/trades"))
    return await trades.sell(call.ctx, bearer, body, device_id, key)


async def _follow(call: Call) -> Response:
    bearer = call.bearer(("GET", f"{API_PREFIX}/trades/{{trade_id}}"))
    if_none_match = call.headers.get(b"if-none-match")
    return await trades.follow(call.ctx, bearer, call.path_params["trade_id"], call.lang(), if_none_match)


def install(app: FastAPI) -> None:
    """Put the thin routes before every other route of `app`."""
    app.router.routes[:0] = [
        ThinRoute("POST", f"{API_PREFIX}/quotes", _quote),
        ThinRoute("POST", f"{API_PREFIX}/trades", _submit),
        ThinRoute("GET", f"{API_PREFIX}/trades/{{trade_id}}", _follow),
    ]
