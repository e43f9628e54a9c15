"""One place that turns errors into `{"error": {code, message, field}}` responses."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from voucher_exchange import logs
from voucher_exchange.db.retry import CommitOutcomeUnknown, is_unavailable
from voucher_exchange.errors import DomainError, ExternalUnavailable

log = logs.get(__name__)
# Mailed links and sign-in tickets travel in paths: never write them to a log.
_LINK_TOKEN = re.compile(r"vx[lsk]_[A-Za-z0-9_-]+")

DATABASE_UNAVAILABLE = "The exchange cannot reach its database for a moment. Try again in a few seconds."
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    413: "payload_too_large",
}


def _path(request: Request) -> str:
    return _LINK_TOKEN.sub("vxl_•••", request.url.path)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The API's error shape."""
    return {"error": {"code": code, "message": message, "field": field}}


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


# Renders an error as a web page: (request, status, code, message) → HTML, or None for API paths.
PageErrors = Callable[[Request, int, str, str], Response | None]
# Renders a use case's refusal as the page that was asked for, or None (web/refusals.py).
Refusals = Callable[[Request, DomainError], Awaitable[Response | None]]


def install(app: FastAPI, pages: PageErrors | None = None, refusals: Refusals | None = None) -> None:
    """Register the handlers on an app; `pages` answers errors on web pages in HTML.

    `refusals` is asked first about a `DomainError`: a web page that registered how it shows
    a refusal (the form again, with the error) answers with that page.
    """

    def respond(request: Request, status: int, code: str, message: str, field: str | None = None) -> Response:
        html = pages(request, status, code, message) if pages else None
        return html or JSONResponse(error_body(code, message, field), status_code=status)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if refusals is not None:
            try:
                shown = await refusals(request, exc)
            except DomainError as again:  # the refused page was refused itself: the error page
                exc = again
            else:
                if shown is not None:
                    return shown
        response = respond(request, exc.status, exc.code, exc.message, exc.field)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request", "type": ""}
        kind = str(first.get("type", ""))
        code = "malformed_json" if kind == "json_invalid" else "invalid_request"
        # The message names the field and the rule, never the submitted value (it may be a secret).
        message = str(first.get("msg", "invalid request"))
        return respond(request, 422, code, message, _field(tuple(first.get("loc", ()))))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return respond(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(ExternalUnavailable)
    async def _unavailable(_: Request, exc: ExternalUnavailable) -> JSONResponse:
        return JSONResponse(
            error_body("upstream_unavailable", "A partner service did not answer. Try again in a minute."),
            status_code=503,
        )

    async def _database(request: Request, exc: Exception) -> Response:
        if not is_unavailable(exc):
            return await _bug(request, exc)
        # The database is restarting or unreachable and waiting within this request did not
        # get through (db/engine.py, db/retry.py). Nothing was stored, or (the connection lost
        # during COMMIT) a retry with the same Idempotency-Key answers with what was.
        log.warning("database_unavailable", path=_path(request), error=type(exc).__name__)
        response = respond(request, 503, "database_unavailable", DATABASE_UNAVAILABLE)
        response.headers["Retry-After"] = "1"
        return response

    app.add_exception_handler(SQLAlchemyError, _database)
    app.add_exception_handler(CommitOutcomeUnknown, _database)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", path=_path(request), error=type(exc).__name__)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side."), status_code=500
        )
