"""The package import graph of `voucher_exchange`, read from the source with `ast` (nothing is imported)."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "src" / "voucher_exchange"
PREFIX = "voucher_exchange."
# The kernel: what every capability may use and what knows no capability. `ports` holds the
# interfaces to the outside world; `context` carries one adapter per port, built by `bootstrap`.
KERNEL = frozenset(
    {"context", "ports", "db", "jobs", "audit", "security", "money", "clock", "config", "errors"}
    | {"faults", "metrics", "logs", "i18n", "korean"}  # small capability-free helpers
)


def module_name(path: Path) -> str:
    """`voucher_exchange.trades.pipeline` for `src/voucher_exchange/trades/pipeline.py`."""
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    """Every module of the package except migrations (they are frozen history)."""
    return sorted(p for p in ROOT.rglob("*.py") if "migrations" not in p.parts)


def imported_modules(path: Path) -> set[str]:
    """The `voucher_exchange` modules one file imports (at any depth, typing-only included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PREFIX):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(PREFIX))
    return found


def package_of(module: str) -> str:
    """The capability package a module belongs to (`trades` for `voucher_exchange.trades.pipeline`)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph() -> dict[str, set[str]]:
    """package → the other packages it imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    known = {package_of(module_name(p)) for p in source_files()}
    for path in source_files():
        source = package_of(module_name(path))
        for module in imported_modules(path):
            target = package_of(module)
            if target != source and target in known:
                graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]], among: set[str]) -> list[list[str]]:
    """Every elementary cycle between the named packages (small graphs: a plain DFS)."""
    found: list[list[str]] = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, set()) & among):
            if nxt == start:
                found.append([*path, start])
            elif nxt not in path and nxt > start:
                walk(start, nxt, [*path, nxt])

    for start in sorted(among):
        walk(start, start, [start])
    return found


def all_packages(graph: dict[str, set[str]]) -> set[str]:
    """Every package the graph names, importing or imported."""
    return set(graph) | {target for targets in graph.values() for target in targets}


def kernel_reaches_up(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """kernel package → the capability packages it imports (empty when the kernel holds)."""
    return {p: graph.get(p, set()) - KERNEL for p in sorted(KERNEL) if graph.get(p, set()) - KERNEL}


if __name__ == "__main__":
    graph = package_graph()
    for package, targets in sorted(graph.items()):
        mark = "  (kernel)" if package in KERNEL else ""
        print(f"{package:14} -> {', '.join(sorted(targets))}{mark}")
    found = cycles(graph, all_packages(graph))
    print(f"cycles among all {len(all_packages(graph))} packages: {len(found)}")
    for cycle in found:
        print("  " + " -> ".join(cycle))
    upward = kernel_reaches_up(graph)
    print(
        "kernel imports a capability: "
        + ("; ".join(f"{k} -> {sorted(v)}" for k, v in upward.items()) or "no")
    )
