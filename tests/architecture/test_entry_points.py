"""Entry points are thin: no API route, web page or CLI command opens a writing transaction or commits.

Use cases own their transactions (docs/architecture.md, "Thin entry points"): an entry point
parses its input, calls one use case and renders. This reads every module of `api/`, `web/`
and `cli/` with `ast` and names each place that commits (`.commit()` on any receiver), opens
a unit of work that may write (`ctx.uow()`, `UnitOfWork(engine)`: only `readonly=True` is
allowed, for screens that read) or opens a self-committing transaction (`engine.begin()`).
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

from tests.support.imports import ROOT

ENTRY_POINTS = ("api", "web", "cli")

# Known remaining: none. A new entry is a regression; the list stays as the place to name one
# deliberately (with why), and an entry that no longer occurs fails too.
KNOWN_REMAINING: list[str] = []


def _readonly(call: ast.Call, position: int) -> bool:
    """True when the call passes readonly=True (by keyword, or as the literal at `position`)."""
    for keyword in call.keywords:
        if keyword.arg == "readonly":
            return isinstance(keyword.value, ast.Constant) and keyword.value.value is True
    if len(call.args) > position:
        arg = call.args[position]
        return isinstance(arg, ast.Constant) and arg.value is True
    return False


def _opens_a_write(call: ast.Call) -> str | None:
    """What the call does that belongs in a use case, or None."""
    func = call.func
    if isinstance(func, ast.Attribute):
        if func.attr == "commit":
            return f"{ast.unparse(func)}()"
        if func.attr == "begin" and not call.args and not call.keywords:
            return f"{ast.unparse(func)}()"
        if func.attr == "uow" and not _readonly(call, 0):
            return ast.unparse(call)
        if func.attr == "UnitOfWork" and not _readonly(call, 1):
            return ast.unparse(call)
    elif isinstance(func, ast.Name) and func.id == "UnitOfWork" and not _readonly(call, 1):
        return ast.unparse(call)
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, name: str) -> None:
        self.name = name
        self.where = ["<module>"]
        self.found: list[str] = []

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.where.append(node.name)
        self.generic_visit(node)
        self.where.pop()

    visit_FunctionDef = _function  # noqa: N815 (ast.NodeVisitor's naming)
    visit_AsyncFunctionDef = _function  # noqa: N815

    def visit_Call(self, node: ast.Call) -> None:
        what = _opens_a_write(node)
        if what is not None:
            self.found.append(f"{self.name}:{self.where[-1]} {what}")
        self.generic_visit(node)


def transactions_in(source: str, name: str) -> list[str]:
    """`name:function what` for each commit or writing transaction in one module's source."""
    scanner = _Scanner(name)
    scanner.visit(ast.parse(source))
    return scanner.found


def entry_point_modules() -> list[Path]:
    """Every module of the API, the web app and the CLI."""
    return sorted(p for package in ENTRY_POINTS for p in (ROOT / package).rglob("*.py"))


def test_entry_points_open_no_writing_transaction() -> None:
    modules = entry_point_modules()
    assert len(modules) > 40
    found = [
        finding
        for path in modules
        for finding in transactions_in(path.read_text(encoding="utf-8"), path.relative_to(ROOT).as_posix())
    ]
    new = Counter(found) - Counter(KNOWN_REMAINING)
    assert sorted(new.elements()) == [], "move these into a use case of the capability that owns the data"
    gone = Counter(KNOWN_REMAINING) - Counter(found)
    assert sorted(gone.elements()) == [], "these moved: delete them from KNOWN_REMAINING"


def test_the_known_remaining_are_only_the_risk_and_sanctions_commands() -> None:
    assert {entry.split(":")[0] for entry in KNOWN_REMAINING} <= {"cli/risk.py", "cli/sanctions.py"}


def test_the_scanner_finds_every_kind_of_write() -> None:
    # The scan must be able to fail: each way an entry point could own a transaction is caught.
    planted = (
        "from voucher_exchange.db.uow import UnitOfWork\n"
        "from voucher_exchange.db import uow as uow_module\n"
        "def route(ctx):\n"
        "    with ctx.uow() as uow:\n"
        "        uow.after_commit(ctx.wake_workers)\n"
        "        uow.commit()\n"
        "def raw(engine):\n"
        "    conn = engine.connect()\n"
        "    conn.commit()\n"
        "class Page:\n"
        "    def save(self):\n"
        "        self.x.commit()\n"
        "def command(engine):\n"
        "    with UnitOfWork(engine) as uow:\n"
        "        pass\n"
        "    with uow_module.UnitOfWork(engine, readonly=False):\n"
        "        pass\n"
        "def explicit(ctx):\n"
        "    with ctx.uow(readonly=False):\n"
        "        pass\n"
        "def auto(engine):\n"
        "    with engine.begin() as conn:\n"
        "        pass\n"
    )
    assert transactions_in(planted, "planted.py") == [
        "planted.py:route ctx.uow()",
        "planted.py:route uow.commit()",
        "planted.py:raw conn.commit()",
        "planted.py:save self.x.commit()",
        "planted.py:command UnitOfWork(engine)",
        "planted.py:command uow_module.UnitOfWork(engine, readonly=False)",
        "planted.py:explicit ctx.uow(readonly=False)",
        "planted.py:auto engine.begin()",
    ]


def test_the_scanner_allows_reads_and_use_cases() -> None:
    allowed = (
        "from voucher_exchange.db.uow import UnitOfWork\n"
        "def screen(v):\n"
        "    with v.ctx.uow(readonly=True) as uow:\n"
        "        return uow.conn\n"
        "def listing(engine):\n"
        "    with UnitOfWork(engine, readonly=True) as uow:\n"
        "        return uow.conn\n"
        "def handler(v):\n"
        "    accounts.change_roles(v.ctx, v.user, 'id', set())\n"
        "    uow.after_commit(v.ctx.wake_workers)\n"
    )
    assert transactions_in(allowed, "allowed.py") == []
