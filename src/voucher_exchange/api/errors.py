"""One place that turns errors into `{"error": {code, message, field}}` responses."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from voucher_exchange import logs
from voucher_exchange.errors import DomainError, ExternalUnavailable

log = logs.get(__name__)

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
    413: "payload_too_large",
}


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The API's error shape."""
    return {"error": {"code": code, "message": message, "field": field}}


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message, exc.field), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request", "type": ""}
        kind = str(first.get("type", ""))
        code = "malformed_json" if kind == "json_invalid" else "invalid_request"
        # The message names the field and the rule, never the submitted value (it may be a secret).
        message = str(first.get("msg", "invalid request"))
        return JSONResponse(error_body(code, message, _field(tuple(first.get("loc", ())))), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(ExternalUnavailable)
    async def _unavailable(_: Request, exc: ExternalUnavailable) -> JSONResponse:
        return JSONResponse(
            error_body("upstream_unavailable", "A partner service did not answer. Try again in a minute."),
            status_code=503,
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", path=request.url.path, error=type(exc).__name__)
        return JSONResponse(
            error_body("internal_error", "Something went wrong on our side."), status_code=500
        )
