"""The few statements that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any], keys: list[str]) -> bool:
    """INSERT … ON CONFLICT (keys) DO NOTHING; True when this call inserted the row."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(table.c[keys[0]])
    )
    # RETURNING, not rowcount: psycopg reports -1 (truthy) when ON CONFLICT skipped the row.
    return conn.execute(stmt).first() is not None


def for_update(conn: Connection) -> dict[str, Any]:
    """Row-lock options for `select().with_for_update(**…)`; SQLite already serialises writers."""
    return {} if conn.dialect.name == "sqlite" else {"nowait": False}
