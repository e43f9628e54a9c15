"""The architecture, read from the source: package layering and who may change a trade's status."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.support.imports import (
    KERNEL,
    ROOT,
    all_packages,
    cycles,
    imported_modules,
    kernel_reaches_up,
    module_name,
    package_graph,
    package_of,
    source_files,
)

CORE = {"trades", "payouts", "ledger", "risk", "identity"}
TRADE_REPOSITORY = "voucher_exchange.trades.repository"
STATUS_UPDATE = re.compile(r"UPDATE\s+trades\b", re.IGNORECASE)


def _updates_trades(func: ast.expr) -> bool:
    """True when a `.values(…)` hangs off `update(trades)` (through `.where(…)` and the like)."""
    node: ast.expr | None = func
    while isinstance(node, ast.Attribute | ast.Call):
        if isinstance(node, ast.Call):
            callee = node.func
            if getattr(callee, "id", None) == "update" and node.args:
                first = node.args[0]
                return (getattr(first, "id", None) or getattr(first, "attr", None)) in {
                    "trades",
                    "trades_table",
                }
            node = callee
        else:
            node = node.value
    return False


def _writes_status(call: ast.Call) -> bool:
    keys = {k.arg for k in call.keywords}
    for arg in call.args:
        if isinstance(arg, ast.Dict):
            keys |= {k.value for k in arg.keys if isinstance(k, ast.Constant)}
    return "status" in keys


def status_writers(path: Path) -> list[str]:
    """Places in one file that write `trades.status`: `update(trades…)`, `set_status(…)` calls, raw SQL."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases = {
        alias.asname or alias.name: f"{node.module}.{alias.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "values" and _writes_status(node) and _updates_trades(func):
                found.append(f"{path.name}:{node.lineno} update(trades)")
            if name == "set_status" and isinstance(func, ast.Attribute):
                owner = getattr(func.value, "id", "")
                if aliases.get(owner) == TRADE_REPOSITORY:
                    found.append(f"{path.name}:{node.lineno} {owner}.set_status()")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and STATUS_UPDATE.search(node.value)
        ):
            found.append(f"{path.name}:{node.lineno} raw UPDATE trades")
    return sorted(found, key=lambda w: int(w.split(":")[1].split(" ")[0]))


def test_no_package_cycle_among_the_core_capabilities() -> None:
    assert cycles(package_graph(), CORE) == []


def test_no_package_cycle_among_all_packages() -> None:
    graph = package_graph()
    assert len(all_packages(graph)) > 30
    assert cycles(graph, all_packages(graph)) == []


def test_the_kernel_imports_no_capability() -> None:
    graph = package_graph()
    assert {package_of(module_name(p)) for p in source_files()} >= KERNEL
    assert kernel_reaches_up(graph) == {}


def test_the_graph_checks_can_fail() -> None:
    # A planted cycle through the kernel, the shape of the old service locator.
    planted = {"context": {"db", "issuers"}, "issuers": {"errors", "context"}, "trades": {"context"}}
    assert cycles(planted, all_packages(planted)) == [["context", "issuers", "context"]]
    assert kernel_reaches_up(planted) == {"context": {"issuers"}}


def test_money_flows_one_way_trades_then_payouts_then_ledger() -> None:
    graph = package_graph()
    assert graph["ledger"] & {"trades", "payouts", "risk", "identity", "review", "reconcile", "jobs"} == set()
    assert "trades" not in graph["payouts"]
    assert "trades" not in graph["risk"]
    assert graph["risk"] & {"identity", "worker", "review"} == set()


def test_only_the_trade_lifecycle_writes_a_trade_status() -> None:
    allowed = {ROOT / "trades" / "lifecycle.py"}
    offenders = []
    for path in source_files():
        writes = status_writers(path)
        if path == ROOT / "trades" / "repository.py":
            # The one conditional UPDATE of the status lives in the repository's `set_status`.
            assert len([w for w in writes if "update(trades)" in w]) == 1
            continue
        if path not in allowed:
            offenders += writes
    assert offenders == []
    # The repository's status setter is called from the lifecycle module and nowhere else.
    callers = sorted(
        module_name(p)
        for p in source_files()
        if "set_status" in p.read_text(encoding="utf-8")
        and any("set_status()" in w for w in status_writers(p))
    )
    assert callers == ["voucher_exchange.trades.lifecycle"]


def test_the_scanner_finds_a_status_write(tmp_path: Path) -> None:
    # The scan must be able to fail: each way of writing a status is caught.
    rogue = tmp_path / "rogue.py"
    rogue.write_text(
        "from sqlalchemy import update\n"
        "from voucher_exchange.db.schema import trades\n"
        "from voucher_exchange.trades import repository as trade_repo\n"
        "from voucher_exchange.catalog import repository\n"
        "def a(conn):\n"
        "    conn.execute(update(trades).where(trades.c.id == 't').values(status='paid'))\n"
        "    conn.execute(update(trades).values(voucher_enc=b'x'))\n"
        "def b(conn):\n"
        "    trade_repo.set_status(conn, 't', 'x', 'y', None)\n"
        "    repository.set_status(conn, 'brand', 'paused', None)\n"
        "def c(conn):\n"
        "    conn.exec_driver_sql(\"UPDATE trades SET status = 'paid'\")\n",
        encoding="utf-8",
    )
    assert [w.split(" ", 1)[1] for w in status_writers(rogue)] == [
        "update(trades)",
        "trade_repo.set_status()",
        "raw UPDATE trades",
    ]


def test_the_import_reader_sees_submodule_imports() -> None:
    pipeline = ROOT / "trades" / "pipeline.py"
    assert "voucher_exchange.payouts.service" in imported_modules(pipeline)
