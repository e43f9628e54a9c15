"""Run Alembic migrations programmatically (no alembic.ini needed in a deployment)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from voucher_exchange.db.types import UTCDateTime

MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision."""
    cfg = _config()
    # Migrations use SQLite's default (deferred) transactions; our BEGIN IMMEDIATE hook is for app traffic.
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to change it; with foreign keys enforced, dropping the old copy
            # of a referenced table fails. The pragma only works outside a transaction, so it is set
            # on the driver connection before anything begins, and checked after.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left {len(broken)} dangling foreign keys")
            conn.commit()
        finally:
            if sqlite:
                conn.rollback()
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest revision."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current == head


def autogenerate(engine: Engine, message: str) -> None:
    """Developer tool: write a new revision from schema changes."""
    cfg = _config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """How autogenerate writes a UTC instant into a new revision: as the `sa.DateTime()` it is in DDL.

    A revision imports no application code (docs/architecture.md, "One schema"); Alembic would
    otherwise write `voucher_exchange.db.types.UTCDateTime()`. False: everything else as Alembic does.
    """
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
