"""The ASGI app: API v1, health probes, OpenAPI docs, optionally the sandboxes and in-process workers."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from voucher_exchange import __version__
from voucher_exchange.api import errors
from voucher_exchange.api.routes import accounts, catalog, staff, trades
from voucher_exchange.context import Context
from voucher_exchange.db import migrate
from voucher_exchange.worker.runner import start_threads


def create_app(ctx: Context, sandbox: FastAPI | None = None, worker_threads: int = 0) -> FastAPI:
    """The exchange's HTTP app. `worker_threads` > 0 runs workers inside this process."""
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threads = start_threads(ctx, worker_threads, stop) if worker_threads else []
        yield
        stop.set()
        ctx.wake_workers()
        for thread in threads:
            thread.join(timeout=10)

    app = FastAPI(
        title="voucher-exchange",
        version=__version__,
        description="Sell unused vouchers for money: quotes, trades, review, ledger. PRODUCT.md §6.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    errors.install(app)
    for router in (accounts.router, catalog.router, trades.router, staff.router):
        app.include_router(router, prefix="/api/v1")

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

    if sandbox is not None:
        app.mount("/sandbox", sandbox)
    return app
