"""What the bench measures with: CPU and peak memory of process trees from /proc, the
database's durability settings, the machine, percentiles.

CPU of a process tree = utime + stime of every live process in it, plus cutime + cstime
(children that already exited and were reaped). PostgreSQL's postmaster reaps its
backends, so a backend that comes and goes inside the window is still counted.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import quantiles

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): field 3 onwards."""
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process and of its reaped children, in seconds."""
    fields = _stat_fields(pid)
    # Fields 14–17 of proc(5) (utime, stime, cutime, cstime) are 11–14 after the name.
    return sum(int(v) for v in fields[11:15]) / TICKS


def descendants(root: int) -> list[int]:
    """Every live process under `root` (children, grandchildren, …)."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        found.extend(kids)
        frontier.extend(kids)
    return found


def tree_cpu_seconds(root: int) -> float:
    """CPU of `root` and everything under it, exited children included."""
    total = 0.0
    for pid in [root, *descendants(root)]:
        try:
            total += cpu_seconds(pid)
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited between listing and reading: its CPU is now in its parent's cutime
    return total


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_peak_rss_mb(root: int) -> float:
    """The largest VmHWM among `root` and its live descendants, in MB."""
    peaks = []
    for pid in [root, *descendants(root)]:
        try:
            peaks.append(peak_rss_mb(pid))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return max(peaks, default=0.0)


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS), in MB."""
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss(root: int) -> None:
    """Start VmHWM afresh for `root` and its descendants (Linux: write 5 to clear_refs)."""
    for pid in [root, *descendants(root)]:
        try:
            (PROC / str(pid) / "clear_refs").write_text("5")
        except (FileNotFoundError, ProcessLookupError):
            continue


DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


def durability(conninfo: str) -> dict[str, str]:
    """PostgreSQL's durability settings as the server reports them (pg_settings)."""
    names = [*DURABLE, "wal_sync_method"]
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", (names,)).fetchall()
    return {str(name): str(setting) for name, setting in rows}


def assert_durable(conninfo: str) -> dict[str, str]:
    """The durability settings; raises unless every commit reaches the disk."""
    settings = durability(conninfo)
    wrong = {k: settings.get(k) for k, v in DURABLE.items() if settings.get(k) != v}
    if wrong:
        raise RuntimeError(f"PostgreSQL is not durable: {wrong} (want {DURABLE})")
    return settings


@dataclass(frozen=True)
class Machine:
    """Where the figures were measured."""

    cores: int
    memory_gb: float
    cpu_model: str
    kernel: str
    date: str


def machine() -> Machine:
    """This machine: nproc, total memory, CPU model, kernel, and today's date (UTC)."""
    model = "unknown"
    for line in (PROC / "cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in (PROC / "meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return Machine(
        cores=len(os.sched_getaffinity(0)),
        memory_gb=memory_kb / 1024 / 1024,
        cpu_model=model,
        kernel=platform.release(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def p50_p99(values: list[float]) -> tuple[float, float]:
    """Median and 99th percentile (inclusive method); (nan, nan) for fewer than two values."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    cuts = quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[98]
