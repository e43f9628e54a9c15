"""A real PostgreSQL server for the tests, started from the machine's own binaries.

pytest-postgresql's executor drives `pg_ctl`. PostgreSQL refuses to run as root, and
CI runs as root, so when we are root `pg_ctl` runs through a tiny wrapper as the
`postgres` OS user, in a data directory that user owns.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from pytest_postgresql.executors.proc import PostgreSQLExecutor

from tests.support.polling import poll_until

OS_USER = "postgres"
# Benchmarks also count statements per trade (pg_stat_statements, loaded at start).
DURABLE = (
    " -c fsync=on -c full_page_writes=on -c synchronous_commit=on"
    " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
)
FAST = " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"


def find_pg_ctl() -> str:
    """The real pg_ctl binary (not a symlink: it finds `postgres` next to itself)."""
    found = shutil.which("pg_ctl") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))), None
    )
    if not found:
        raise RuntimeError("pg_ctl not found: apt-get install postgresql (the tests need a real server)")
    return os.path.realpath(found)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(durable: bool = False) -> PostgreSQLExecutor:
    """Start a throwaway server on a free port; the caller stops it.

    Tests trade durability for speed (fsync off); benchmarks ask for `durable=True`.
    pytest-postgresql's executor always passes `-F` (fsync off) to the server; the
    explicit settings below come later on its command line, so they win.
    """
    base = Path(tempfile.mkdtemp(prefix="vx-pg-"))
    pg_ctl = find_pg_ctl()
    executable = pg_ctl
    if os.geteuid() == 0:
        shutil.chown(base, OS_USER, OS_USER)
        wrapper = base / "pg_ctl-as-postgres"
        wrapper.write_text(f'#!/bin/sh\nexec runuser -u {OS_USER} -- "{pg_ctl}" "$@"\n')
        wrapper.chmod(0o755)
        executable = str(wrapper)
    executor = PostgreSQLExecutor(
        executable=executable,
        host="127.0.0.1",
        port=_free_port(),
        datadir=str(base / "data"),
        unixsocketdir=str(base),
        logfile=str(base / "server.log"),
        startparams="-w",
        dbname="postgres",
        user="postgres",
        postgres_options="-c max_connections=300" + (DURABLE if durable else FAST),
    )
    executor.start()
    _wait_accepting(executor.port)
    return executor


def _wait_accepting(port: int) -> None:
    # The port can answer while the server is still "starting up" (seen on a loaded machine).
    def accepting() -> bool:
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres").close()
        except psycopg.OperationalError:
            return False
        return True

    poll_until(accepting, timeout=120, interval=0.1, what="PostgreSQL to accept connections")


def create_database(executor: PostgreSQLExecutor, name: str, template: str | None = None) -> str:
    """A fresh database on the server, empty or a copy of `template`; returns its SQLAlchemy URL.

    The template must have no open connections (PostgreSQL refuses to copy it otherwise).
    """
    dsn = f"host=127.0.0.1 port={executor.port} user=postgres dbname=postgres"
    # start_server waited until the server accepts connections.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return f"postgresql+psycopg://postgres@127.0.0.1:{executor.port}/{name}"


def restart_server(executor: PostgreSQLExecutor) -> None:
    """`pg_ctl restart -m immediate`: every backend dies at once, as in a crash; then crash recovery.

    pg_ctl starts the server again with the options it was started with (postmaster.opts)
    and waits (-w) until it accepts connections.
    """
    subprocess.run(
        [
            executor.executable,
            "restart",
            "-m",
            "immediate",
            "-w",
            "-D",
            executor.datadir,
            "-l",
            executor.logfile,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    _wait_accepting(executor.port)


@contextmanager
def server_down(executor: PostgreSQLExecutor) -> Iterator[None]:
    """The server stopped at once (`pg_ctl stop -m immediate`) within the block, then started again."""
    subprocess.run(
        [executor.executable, "stop", "-m", "immediate", "-w", "-D", executor.datadir],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        yield
    finally:
        # restart starts a stopped server too, with the options it last ran with (postmaster.opts).
        restart_server(executor)


def stop_server(executor: PostgreSQLExecutor) -> None:
    """Stop the server and remove its files."""
    executor.stop()
    shutil.rmtree(Path(executor.datadir).parent, ignore_errors=True)
