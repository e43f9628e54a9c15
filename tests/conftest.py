"""Shared fixtures: the exchange over real HTTP, on a real SQLite file and a real PostgreSQL server.

Which database a test runs on is the `backend` fixture (`exchange`, `core`, `mailed` and the
files' own database fixtures ask it). A test runs on SQLite only unless it is marked
`both_backends` (or lives in a directory of BOTH_BACKENDS_BY_DEFAULT): then it runs on SQLite
and on PostgreSQL. Mark a test `both_backends` when the dialect matters — the ledger, jobs and
the queue, the trade pipeline, payouts, idempotency, reconciliation, concurrency and races,
migrations, SQL the databases could answer differently; pages, account flows and other
behaviour run on SQLite only. README.md ("Tests and benchmarks") lists what runs where.

In CI (`CI=true`) the session fails if no PostgreSQL test ran, so a missing server cannot
pass silently; the same holds for the web app's tests in headless Chromium.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_postgresql.executors.proc import PostgreSQLExecutor

from tests.support import postgres
from tests.support.core import Core, running_core
from tests.support.exchange import Exchange, Seller, make_seller, running_exchange
from tests.support.hashing import PRODUCTION_HASHER, TEST_HASHER, use_hasher
from tests.support.live_server import live_server
from voucher_exchange.bootstrap import build_sandbox
from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="pg", marks=pytest.mark.postgres),
]
# Directories whose tests run on both databases without a marker (schema and dialect tests).
BOTH_BACKENDS_BY_DEFAULT = ("tests/db/",)
_ran_on_postgres = 0
_ran_in_browser = 0


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """Hash passwords at the test cost in this process (tests/support/hashing.py says why)."""
    use_hasher(TEST_HASHER)
    yield
    use_hasher(PRODUCTION_HASHER)


@pytest.fixture
def production_password_hashing(cheap_password_hashing: None) -> Iterator[None]:
    """The shipped argon2id cost for one test (e.g. a flood that must find the hashing pool busy)."""
    use_hasher(PRODUCTION_HASHER)
    yield
    use_hasher(TEST_HASHER)


def backends_for(item: pytest.Item | pytest.Function) -> list[object]:
    """SQLite, and PostgreSQL too for a test marked `both_backends` (or in a BOTH_BACKENDS_BY_DEFAULT dir)."""
    path = item.nodeid.split("::")[0]
    if item.get_closest_marker("both_backends") or path.startswith(BOTH_BACKENDS_BY_DEFAULT):
        return list(BACKENDS)
    return [BACKENDS[0]]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `backend` for every test that uses it (directly or through a fixture).

    A test that parametrizes `backend` itself (`@pytest.mark.parametrize("backend", …)`) keeps
    its own values.
    """
    if "backend" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if "backend" in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return
    metafunc.parametrize("backend", backends_for(metafunc.definition), indirect=True, scope="module")


@pytest.fixture(scope="module")
def backend(request: pytest.FixtureRequest) -> str:
    """The database this test runs on: "sqlite", or "postgresql" (see `both_backends`)."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgreSQLExecutor]:
    """One PostgreSQL server for the session (started only if a test needs it)."""
    server = postgres.start_server()
    yield server
    postgres.stop_server(server)


def database_url(request: pytest.FixtureRequest, backend: str, directory: Path, name: str) -> str:
    """A fresh, empty database of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{directory}/{name}.db"
    server: PostgreSQLExecutor = request.getfixturevalue("postgres_server")
    return postgres.create_database(server, name)


@pytest.fixture(scope="session")
def migrated_templates() -> dict[str, str]:
    """Per backend, the URL of a database migrated to the newest revision once this session."""
    return {}


def migrated_database_url(request: pytest.FixtureRequest, backend: str, directory: Path, name: str) -> str:
    """A fresh database of the given backend at the newest revision.

    It is a copy of a template that the real migrations brought to the head once per
    session (and per backend): migrating takes about a second a database, copying a few
    milliseconds. Callers still run `migrate.upgrade`, which then finds nothing to do.
    """
    templates: dict[str, str] = request.getfixturevalue("migrated_templates")
    if backend not in templates:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        template_url = database_url(request, backend, factory.mktemp("template"), "vx_template")
        engine = make_engine(template_url)
        migrate.upgrade(engine)
        engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it
        templates[backend] = template_url
    if backend == "sqlite":
        target = directory / f"{name}.db"
        source = sqlite3.connect(templates[backend].removeprefix("sqlite:///"))
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return f"sqlite:///{target}"
    server: PostgreSQLExecutor = request.getfixturevalue("postgres_server")
    return postgres.create_database(server, name, template="vx_template")


def _session_exchange(request: pytest.FixtureRequest, backend: str) -> Iterator[Exchange]:
    factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
    var_dir = factory.mktemp(f"var-{backend}")
    with running_exchange(var_dir, migrated_database_url(request, backend, var_dir, "vx_e2e")) as running:
        yield running


@pytest.fixture(scope="session")
def sqlite_exchange(request: pytest.FixtureRequest) -> Iterator[Exchange]:
    """The session's exchange on SQLite (see `exchange`)."""
    yield from _session_exchange(request, "sqlite")


@pytest.fixture(scope="session")
def postgresql_exchange(
    request: pytest.FixtureRequest, postgres_server: PostgreSQLExecutor
) -> Iterator[Exchange]:
    """The session's exchange on PostgreSQL (see `exchange`); stops before the server does."""
    yield from _session_exchange(request, "postgresql")


@pytest.fixture
def exchange(request: pytest.FixtureRequest, backend: str) -> Exchange:
    """The exchange (API + in-process workers) and sandboxes, over real HTTP: one per backend.

    Each backend's exchange starts on first use and serves the rest of the session. They are
    two session fixtures rather than one parametrized by backend because pytest keeps one
    value of a parametrized fixture at a time: under pytest-xdist, where each worker runs
    whole files (each file's SQLite tests, then its PostgreSQL ones), a parametrized exchange
    was stopped and started again at every switch.
    """
    running: Exchange = request.getfixturevalue(f"{backend}_exchange")
    return running


@pytest.fixture(scope="session")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One sandbox server per process (per xdist worker), its state in this worker's temp dir.

    `core` tests share it: each mints its own vouchers and registers its own random bank
    accounts, and asks the sandbox only about those. Tests that read the sandbox as a whole
    (a day's statements, every chargeback) are marked `fresh_sandbox` and get their own.
    """
    var_dir = tmp_path_factory.mktemp("core-sandbox")
    with live_server(build_sandbox(var_dir, hang_seconds=2.0)) as url:
        yield url


@pytest.fixture
def core(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Core]:
    """The service layer on a fresh database of the test's backend, sandboxes over HTTP, no API, no worker.

    The database is new for every test; the sandbox is the worker's shared one unless the
    test is marked `fresh_sandbox`.
    """
    url = migrated_database_url(request, backend, tmp_path, "vx_core")
    fresh = request.node.get_closest_marker("fresh_sandbox") is not None
    sandbox_url = None if fresh else request.getfixturevalue("shared_sandbox")
    with running_core(tmp_path, url, sandbox_url) as running:
        yield running


@pytest.fixture
def seller(exchange: Exchange) -> Seller:
    """A fresh verified seller with a verified bank account."""
    return make_seller(exchange)


@pytest.fixture
def shift_clock(exchange: Exchange) -> Iterator[Callable[[float], None]]:
    """Move the exchange's clock forward by some seconds for one test."""

    def shift(seconds: float) -> None:
        exchange.clock.offset += timedelta(seconds=seconds)

    yield shift
    exchange.reset_clock()


# Each file's recorded seconds (setup + call + teardown of its tests in one `make test`),
# refreshed by `make timings` (`--record-timings`). `make test` sends whole files to its two
# workers in collection order (--dist loadfile --no-loadscope-reorder), each worker taking the
# next file as it finishes one: longest first, so the long files start at once on both workers
# and the short ones fill in at the end, and the two finish together. A file not yet recorded
# goes first (it may be long; if it is short, it costs nothing there).
TIMINGS = Path(__file__).with_name("timings.json")
_file_seconds: dict[str, float] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-timings",
        action="store_true",
        help="write each test file's duration in this run to tests/timings.json (make timings)",
    )


def recorded_timings() -> dict[str, float]:
    """File path -> seconds from tests/timings.json (empty when there is none)."""
    if not TIMINGS.exists():
        return {}
    timings: dict[str, float] = json.loads(TIMINGS.read_text())
    return timings


@pytest.hookimpl(trylast=True)  # after pytest has grouped the tests by their fixtures' parameters
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    recorded = recorded_timings()

    def longest_first(item: pytest.Item) -> float:
        return -recorded.get(item.nodeid.split("::")[0], math.inf)

    items.sort(key=longest_first)  # stable: within a file the order stays


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    global _ran_on_postgres, _ran_in_browser  # noqa: PLW0603  # session-wide tallies read once at the end
    path = report.nodeid.split("::")[0]
    _file_seconds[path] = _file_seconds.get(path, 0.0) + report.duration
    if report.when == "call" and report.passed and "postgres" in report.keywords:
        _ran_on_postgres += 1
    if report.when == "call" and report.passed and "browser" in report.keywords:
        _ran_in_browser += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # .ci/run reads this line: a CI run in which no browser test passed is a failure.
    # Under pytest-xdist this runs on the controller, which counts every worker's reports.
    terminalreporter.write_line(f"browser tests passed: {_ran_in_browser}")


def _record_timings(root: Path) -> None:
    """Merge this run's per-file seconds into tests/timings.json; forget files that are gone."""
    timings = recorded_timings() | {path: round(seconds, 1) for path, seconds in _file_seconds.items()}
    kept = {path: timings[path] for path in sorted(timings) if (root / path).exists()}
    TIMINGS.write_text(json.dumps(kept, indent=1) + "\n")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        # A pytest-xdist worker runs part of the suite; its reports reach the controller's
        # pytest_runtest_logreport, so the controller tallies the whole run and decides here.
        return
    if session.config.getoption("record_timings") and _file_seconds:
        _record_timings(session.config.rootpath)
    # A run of some files (`make fuzz`) or of a selection (-m, -k) need not include every kind;
    # the whole suite (`make test`, no paths: pytest's testpaths) must.
    selected = (
        session.config.option.markexpr
        or session.config.option.keyword
        or session.config.args_source is not pytest.Config.ArgsSource.TESTPATHS
    )
    if os.environ.get("CI") and not selected and session.testscollected and _ran_on_postgres == 0:
        print("\nCI: no PostgreSQL test ran; the PostgreSQL run is mandatory")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if os.environ.get("CI") and not selected and session.testscollected and _ran_in_browser == 0:
        print("\nCI: no browser test ran; the Chromium run is mandatory")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
