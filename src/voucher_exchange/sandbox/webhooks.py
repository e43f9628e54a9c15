"""The sandbox webhook receiver: a partner's endpoint for trying the flow without a server of one's own.

`POST /sandbox/webhooks/receivers {behavior?}` makes one and answers its URL; the exchange's
deliveries to that URL are kept as they arrived (headers and raw body) and listed by
`GET /sandbox/webhooks/receivers/{id}/deliveries`. `behavior`: `ok` answers 200, `fail` 500,
`gone` 410 (the exchange disables the endpoint), `slow` answers after the exchange stopped waiting.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from voucher_exchange.clock import Clock
from voucher_exchange.sandbox.store import SandboxError, ThreadLocalSqlite

Behavior = Literal["ok", "fail", "gone", "slow"]
ANSWERS = {"ok": 200, "fail": 500, "gone": 410, "slow": 200}
MAX_BODY = 256 * 1024
KEPT_PER_RECEIVER = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS receivers (
    id TEXT PRIMARY KEY, behavior TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, receiver_id TEXT NOT NULL, at TEXT NOT NULL,
    headers TEXT NOT NULL, body TEXT NOT NULL, answered INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS received_by_receiver ON received (receiver_id, seq);
"""


class ReceiverBody(BaseModel):
    """How the new receiver answers."""

    model_config = ConfigDict(extra="forbid")
    behavior: Behavior = "ok"


class ReceiverStore(ThreadLocalSqlite):
    """Receivers and what reached them, in their own SQLite file (one connection per thread)."""

    def __init__(self, path: Path, clock: Clock) -> None:
        super().__init__(path, clock, _SCHEMA)

    def create(self, behavior: str) -> str:
        receiver_id = "rcv_" + uuid.uuid4().hex[:20]
        with self._connect() as db:
            db.execute(
                "INSERT INTO receivers (id, behavior, created_at) VALUES (?, ?, ?)",
                (receiver_id, behavior, self._clock.now().isoformat()),
            )
        return receiver_id

    def behavior(self, receiver_id: str) -> str:
        with self._connect() as db:
            row = db.execute("SELECT behavior FROM receivers WHERE id = ?", (receiver_id,)).fetchone()
        if row is None:
            raise SandboxError(404, "receiver_unknown", "There is no such receiver.")
        return str(row["behavior"])

    def keep(self, receiver_id: str, headers: dict[str, str], body: str, answered: int) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO received (receiver_id, at, headers, body, answered) VALUES (?, ?, ?, ?, ?)",
                (receiver_id, self._clock.now().isoformat(), json.dumps(headers), body, answered),
            )

    def received(self, receiver_id: str) -> list[dict[str, object]]:
        self.behavior(receiver_id)  # 404 for an unknown receiver
        with self._connect() as db:
            rows = db.execute(
                "SELECT at, headers, body, answered FROM received WHERE receiver_id = ? ORDER BY seq LIMIT ?",
                (receiver_id, KEPT_PER_RECEIVER),
            ).fetchall()
        return [
            {"at": r["at"], "headers": json.loads(r["headers"]), "body": r["body"], "answered": r["answered"]}
            for r in rows
        ]


def receiver_router(store: ReceiverStore, hang_seconds: float) -> APIRouter:
    """The receiver's endpoints over `store`; `slow` waits `hang_seconds` + 1 before answering."""
    router = APIRouter()

    @router.post("/receivers", status_code=201)
    async def create(request: Request, body: ReceiverBody | None = None) -> dict[str, str]:
        behavior = body.behavior if body else "ok"
        receiver_id = await run_in_threadpool(store.create, behavior)
        return {"id": receiver_id, "url": str(request.url_for("receive", receiver_id=receiver_id))}

    @router.post("/receivers/{receiver_id}", name="receive")
    async def receive(receiver_id: str, request: Request) -> JSONResponse:
        behavior = await run_in_threadpool(store.behavior, receiver_id[:40])
        raw = (await request.body())[:MAX_BODY].decode("utf-8", "replace")
        status = ANSWERS[behavior]
        await run_in_threadpool(store.keep, receiver_id[:40], dict(request.headers), raw, status)
        if behavior == "slow":
            await run_in_threadpool(time.sleep, hang_seconds + 1)
        return JSONResponse({"received": status < 300}, status_code=status)

    @router.get("/receivers/{receiver_id}/deliveries")
    async def deliveries(receiver_id: str) -> dict[str, object]:
        return {"deliveries": await run_in_threadpool(store.received, receiver_id[:40])}

    return router
