"""Serve an ASGI app over real HTTP on a free local port, in a background thread (tests, simulations)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

HOST = "127.0.0.1"


@contextmanager
def live_server(app: ASGIApp, *, startup_timeout: float = 10.0, graceful_seconds: int = 1) -> Iterator[str]:
    """Run `app` with uvicorn in a background thread; yield its base URL, stop it on exit.

    `graceful_seconds` bounds how long shutdown waits for requests still in flight (a
    sandbox "timeout" deliberately leaves one hanging).
    """
    # Binding here, before the server starts, means no other process can take the port
    # between choosing it and serving on it. The explicit IPPROTO_TCP lets asyncio turn on
    # TCP_NODELAY for accepted connections; without it every keep-alive request waits ~40 ms.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="auto",
        timeout_graceful_shutdown=graceful_seconds,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _wait_until_accepting(server, thread, port, startup_timeout)
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=graceful_seconds + 5.0)
        sock.close()
        if thread.is_alive():
            raise RuntimeError("the live server did not stop")


def _wait_until_accepting(
    server: uvicorn.Server, thread: threading.Thread, port: int, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the live server stopped while starting (see its log above)")
        if server.started and _accepts(port):
            return
        # Joining with a timeout is the poll interval, and returns early if the thread dies.
        thread.join(timeout=0.01)
    raise RuntimeError(f"the live server did not start within {timeout} s")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False
