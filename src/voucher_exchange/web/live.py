"""The trade page's live timeline: a Server-Sent Events stream that says when the trade changed.

`GET /trades/{id}/events?since=<status@updated_at>` (the page's own session) sends one
`changed` event each time the trade's status moves; the page's htmx SSE extension then
fetches the timeline fragment (the same `GET /trades/{id}/timeline` the polling fallback
uses). While nothing happens the stream costs nothing: it sleeps until a change to that
trade is committed (db/changes.py, told by the lifecycle after the commit: in this process,
and on PostgreSQL in every process, by LISTEN/NOTIFY) and otherwise makes one narrow read
every RECHECK_SECONDS (SQLite: changes made by other processes), or FEED_RECHECK_SECONDS
when the PostgreSQL feed tells it of every process's changes (against a lost notification).
It ends when the trade rests (event `rest`, and 204 to a reconnection, which stops the
browser's EventSource), after MAX_STREAM_SECONDS (the browser reconnects), and at once when
the server shuts down.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from voucher_exchange.accounts.models import User
from voucher_exchange.context import Context
from voucher_exchange.db import changes
from voucher_exchange.errors import DomainError
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus
from voucher_exchange.web.labels import RESTING
from voucher_exchange.web.session import Page, check_csrf

RECHECK_SECONDS = 5.0
FEED_RECHECK_SECONDS = 30.0
KEEPALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 300.0

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


class TradeWatch:
    """Wakes the streams following a trade when this process commits a change to it."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self._lock = threading.Lock()
        self.closed = False
        self.recheck_seconds = RECHECK_SECONDS
        self._unlisten: Callable[[], None] = changes.listen(self._changed)

    def hears_every_process(self) -> None:
        """The PostgreSQL feed tells this process of every process's changes: look less often."""
        self.recheck_seconds = FEED_RECHECK_SECONDS

    def _changed(self, trade_ids: frozenset[str]) -> None:
        with self._lock:
            woken = [w for trade_id in trade_ids for w in self._waiters.get(trade_id, ())]
        for loop, event in woken:
            loop.call_soon_threadsafe(event.set)

    async def wait(self, trade_id: str, timeout: float) -> None:
        """Return when the trade changed in this process, at shutdown, or after `timeout` seconds."""
        if self.closed:
            return
        mine = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(trade_id, set()).add(mine)
        try:
            await asyncio.wait_for(mine[1].wait(), timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                waiting = self._waiters.get(trade_id)
                if waiting is not None:
                    waiting.discard(mine)
                    if not waiting:
                        del self._waiters[trade_id]

    def close(self) -> None:
        """The server is stopping: end every stream now."""
        self.closed = True
        self._unlisten()
        with self._lock:
            everyone = [w for waiting in self._waiters.values() for w in waiting]
        for loop, event in everyone:
            loop.call_soon_threadsafe(event.set)


def _rests(status: TradeStatus) -> bool:
    """The timeline stops following a trade that rests, except one a person is reviewing."""
    return status.value in RESTING and status is not TradeStatus.IN_REVIEW


def _version(ctx: Context, user: User, trade_id: str) -> tuple[TradeStatus, str]:
    with ctx.uow(readonly=True) as uow:
        return trade_service.own_version(uow.conn, user, trade_id)


@router.get("/trades/{trade_id}/events")
def trade_events(v: Page, request: Request, trade_id: str, since: str = "") -> Response:
    """The trade's changes as Server-Sent Events, for its own seller's page."""
    user = v.seller()
    trade_id = trade_id[:64]
    status, version = _version(v.ctx, user, trade_id)  # unknown or not theirs: 404 like the page
    if _rests(status) and version == since[:100]:
        return Response(status_code=204)  # nothing left to follow: the browser stops reconnecting
    watch: TradeWatch = request.app.state.trade_watch

    async def stream() -> AsyncIterator[str]:
        yield "retry: 3000\n\n"
        seen = since[:100]
        current, latest = status, version
        began = quiet = time.monotonic()
        while True:
            if latest != seen:
                seen = latest
                quiet = time.monotonic()
                yield f"event: changed\ndata: {current.value}\n\n"
            if _rests(current):
                yield f"event: rest\ndata: {current.value}\n\n"
                return
            if watch.closed or time.monotonic() - began > MAX_STREAM_SECONDS:
                return
            if time.monotonic() - quiet > KEEPALIVE_SECONDS:
                quiet = time.monotonic()
                yield ": still here\n\n"
            await watch.wait(trade_id, watch.recheck_seconds)
            if watch.closed:
                return
            try:
                current, latest = await run_in_threadpool(_version, v.ctx, user, trade_id)
            except DomainError:
                return  # gone from this seller's view (an erasure): the page's next GET says why

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
