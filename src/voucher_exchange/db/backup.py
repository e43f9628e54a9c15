"""Backups: SQLite's online backup API, or pg_dump/pg_restore for PostgreSQL.

Both copy a consistent snapshot while the exchange keeps running.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from voucher_exchange.errors import Conflict, InvalidInput

Progress = Callable[[int, int], None]  # (pages done, pages total)
PAGES_PER_STEP = 1024


def private_file(path: Path) -> None:
    """Make `path` an empty file only the owner may read or write (0600), to be filled next.

    A backup holds every table: its mode must not depend on the caller's umask, and a file
    that existed with a wider mode is narrowed (and emptied) before anything is written.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise InvalidInput("backup_unsupported", "An in-memory database cannot be backed up.")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path, progress: Progress | None) -> None:
    """Page-by-page copy through SQLite's online backup API (readers and writers keep going)."""

    def step(_status: int, remaining: int, total: int) -> None:
        if progress:
            progress(total - remaining, total)

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst, pages=PAGES_PER_STEP, progress=step)


def _pg_args(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password, and an environment carrying it."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise InvalidInput("tool_missing", f"{name} is not installed: apt-get install postgresql-client")
    return found


def backup(database_url: str, target: Path, progress: Progress | None = None) -> None:
    """Write a consistent copy of the database to `target`, readable by its owner only (0600)."""
    url = make_url(database_url)
    if not target.parent.exists():
        target.parent.mkdir(mode=0o700, parents=True)
    if url.get_backend_name() == "sqlite":
        source = _sqlite_path(url)
        if not source.exists():
            raise InvalidInput("database_missing", f"There is no database at {source}.")
        private_file(target)  # SQLite writes into the file as it is, and its journal takes its mode
        _sqlite_copy(source, target, progress)
        return
    private_file(target)  # pg_dump truncates and fills it, keeping the mode
    uri, env = _pg_args(url)
    subprocess.run(  # noqa: S603  # fixed tool, arguments we built
        [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}", f"--dbname={uri}"],
        env=env,
        check=True,
        capture_output=True,
    )


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists():
        return True
    with sqlite3.connect(path) as conn:
        tables: int = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    return tables == 0


def restore(database_url: str, source: Path, overwrite: bool, progress: Progress | None = None) -> None:
    """Replace the database's contents with a backup (refuses a non-empty one unless told)."""
    if not source.exists():
        raise InvalidInput("backup_missing", f"There is no backup at {source}.")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        target = _sqlite_path(url)
        if not overwrite and not _sqlite_is_empty(target):
            raise Conflict("database_not_empty", f"{target} has data. Pass --yes to replace it.")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, target, progress)
        return
    uri, env = _pg_args(url)
    args = [_tool("pg_restore"), "--no-owner", "--single-transaction", f"--dbname={uri}", str(source)]
    if overwrite:
        args[1:1] = ["--clean", "--if-exists"]
    result = subprocess.run(args, env=env, check=False, capture_output=True, text=True)  # noqa: S603
    if result.returncode != 0:
        if "already exists" in result.stderr:
            raise Conflict("database_not_empty", "The database has data. Pass --yes to replace it.")
        raise InvalidInput("restore_failed", f"pg_restore failed: {result.stderr.strip()[:500]}")
