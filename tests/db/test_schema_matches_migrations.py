"""One schema: `db/schema.py` (what the code uses) is what the migrations (what deployments ran) build.

An empty database of each backend is brought to the head by the real migrations, then read
against schema.py's metadata by Alembic's autogenerate comparison: tables, columns, types,
nullability, server defaults, indexes, unique constraints and foreign keys. What Alembic does
not compare is compared here, as far as each backend reflects it faithfully: primary keys,
CHECK constraints, partial-index predicates and (PostgreSQL) which key is a serial.

Migrations are history: replaying them must not change when the application does. So no
revision imports application code (its helpers are frozen copies), and what a revision names
does not follow schema.py's naming convention. Planted differences and violations prove each
check can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData
from sqlalchemy.engine import Inspector

from tests.conftest import BACKENDS, database_url
from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import metadata
from voucher_exchange.db.types import UTCDateTime


@dataclass(frozen=True)
class Difference:
    """One way the migrated database and schema.py disagree."""

    kind: str  # Alembic's name for it (add_column, modify_type, …) or ours (primary_key, check, …)
    where: str  # table, table.column or table.constraint
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:18} {self.where}: {self.detail}"


MISSING = "declared in schema.py, not created by the migrations"
EXTRA = "created by the migrations, not declared in schema.py"


def _columns(obj: Any) -> str:
    return ", ".join(c.name for c in obj.columns)


def _shown(value: Any) -> str:
    if isinstance(value, sa.DefaultClause):
        return f"DEFAULT {value.arg}" if isinstance(value.arg, sa.TextClause) else f"DEFAULT {value.arg!r}"
    return "none" if value is None else str(value)


def _nullable(value: bool) -> str:
    return "NULL" if value else "NOT NULL"


def _from_alembic(diff: tuple[Any, ...]) -> Difference:
    kind = diff[0]
    if kind == "modify_nullable":
        _, _, table, column, _, in_database, in_schema = diff
        detail = f"database {_nullable(in_database)}, schema.py {_nullable(in_schema)}"
        return Difference(kind, f"{table}.{column}", detail)
    if kind.startswith("modify_"):
        _, _, table, column, _, in_database, in_schema = diff
        detail = f"database {_shown(in_database)}, schema.py {_shown(in_schema)}"
        return Difference(kind, f"{table}.{column}", detail)
    side = MISSING if kind.startswith("add_") else EXTRA
    if kind in ("add_column", "remove_column"):
        _, _, table, column = diff
        return Difference(kind, f"{table}.{column.name}", f"{column.type}: {side}")
    if kind in ("add_table", "remove_table"):
        return Difference(kind, diff[1].name, side)
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        obj = diff[1]
        return Difference(kind, f"{obj.table.name}.{obj.name}", f"({_columns(obj)}): {side}")
    return Difference(kind, "?", repr(diff))  # a kind this test does not know yet: shown as it came


def _sqlite_misreads_an_empty_default(dialect: str, diff: tuple[Any, ...]) -> bool:
    """DEFAULT '' on SQLite, which Alembic reports as different from schema.py's server_default="".

    Alembic's SQLite support takes a reflected default for a quoted constant only when something
    stands between the quotes (its patterns are `^'.+'$`), so it reads DEFAULT '' as an
    expression, wraps it as "('')", and then compares "''" with "": the same DDL, reported as a
    change. Only this exact pair is ignored; every other default is compared.
    """
    if dialect != "sqlite" or diff[0] != "modify_default":
        return False
    in_database, in_schema = diff[5], diff[6]
    return (
        isinstance(in_database, sa.DefaultClause)
        and str(in_database.arg) == "('')"
        and isinstance(in_schema, sa.DefaultClause)
        and in_schema.arg == ""
    )


def _alembic_differences(conn: Connection, target: MetaData) -> list[Difference]:
    context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
    found: list[Difference] = []
    for item in compare_metadata(context, target):
        # A column's modifications come as a list of them; everything else as one tuple.
        for diff in item if isinstance(item, list) else [item]:
            if not _sqlite_misreads_an_empty_default(conn.dialect.name, diff):
                found.append(_from_alembic(diff))
    return found


def _primary_key(inspector: Inspector, table: sa.Table) -> list[Difference]:
    pk = inspector.get_pk_constraint(table.name)
    theirs = f"{pk['name']} ({', '.join(pk['constrained_columns'])})"
    ours = f"{table.primary_key.name} ({_columns(table.primary_key)})"
    if theirs == ours:
        return []
    return [Difference("primary_key", table.name, f"database {theirs}, schema.py {ours}")]


def _checks(inspector: Inspector, table: sa.Table) -> list[Difference]:
    """CHECK constraints by name; their text too on SQLite, which keeps it as written
    (PostgreSQL rewrites it: `kind IN ('a', 'b')` comes back as `kind::text = ANY (ARRAY[…])`)."""
    ours = {str(c.name): str(c.sqltext) for c in table.constraints if isinstance(c, sa.CheckConstraint)}
    theirs = {c["name"]: c["sqltext"] for c in inspector.get_check_constraints(table.name)}
    found = []
    for name in sorted(ours.keys() | theirs.keys()):
        where = f"{table.name}.{name}"
        if name not in theirs:
            found.append(Difference("check", where, MISSING))
        elif name not in ours:
            found.append(Difference("check", where, EXTRA))
        elif inspector.dialect.name == "sqlite" and ours[name] != theirs[name]:
            found.append(Difference("check", where, f"database ({theirs[name]}), schema.py ({ours[name]})"))
    return found


def _index_predicates(inspector: Inspector, table: sa.Table) -> list[Difference]:
    """Partial indexes: whether each has a predicate; its text too on SQLite (as written;
    PostgreSQL gives back its own spelling, `((status)::text <> 'rejected'::text)`)."""
    dialect = inspector.dialect.name
    theirs = {
        ix["name"]: ix.get("dialect_options", {}).get(f"{dialect}_where")
        for ix in inspector.get_indexes(table.name)
    }
    found = []
    for index in table.indexes:
        if index.name not in theirs:
            continue  # Alembic reports the missing index
        mine, reflected = index.dialect_options[dialect]["where"], theirs[index.name]
        ours_text = None if mine is None else str(mine)
        their_text = None if reflected is None else str(reflected)
        if (ours_text is None) != (their_text is None) or (dialect == "sqlite" and ours_text != their_text):
            detail = f"database WHERE {their_text or '(none)'}, schema.py WHERE {ours_text or '(none)'}"
            found.append(Difference("index_where", f"{table.name}.{index.name}", detail))
    return found


def _serials(inspector: Inspector, table: sa.Table) -> list[Difference]:
    """PostgreSQL: the key a sequence numbers (SQLite reflects none: an INTEGER PRIMARY KEY is one)."""
    if inspector.dialect.name != "postgresql":
        return []
    theirs = [c["name"] for c in inspector.get_columns(table.name) if c.get("autoincrement") is True]
    ours = [] if table.autoincrement_column is None else [table.autoincrement_column.name]
    if theirs == ours:
        return []
    return [
        Difference("autoincrement", table.name, f"database serial {theirs}, schema.py autoincrement {ours}")
    ]


def _structural_differences(conn: Connection, target: MetaData) -> list[Difference]:
    """What Alembic's comparison leaves out, on the tables both sides have."""
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    found: list[Difference] = []
    for table in target.sorted_tables:
        if table.name in present:  # Alembic reports a missing table
            for compare in (_primary_key, _checks, _index_predicates, _serials):
                found += compare(inspector, table)
    return found


def schema_differences(conn: Connection, target: MetaData) -> list[Difference]:
    """Every difference between the database on `conn` and `target`, Alembic's and ours."""
    return _alembic_differences(conn, target) + _structural_differences(conn, target)


@pytest.fixture(scope="module", params=BACKENDS)
def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """An empty database of each backend, brought to the head by the real migrations."""
    directory: Path = tmp_path_factory.mktemp("schema-equality")
    engine = make_engine(database_url(request, request.param, directory, "vx_schema_equality"))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def test_schema_py_is_what_the_migrations_build(migrated: Engine) -> None:
    assert migrate.is_current(migrated)
    with migrated.connect() as conn:
        found = schema_differences(conn, metadata)
    assert found == [], f"schema.py and the migrations disagree on {migrated.dialect.name}:\n" + "\n".join(
        str(d) for d in found
    )


def _planted() -> MetaData:
    """A copy of schema.py's metadata with one difference of each kind the comparison must see."""
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    users, trades, brands = copy.tables["users"], copy.tables["trades"], copy.tables["brands"]
    users.append_column(sa.Column("planted", sa.String(10)))
    users.c.phone.nullable = False
    users.c.roles.server_default = sa.DefaultClause("x")  # its DEFAULT '' is the ignored quirk; this is not
    brands.c.name_en.type = sa.String(100)
    copy.tables["jobs"].c.attempts.server_default = sa.DefaultClause("1")
    trades.indexes.remove(next(ix for ix in trades.indexes if ix.name == "ix_trades_status"))
    rates = copy.tables["brand_rates"]
    rates.constraints.remove(next(c for c in rates.constraints if c.name == "uq_brand_rates_brand_version"))
    receipts = copy.tables["receipts"]
    receipts.constraints.remove(
        next(c for c in receipts.constraints if c.name == "fk_receipts_key_id_receipt_keys")
    )
    quotes = copy.tables["quotes"]
    quotes.constraints.remove(next(c for c in quotes.constraints if c.name == "ck_quotes_fee_plus_payout"))
    quotes.append_constraint(sa.CheckConstraint("rate_bps > 0", name="planted"))
    quotes.constraints.remove(next(c for c in quotes.constraints if c.name == "ck_quotes_amounts"))
    quotes.append_constraint(sa.CheckConstraint("face_value > 0", name="amounts"))  # same name, other text
    payouts = copy.tables["payouts"]
    payouts.indexes.remove(next(ix for ix in payouts.indexes if ix.name == "uq_payouts_one_live_per_trade"))
    sa.Index(
        "uq_payouts_one_live_per_trade", payouts.c.trade_id, payouts.c.purpose, unique=True
    )  # the same, without its WHERE
    sa.Table("planted_table", copy, sa.Column("id", sa.Integer, primary_key=True))
    copy.tables["jobs"].c.id.autoincrement = False  # the database's is a serial (PostgreSQL reflects it)
    copy.remove(copy.tables["totp_recovery_codes"])
    sa.Table(  # the same table, keyed by both columns
        "totp_recovery_codes",
        copy,
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True, index=True),
        sa.Column("used_at", sa.DateTime()),
    )
    return copy


PLANTED = {
    ("add_table", "planted_table"),
    ("add_column", "users.planted"),
    ("modify_nullable", "users.phone"),
    ("modify_default", "users.roles"),
    ("modify_type", "brands.name_en"),
    ("modify_default", "jobs.attempts"),
    ("remove_index", "trades.ix_trades_status"),
    ("remove_constraint", "brand_rates.uq_brand_rates_brand_version"),
    ("remove_fk", "receipts.fk_receipts_key_id_receipt_keys"),
    ("check", "quotes.ck_quotes_fee_plus_payout"),
    ("check", "quotes.ck_quotes_planted"),
    ("index_where", "payouts.uq_payouts_one_live_per_trade"),
    ("primary_key", "totp_recovery_codes"),
}


def test_every_planted_difference_is_reported(migrated: Engine) -> None:
    with migrated.connect() as conn:
        found = schema_differences(conn, _planted())
    # What only one backend reflects faithfully: PostgreSQL the serial, SQLite a CHECK's text.
    postgresql = migrated.dialect.name == "postgresql"
    only_here = {("autoincrement", "jobs")} if postgresql else {("check", "quotes.ck_quotes_amounts")}
    assert {(d.kind, d.where) for d in found} == PLANTED | only_here, "\n".join(str(d) for d in found)
    shown = {d.where: str(d) for d in found}  # readable: both sides, and which side lacks what
    assert "database DEFAULT" in shown["jobs.attempts"] and "schema.py DEFAULT '1'" in shown["jobs.attempts"]
    assert "database NULL, schema.py NOT NULL" in shown["users.phone"]
    assert MISSING in shown["users.planted"]
    assert EXTRA in shown["trades.ix_trades_status"]


def _constraint_names(conn: Connection) -> set[tuple[str, str, str]]:
    """(table, kind, name) of every key, constraint and index in the database."""
    inspector = sa.inspect(conn)
    names: set[tuple[str, str, str]] = set()
    for table in inspector.get_table_names():
        names.add((table, "primary key", str(inspector.get_pk_constraint(table)["name"])))
        names |= {(table, "foreign key", str(c["name"])) for c in inspector.get_foreign_keys(table)}
        names |= {(table, "unique", str(c["name"])) for c in inspector.get_unique_constraints(table)}
        names |= {(table, "check", str(c["name"])) for c in inspector.get_check_constraints(table)}
        names |= {(table, "index", str(c["name"])) for c in inspector.get_indexes(table)}
    return names


def test_what_the_migrations_name_does_not_follow_schema_py(
    migrated: Engine, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alembic names what a revision leaves unnamed by the target metadata's naming convention, which
    # env.py takes from schema.py: a revision must name everything itself, or replaying it would
    # follow a later change of the convention.
    other = {key: f"other_{pattern}" for key, pattern in metadata.naming_convention.items()}
    monkeypatch.setattr(metadata, "naming_convention", other)
    engine = make_engine(database_url(request, migrated.dialect.name, tmp_path, "vx_other_convention"))
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            replayed = _constraint_names(conn)
    finally:
        engine.dispose()
    with migrated.connect() as conn:
        original = _constraint_names(conn)
    assert replayed == original, sorted(replayed ^ original)


APPLICATION = "voucher_exchange"


def _is_application(name: str) -> bool:
    return name == APPLICATION or name.startswith(f"{APPLICATION}.")


def _callee(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def application_imports(source: str) -> list[str]:
    """The application modules a migration's source imports, at any depth (in a function too).

    `import voucher_exchange…`, `from voucher_exchange… import …`, a relative import (a revision
    sits inside the package), and `import_module("voucher_exchange…")` / `__import__(…)` by name.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_application(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append("." * node.level + (node.module or ""))
            elif node.module and _is_application(node.module):
                found.append(node.module)
        elif isinstance(node, ast.Call) and _callee(node.func) in {"import_module", "__import__"}:
            first = node.args[0] if node.args else None
            if (
                isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _is_application(first.value)
            ):
                found.append(first.value)
    return found


def _revision_files() -> list[Path]:
    """Every revision file Alembic runs, found the way Alembic finds them."""
    return sorted(
        Path(str(revision.path))
        for revision in ScriptDirectory.from_config(migrate._config()).walk_revisions()
    )


def test_no_migration_imports_application_code() -> None:
    files = _revision_files()
    versions = migrate.MIGRATIONS / "versions"
    assert {p.name for p in files} == {p.name for p in versions.glob("*.py")}  # each file is scanned
    found = {p.name: application_imports(p.read_text(encoding="utf-8")) for p in files}
    assert {name: modules for name, modules in found.items() if modules} == {}
    # New revisions start from the template: it imports nothing of the application either.
    template = (migrate.MIGRATIONS / "script.py.mako").read_text(encoding="utf-8")
    assert not re.search(rf"^\s*(import|from)\s+{APPLICATION}\b", template, re.MULTILINE)


@pytest.mark.parametrize(
    ("source", "imported"),
    [
        ("import voucher_exchange.db.types\n", ["voucher_exchange.db.types"]),
        ("import voucher_exchange\n", ["voucher_exchange"]),
        (
            "import sqlalchemy as sa, voucher_exchange.audit.chain as chain\n",
            ["voucher_exchange.audit.chain"],
        ),
        ("from voucher_exchange.audit.chain import GENESIS, link\n", ["voucher_exchange.audit.chain"]),
        ("from voucher_exchange import audit\n", ["voucher_exchange"]),
        ("def upgrade() -> None:\n    from voucher_exchange.db import schema\n", ["voucher_exchange.db"]),
        (
            "try:\n    import voucher_exchange.money\nexcept ImportError:\n    pass\n",
            ["voucher_exchange.money"],
        ),
        ("from ..schema import metadata\n", ["..schema"]),
        ("from . import env\n", ["."]),
        (
            "import importlib\nchain = importlib.import_module('voucher_exchange.audit.chain')\n",
            ["voucher_exchange.audit.chain"],
        ),
        ("chain = __import__('voucher_exchange.audit.chain')\n", ["voucher_exchange.audit.chain"]),
        # Not the application: a look-alike name, a docstring, a comment, the stdlib and libraries.
        ("import voucher_exchange_legacy\nfrom voucher_exchanger import x\n", []),
        ('"""Mirrors voucher_exchange.audit.chain."""\n# from voucher_exchange import audit\n', []),
        ("import hashlib\nimport sqlalchemy as sa\nfrom alembic import op\n", []),
    ],
)
def test_the_import_scanner_finds_each_form(source: str, imported: list[str]) -> None:
    assert application_imports(source) == imported


def test_autogenerate_writes_utc_instants_without_application_code(migrated: Engine) -> None:
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    copy.tables["users"].append_column(sa.Column("planted_at", UTCDateTime()))
    with migrated.connect() as conn:
        ops = produce_migrations(MigrationContext.configure(conn), copy).upgrade_ops
    assert ops is not None
    # Alembic alone would import the application type into the new revision; render_item does not.
    assert "voucher_exchange.db.types.UTCDateTime()" in render_python_code(ops)
    rendered = render_python_code(ops, render_item=migrate.render_item)
    assert "sa.Column('planted_at', sa.DateTime(), nullable=True)" in rendered
    assert APPLICATION not in rendered
