"""The ASGI app: API v1, health probes, OpenAPI docs, optionally the sandboxes and in-process workers."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Response
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from voucher_exchange import __version__
from voucher_exchange.api import errors
from voucher_exchange.api.guards import RequestGuards
from voucher_exchange.api.routes import (
    accounts,
    api_keys,
    catalog,
    fraud,
    identity_documents,
    receipts,
    staff,
    trades,
    transparency,
    webhooks,
)
from voucher_exchange.api.routes.identity_documents import DOCUMENT_UPLOAD_PATHS, UPLOAD_MARGIN_BYTES
from voucher_exchange.api.schemas import ERROR_RESPONSES
from voucher_exchange.api.scopes import route_template
from voucher_exchange.context import Context
from voucher_exchange.db import changes, migrate
from voucher_exchange.metrics import HTTP_LATENCY, DatabaseCollector
from voucher_exchange.web import app as web
from voucher_exchange.worker.runner import start_threads


def create_app(
    ctx: Context, sandbox: FastAPI | None = None, worker_threads: int = 0, pages: bool = True
) -> FastAPI:
    """The exchange's HTTP app: API, and the web app unless `pages` is False.

    `worker_threads` > 0 runs workers inside this process.
    """
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threads = start_threads(ctx, worker_threads, stop) if worker_threads else []
        watch = getattr(app.state, "trade_watch", None)
        if watch is not None and changes.start_feed(ctx.settings.database_url, stop) is not None:
            watch.hears_every_process()  # PostgreSQL: workers' changes arrive by NOTIFY
        yield
        watch = getattr(app.state, "trade_watch", None)
        if watch is not None:
            watch.close()  # live timelines end (serve closes them earlier, at the signal)
        stop.set()
        ctx.wake_workers()
        for thread in threads:
            thread.join(timeout=10)

    app = FastAPI(
        title="voucher-exchange",
        version=__version__,
        description="Sell unused vouchers for money: quotes, trades, review, ledger (docs/api.md).",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app, web.error_page if pages else None, web.refused if pages else None)
    app.add_middleware(Observe)
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    # Added last, so it runs first: nothing reads an oversized or hostile request.
    app.add_middleware(
        RequestGuards,
        max_body_bytes=ctx.settings.max_body_bytes,
        # Per slot: one hashing, the rest waiting their turn (at most SLOT_WAIT_SECONDS each);
        # eight in flight by default, as before one slot became the default.
        max_password_requests=8 * ctx.settings.password_hash_slots,
        # An ID document may be larger than other bodies; the form's own fields fit in the margin.
        upload_limits=dict.fromkeys(
            DOCUMENT_UPLOAD_PATHS, ctx.settings.identity_document_max_bytes + UPLOAD_MARGIN_BYTES
        ),
    )
    database_metrics = CollectorRegistry(auto_describe=True)
    database_metrics.register(DatabaseCollector(ctx.engine))
    for router in (
        accounts.router,
        identity_documents.router,
        catalog.router,
        trades.router,
        staff.router,
        api_keys.router,
        webhooks.router,
        fraud.router,
    ):
        app.include_router(router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(receipts.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(receipts.well_known)
    app.include_router(transparency.router, prefix="/api/v1", responses=ERROR_RESPONSES)
    app.include_router(transparency.site_root)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            with ctx.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = migrate.is_current(ctx.engine)
        except Exception:  # noqa: BLE001  # any failure means not ready
            return JSONResponse({"status": "database unreachable"}, status_code=503)
        if not current:
            return JSONResponse(
                {"status": "migrations pending: run voucher-exchange migrate"}, status_code=503
            )
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body = generate_latest(PROCESS_REGISTRY) + generate_latest(database_metrics)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    if pages:
        web.mount(app)
    if sandbox is not None:
        app.mount("/sandbox", sandbox)
    return app


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Observe:
    """Every request gets an id (kept from X-Request-ID when sane) and a latency observation.

    Pure ASGI rather than `BaseHTTPMiddleware`: no extra task, queue and response
    wrapper per request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            HTTP_LATENCY.labels(scope["method"], _route_template(scope), str(status)).observe(
                time.perf_counter() - start
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _route_template(scope: Scope) -> str:
    """`/api/v1/trades/{trade_id}`: the matched route with its router prefix, never raw ids."""
    return route_template(scope) or "unmatched"
