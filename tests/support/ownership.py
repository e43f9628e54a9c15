"""Who writes which table, read from the source with `ast` (nothing is imported).

A write is any of: `insert(T)`, `update(T)`, `delete(T)` (plain SQLAlchemy, `sa.…`, a
dialect's `insert`), `T.insert()`, `T.update()`, `T.delete()`, a call of a helper that takes
the table and writes it (`insert_ignore(conn, T, …)`), and raw SQL text (`INSERT INTO t`,
`UPDATE t`, `DELETE FROM t`, `INSERT OR IGNORE INTO t`, `REPLACE INTO t`). `T` is found
however the table was reached: imported from `db.schema` under any alias, as an attribute
of the schema module (`schema.trades`, `db_schema.trades`), through a local name bound to
either (`t = schema.trades`), or by name from the metadata (`metadata.tables["trades"]`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SCHEMA_MODULE = "voucher_exchange.db.schema"
WRITE_CALLS = {"insert", "update", "delete"}
# Helpers in db/ that write the table they are handed (their second argument).
TABLE_WRITING_HELPERS = {"insert_ignore", "upsert"}
RAW_WRITE = re.compile(
    r"\b(?:(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|DELETE\s+FROM)\s+\"?([a-z_][a-z0-9_]*)\"?"
    r"|UPDATE\s+\"?([a-z_][a-z0-9_]*)\"?\s+SET\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Write:
    """One place in the source that writes a table."""

    table: str
    line: int
    form: str


def schema_tables(schema_source: str) -> set[str]:
    """The table names `db/schema.py` declares (`name = Table("name", …)`)."""
    names = set()
    for node in ast.walk(ast.parse(schema_source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Table" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                names.add(first.value)
    return names


class _Reader:
    def __init__(self, tree: ast.Module, tables: set[str]) -> None:
        self.tables = tables
        self.schema_aliases: set[str] = set()  # names bound to the schema module or its metadata
        self.table_names: dict[str, frozenset[str]] = {}  # local name → the table(s) it may denote
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == SCHEMA_MODULE:
                for alias in node.names:
                    if alias.name in tables:
                        self.table_names[alias.asname or alias.name] = frozenset({alias.name})
                    elif alias.name == "metadata":
                        self.schema_aliases.add(alias.asname or alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module == "voucher_exchange.db":
                self.schema_aliases.update(a.asname or a.name for a in node.names if a.name == "schema")
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == SCHEMA_MODULE:
                        self.schema_aliases.add(alias.asname or alias.name)
        # Local names bound to a table (`t = schema.trades`, `t = a if x else b`, loop targets
        # over tuples of tables), followed to a fixed point so chains of aliases resolve too.
        changed = True
        while changed:
            changed = False
            for target, value in self._bindings(tree):
                found = self.table_of(value)
                if found and not found <= self.table_names.get(target, frozenset()):
                    self.table_names[target] = self.table_names.get(target, frozenset()) | found
                    changed = True

    @staticmethod
    def _bindings(tree: ast.Module) -> list[tuple[str, ast.expr]]:
        """(name, expression it may be bound to) for assignments and loops over literal tuples."""
        pairs: list[tuple[str, ast.expr]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                pairs += [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
                pairs.append((node.target.id, node.value))
            elif isinstance(node, ast.For | ast.comprehension):
                names = node.target.elts if isinstance(node.target, ast.Tuple) else [node.target]
                if isinstance(node.iter, ast.Tuple | ast.List):
                    for element in node.iter.elts:
                        if isinstance(node.target, ast.Tuple) and isinstance(element, ast.Tuple):
                            pairs += [
                                (name.id, value)
                                for name, value in zip(node.target.elts, element.elts, strict=False)
                                if isinstance(name, ast.Name)
                            ]
                        else:
                            pairs += [(name.id, element) for name in names if isinstance(name, ast.Name)]
                else:
                    # Over a collection built elsewhere: each target may be any table it holds.
                    pairs += [(name.id, node.iter) for name in names if isinstance(name, ast.Name)]
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"append", "extend", "add"}
                and isinstance(node.func.value, ast.Name)
            ):
                # targets.append((payout_destinations, …)): the collection now holds that table.
                pairs += [(node.func.value.id, arg) for arg in node.args]
        return pairs

    def table_of(self, node: ast.expr) -> frozenset[str]:
        """The table(s) an expression may denote; empty when it is no table."""
        if isinstance(node, ast.Name):
            return self.table_names.get(node.id, frozenset())
        if isinstance(node, ast.IfExp):
            return self.table_of(node.body) | self.table_of(node.orelse)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            # A collection stands for the tables in it (its elements may be bound by a loop).
            return frozenset().union(*(self.table_of(e) for e in node.elts))
        if isinstance(node, ast.Attribute):
            if node.attr in self.tables and self._is_schema(node.value):
                return frozenset({node.attr})
            return frozenset()
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "tables"
            and isinstance(node.slice, ast.Constant)
        ):
            # metadata.tables["trades"], schema.metadata.tables["trades"]
            name = node.slice.value
            return frozenset({name}) if isinstance(name, str) and name in self.tables else frozenset()
        return frozenset()

    def _is_schema(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.schema_aliases
        # voucher_exchange.db.schema.trades
        return isinstance(node, ast.Attribute) and ast.unparse(node) == SCHEMA_MODULE


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring constants (prose, not SQL)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def writes_in_source(source: str, tables: set[str]) -> list[Write]:
    """Every write of a schema table in one module's source."""
    tree = ast.parse(source)
    reader = _Reader(tree, tables)
    prose = _docstrings(tree)
    found: list[Write] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            # insert(T), sa.update(T), postgresql.insert(T), delete(T)
            if name in WRITE_CALLS and node.args:
                found += [Write(t, node.lineno, f"{name}({t})") for t in reader.table_of(node.args[0])]
            # T.insert(), T.update(), T.delete()
            if name in WRITE_CALLS and isinstance(func, ast.Attribute) and not node.args:
                found += [Write(t, node.lineno, f"{t}.{name}()") for t in reader.table_of(func.value)]
            if name in TABLE_WRITING_HELPERS:
                for arg in node.args:
                    found += [Write(t, node.lineno, f"{name}({t})") for t in reader.table_of(arg)]
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            for match in RAW_WRITE.finditer(node.value):
                table = (match.group(1) or match.group(2)).lower()
                if table in tables:
                    verb = match.group(0).split()[0].upper()
                    found.append(Write(table, node.lineno, f"raw SQL {verb} {table}"))
    return sorted(set(found), key=lambda w: (w.line, w.table))


def writes_in_file(path: Path, tables: set[str]) -> list[Write]:
    """Every write of a schema table in one file."""
    return writes_in_source(path.read_text(encoding="utf-8"), tables)


def table_resolver(tree: ast.Module, tables: set[str]) -> Callable[[ast.expr], frozenset[str]]:
    """For one module: which table(s) an expression denotes, however the table was reached."""
    return _Reader(tree, tables).table_of
