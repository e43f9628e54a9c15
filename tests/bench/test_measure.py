"""The bench's measuring tools on real processes and a real PostgreSQL (no timings asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from bench.generator import seller_ip
from bench.phases import conninfo, statement_counts
from bench.report import BEGIN, END, write_docs
from pytest_postgresql.executors.proc import PostgreSQLExecutor

from bench import measure
from tests.support import postgres

# Burns `cpu` seconds of CPU (optionally in a child it waits for), holds `mb` MB, reports, waits.
BURNER = """
import subprocess, sys, time
cpu, mb, child = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "child"
if child:
    burn = "import time\\nwhile time.process_time() < %s: pass" % cpu
    subprocess.run([sys.executable, "-c", burn], check=True)
else:
    while time.process_time() < cpu:
        pass
held = bytearray(mb * 1024 * 1024)
del held  # returned to the system: only the peak remembers it
print(time.process_time(), flush=True)
sys.stdin.readline()
"""


def _burner(cpu: float, mb: int, child: bool) -> tuple[subprocess.Popen[str], float]:
    proc = subprocess.Popen(
        [sys.executable, "-c", BURNER, str(cpu), str(mb), "child" if child else "self"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    own = float(proc.stdout.readline())
    return proc, own


def _end(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0


def test_cpu_of_a_process_matches_what_it_measured_itself() -> None:
    proc, own = _burner(0.3, 0, child=False)
    try:
        seen = measure.cpu_seconds(proc.pid)
        assert own >= 0.3
        # /proc counts in clock ticks (10 ms); the interpreter's start-up is in both figures.
        assert abs(seen - own) <= 0.05
    finally:
        _end(proc)


def test_cpu_of_a_tree_includes_children_that_already_exited() -> None:
    proc, own = _burner(0.3, 0, child=True)
    try:
        # The parent itself burned little; its reaped child's 0.3 s is in cutime.
        assert own < 0.3
        assert measure.tree_cpu_seconds(proc.pid) >= own + 0.3 - 0.05  # tick rounding, twice
        assert measure.descendants(proc.pid) == []
    finally:
        _end(proc)


def test_descendants_and_peak_rss_of_a_live_tree(tmp_path: Path) -> None:
    script = tmp_path / "burner.py"
    script.write_text(BURNER)
    # `; exit 0` keeps the shell alive as the parent instead of exec-ing Python.
    shell = subprocess.Popen(
        ["/bin/sh", "-c", f'"{sys.executable}" "{script}" 0 64 self; exit 0'],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert shell.stdout is not None
    shell.stdout.readline()
    try:
        (child,) = measure.descendants(shell.pid)
        assert measure.peak_rss_mb(child) >= 64
        assert measure.tree_peak_rss_mb(shell.pid) == measure.peak_rss_mb(child)
        measure.reset_peak_rss(shell.pid)
        assert measure.peak_rss_mb(child) < 64
    finally:
        _end(shell)


@pytest.mark.postgres
def test_durable_server_reports_fsync_on_and_the_test_server_is_refused(
    postgres_server: PostgreSQLExecutor,
) -> None:
    def admin(server: PostgreSQLExecutor) -> str:
        return f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"

    durable = postgres.start_server(durable=True)
    try:
        assert measure.assert_durable(admin(durable)) == {
            "fsync": "on",
            "full_page_writes": "on",
            "synchronous_commit": "on",
            "wal_sync_method": measure.durability(admin(durable))["wal_sync_method"],
        }
        _statements_sent_are_counted_apart_from_the_foreign_key_checks_inside_them(durable)
    finally:
        postgres.stop_server(durable)
    assert measure.durability(admin(postgres_server))["fsync"] == "off"
    with pytest.raises(RuntimeError, match="not durable"):
        measure.assert_durable(admin(postgres_server))


def _statements_sent_are_counted_apart_from_the_foreign_key_checks_inside_them(
    server: PostgreSQLExecutor,
) -> None:
    url = postgres.create_database(server, "vx_counts")
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("CREATE TABLE parent (id int PRIMARY KEY)")
        conn.execute("CREATE TABLE child (id int PRIMARY KEY, parent int NOT NULL REFERENCES parent)")
        conn.execute("INSERT INTO parent VALUES (1)")
    # What reading the counts twice adds by itself, then the same around a transaction.
    first, second = statement_counts(url), statement_counts(url)
    with psycopg.connect(conninfo(url)) as conn:  # BEGIN, three INSERTs, COMMIT
        for n in range(3):
            conn.execute("INSERT INTO child VALUES (%s, 1)", (n,))
    third = statement_counts(url)
    assert first is not None and second is not None and third is not None
    kinds = ("statements", "control", "nested")  # transactions: the server reports them lazily
    # Each INSERT made the server check its parent row: 3 statements ran inside the 5 sent.
    assert {k: (third[k] - second[k]) - (second[k] - first[k]) for k in kinds} == {
        "statements": 5,
        "control": 2,
        "nested": 3,
    }


def test_percentiles_seller_addresses_and_the_docs_section(tmp_path: Path) -> None:
    assert measure.p50_p99([float(n) for n in range(1, 102)]) == (51.0, 100.0)
    assert len({seller_ip(n) for n in range(70_000)}) == 70_000
    assert (seller_ip(0), seller_ip(255), seller_ip(256)) == ("10.0.0.1", "10.0.1.0", "10.0.1.1")
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nkept\n")
    write_docs("first", docs)
    write_docs("second", docs)
    assert docs.read_text() == f"# Benchmarks\n\nkept\n\n## Latest run\n\n{BEGIN}\nsecond\n{END}\n"
