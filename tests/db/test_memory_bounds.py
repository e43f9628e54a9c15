"""A long-running process's memory outside the Python heap is bounded: SQLite's page cache per
connection (the exchange's engine and the sandbox's per-thread store) and glibc's malloc arenas."""

from __future__ import annotations

import platform
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import database_url
from voucher_exchange.clock import SystemClock
from voucher_exchange.db.engine import SQLITE_CACHE_KIB, make_engine
from voucher_exchange.malloc import ARENAS, cap_arenas
from voucher_exchange.sandbox import store


def test_every_pooled_sqlite_connection_has_the_bounded_page_cache(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    engine = make_engine(database_url(request, "sqlite", tmp_path, "vx_cache"))
    try:
        # Two at once: two connections, each set up on connect (read-only, or the second waits
        # behind the first's BEGIN IMMEDIATE).
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                conn.execution_options(vx_readonly=True)
            sizes = [c.execute(text("PRAGMA cache_size")).scalar_one() for c in (first, second)]
    finally:
        engine.dispose()

    assert SQLITE_CACHE_KIB == 1024
    assert sizes == [-1024, -1024]  # negative: KiB, not pages


def test_each_thread_connection_of_the_sandbox_store_has_the_bounded_page_cache(tmp_path: Path) -> None:
    sandbox = store.SandboxStore(tmp_path / "sandbox.db", SystemClock())
    sizes: list[int] = []

    def read() -> None:
        with sandbox._connect() as db:
            sizes.append(db.execute("PRAGMA cache_size").fetchone()[0])

    read()
    other = threading.Thread(target=read)
    other.start()
    other.join()

    assert store.CACHE_KIB == 256
    assert sizes == [-256, -256]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt(M_ARENA_MAX) is glibc's")
def test_the_arena_cap_is_taken_by_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    assert ARENAS == 4
    assert cap_arenas() is True


def test_an_arena_limit_in_the_environment_is_left_as_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")

    assert cap_arenas() is False
