"""One ASGI app holding the three sandbox services, each a separate sub-app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from voucher_exchange.clock import Clock, SystemClock
from voucher_exchange.sandbox.identity import identity_router
from voucher_exchange.sandbox.inprocess import Sandboxes
from voucher_exchange.sandbox.issuer import BrandLookup, IssuerDesk, issuer_router
from voucher_exchange.sandbox.rail import rail_router
from voucher_exchange.sandbox.store import SandboxError, SandboxStore
from voucher_exchange.sandbox.webhooks import ReceiverStore, receiver_router

DB_FILENAME = "sandbox.db"


def create_sandbox_app(
    state_dir: Path,
    brands: BrandLookup,
    hang_seconds: float = 10.0,
    *,
    clock: Clock | None = None,
) -> FastAPI:
    """The sandboxes, mounted at /issuer, /rail, /identity and /webhooks; state lives in `state_dir`.

    `hang_seconds` is how long a "timeout" voucher or account keeps the caller waiting.
    """
    clock = clock or SystemClock()
    store = SandboxStore(state_dir / DB_FILENAME, clock)
    root = FastAPI(title="Sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    _install_error_handlers(root)
    # The embedded demo's own adapters call this state in-process (sandbox/inprocess.py).
    root.state.sandboxes = Sandboxes(store, IssuerDesk(store, brands), hang_seconds, clock)
    services: tuple[tuple[str, str, APIRouter], ...] = (
        ("/issuer", "Sandbox issuer", issuer_router(store, brands, hang_seconds, clock)),
        ("/rail", "Sandbox payout rail", rail_router(store, hang_seconds)),
        ("/identity", "Sandbox identity vendor", identity_router(clock)),
        (
            "/webhooks",
            "Sandbox webhook receiver",
            receiver_router(ReceiverStore(state_dir / "webhook-receivers.db", clock), hang_seconds),
        ),
    )
    for prefix, title, router in services:
        service = FastAPI(title=title)
        service.include_router(router)
        _install_error_handlers(service)
        root.mount(prefix, service)
    return root


def _error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    # Every answer, even for a malformed request or an unknown path, has the same shape.
    async def refusal(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SandboxError)  # registered for this type only
        return JSONResponse(exc.body(), status_code=exc.status)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # registered for this type only
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part != "body"]
        return _error(
            422,
            "invalid_input",
            str(first.get("msg", "Invalid request.")),
            ".".join(location) or None,
        )

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)  # registered for this type only
        code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
        return _error(exc.status_code, code, str(exc.detail))

    app.add_exception_handler(SandboxError, refusal)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
