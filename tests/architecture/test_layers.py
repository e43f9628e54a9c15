"""The architecture, read from the source: package layering and who may change a trade's status."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
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
from tests.support.ownership import schema_tables, table_resolver

CORE = {"trades", "payouts", "ledger", "risk", "identity"}
TRADE_REPOSITORY = "voucher_exchange.trades.repository"
STATUS_UPDATE = re.compile(r"UPDATE\s+trades\b", re.IGNORECASE)
TABLES = schema_tables((ROOT / "db" / "schema.py").read_text(encoding="utf-8"))


def _updates_trades(func: ast.expr, table_of: Callable[[ast.expr], frozenset[str]]) -> bool:
    """True when a `.values(…)` hangs off `update(trades)` or `trades.update()` (through `.where(…)`
    and the like), however `trades` was reached (`sa.update(t)`, `schema.trades.update()`)."""
    node: ast.expr | None = func
    while isinstance(node, ast.Attribute | ast.Call):
        if isinstance(node, ast.Call):
            callee = node.func
            name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
            if name == "update" and node.args:
                return "trades" in table_of(node.args[0])
            if name == "update" and isinstance(callee, ast.Attribute) and not node.args:
                return "trades" in table_of(callee.value)
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


def _repository_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names bound to the trade repository module, names bound to its `set_status`)."""
    modules: set[str] = set()
    setters: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full == TRADE_REPOSITORY:
                    modules.add(alias.asname or alias.name)
                elif full == f"{TRADE_REPOSITORY}.set_status":
                    setters.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == TRADE_REPOSITORY:
                    modules.add(alias.asname or alias.name)
    return modules, setters


def status_writers(path: Path) -> list[str]:
    """Places in one file that write `trades.status`: `update(trades…)`, `set_status(…)` calls, raw SQL."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    table_of = table_resolver(tree, TABLES)
    modules, setters = _repository_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "values" and _writes_status(node) and _updates_trades(func, table_of):
                found.append(f"{path.name}:{node.lineno} update(trades)")
            if name == "set_status" and isinstance(func, ast.Attribute):
                owner = ast.unparse(func.value)
                if owner in modules:
                    found.append(f"{path.name}:{node.lineno} {owner}.set_status()")
            if isinstance(func, ast.Name) and func.id in setters:
                found.append(f"{path.name}:{node.lineno} {func.id}()")
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


def test_the_scanner_finds_every_other_way_of_writing_a_status(tmp_path: Path) -> None:
    # Five forms that once walked around this test, each planted in a module of its own.
    forms = {
        "sa_alias": "import sqlalchemy as sa\nfrom voucher_exchange.db import schema\n"
        "t = schema.trades\ndef f(conn):\n    conn.execute(sa.update(t).values(status='paid'))\n",
        "table_update": "from voucher_exchange.db import schema\n"
        "def f(conn):\n    conn.execute(schema.trades.update().values(status='paid'))\n",
        "direct_setter": "from voucher_exchange.trades.repository import set_status\n"
        "def f(conn):\n    set_status(conn, 't', 'x', 'y', None)\n",
        "module_alias": "import voucher_exchange.trades.repository as repo\n"
        "def f(conn):\n    repo.set_status(conn, 't', 'x', 'y', None)\n",
        "dict_values": "from sqlalchemy import update\nfrom voucher_exchange.db.schema import trades\n"
        "def f(conn):\n    conn.execute(update(trades).values({'status': 'paid'}))\n",
    }
    found = {}
    for name, source in forms.items():
        rogue = tmp_path / f"{name}.py"
        rogue.write_text(source, encoding="utf-8")
        found[name] = [w.split(" ", 1)[1] for w in status_writers(rogue)]
    assert found == {
        "sa_alias": ["update(trades)"],
        "table_update": ["update(trades)"],
        "direct_setter": ["set_status()"],
        "module_alias": ["repo.set_status()"],
        "dict_values": ["update(trades)"],
    }
