"""`serve`, `worker`, `migrate`: the processes."""

from __future__ import annotations

import os
import signal
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from prometheus_client import start_http_server

from voucher_exchange import logs
from voucher_exchange.api.app import create_app
from voucher_exchange.bootstrap import build_sandbox
from voucher_exchange.cli.common import (
    DEFAULT_SANDBOX,
    RUNNING_SANDBOX_FILE,
    DatabaseUrl,
    SandboxUrl,
    build,
    console,
    settings,
)
from voucher_exchange.config import Settings
from voucher_exchange.db import migrate as migrations
from voucher_exchange.db.engine import make_engine
from voucher_exchange.demo import DEMO_TOTP_SECRET, enrol_demo_staff, seed
from voucher_exchange.malloc import cap_arenas
from voucher_exchange.notifications.local import start_local_smtp
from voucher_exchange.worker.runner import start_threads


def serve(
    demo: Annotated[
        bool, typer.Option("--demo", help="Embedded default: SQLite, sandboxes, demo data.")
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="PORT", help="Port to listen on.")] = 8000,
    database_url: DatabaseUrl = None,
    sandbox_url: SandboxUrl = None,
    jurisdiction: Annotated[
        str | None, typer.Option(envvar="VX_JURISDICTION", help="KR (KRW, default) or US (USD).")
    ] = None,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Run workers as separate processes.")
    ] = False,
    workers: Annotated[int, typer.Option(help="In-process worker threads.")] = 2,
) -> None:
    """Run the HTTP API (and, with --demo, everything else in one process)."""
    cap_arenas()  # before the first thread (the SMTP catcher, the workers, the thread pool)
    logs.configure()
    _trace_memory_if_asked()
    cfg = settings(
        database_url,
        jurisdiction=jurisdiction.upper() if jurisdiction else None,
        demo=demo,
        # The demo's partners are on this machine (the sandbox receiver, a local script).
        webhook_private_targets=True if demo else None,
    )
    if cfg.public_url == Settings.public_url:
        cfg = cfg.with_overrides(public_url=f"http://{host}:{port}")
    mail = None
    if demo and not cfg.smtp_host:
        # The demo catches its own e-mail: a local SMTP server writing .eml files to var/mail/.
        controller, _, smtp_port = start_local_smtp(folder=cfg.var_dir / "mail")
        mail = controller
        cfg = cfg.with_overrides(smtp_host="127.0.0.1", smtp_port=smtp_port)
    mounted = demo and not (sandbox_url or cfg.sandbox_url)
    local = f"http://127.0.0.1:{port}/sandbox"
    # The mounted sandboxes stay reachable over HTTP; this process's own adapters call them in-process.
    sandbox = build_sandbox(cfg.var_dir) if mounted else None
    ctx = build(
        cfg,
        local if mounted else (sandbox_url or cfg.sandbox_url or DEFAULT_SANDBOX),
        sandbox.state.sandboxes if sandbox is not None else None,
    )
    if demo:
        migrations.upgrade(ctx.engine)
        login = seed(ctx)
        enrol_demo_staff(ctx)
    elif not migrations.is_current(ctx.engine):
        console.print("[red]The database schema is not current.[/red] Run: voucher-exchange migrate")
        raise typer.Exit(2)
    app = create_app(ctx, sandbox, 0 if no_worker else workers)
    console.print(f"[bold green]voucher-exchange[/bold green] on http://{host}:{port}  (API docs: /docs)")
    if mail is not None:
        console.print(f"  e-mails to sellers: {cfg.var_dir / 'mail'}/ (local SMTP on port {cfg.smtp_port})")
    console.print(f"  database: {cfg.database_url}   jurisdiction: {cfg.jurisdiction} ({cfg.currency})")
    if demo:
        console.print(f"  demo operator: {login.email} / {login.password}")
        console.print(f"  demo reviewer: {login.reviewer_email} / {login.reviewer_password}")
        console.print(
            f"  demo staff two-factor key (both): {DEMO_TOTP_SECRET}  (add it to an authenticator app)"
        )
    if mounted:
        console.print(f"  sandboxes: {local}")
        # For `voucher-exchange sandbox mint` in another terminal (this port, not 8000).
        (cfg.var_dir / RUNNING_SANDBOX_FILE).write_text(local + "\n", encoding="utf-8")
    watch = getattr(app.state, "trade_watch", None)
    _Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning"), watch.close if watch else None
    ).run()
    ctx.close()
    if mail is not None:
        mail.stop()


def _trace_memory_if_asked() -> None:
    """VX_TRACEMALLOC=1 (the soak, bench/soak.py): trace allocations; each SIGUSR1 writes a
    snapshot to var/tracemalloc-<n>.snap (then an empty .done beside it)."""
    if os.environ.get("VX_TRACEMALLOC") != "1":
        return
    tracemalloc.start(12)
    taken = [0]

    def snapshot(*_: object) -> None:
        taken[0] += 1
        path = Path(os.environ.get("VX_VAR_DIR", "var")) / f"tracemalloc-{taken[0]}.snap"
        tracemalloc.take_snapshot().dump(str(path))
        path.with_suffix(".done").touch()

    signal.signal(signal.SIGUSR1, snapshot)


class _Server(uvicorn.Server):
    """uvicorn, ending the trade pages' event streams at the signal: it waits for open
    responses before it stops, and a stream would otherwise keep it waiting."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._on_exit is not None:
            self._on_exit()
        super().handle_exit(sig, frame)


def worker(
    database_url: DatabaseUrl = None,
    sandbox_url: SandboxUrl = None,
    concurrency: Annotated[int, typer.Option(help="Worker threads in this process.")] = 2,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics of this worker on this port.")
    ] = None,
) -> None:
    """Run background workers until SIGINT/SIGTERM; in-flight jobs finish first."""
    cap_arenas()  # before the first thread (metrics, the workers and their call pools)
    logs.configure()
    cfg = settings(database_url)
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1")
    ctx = build(cfg, sandbox_url or cfg.sandbox_url or DEFAULT_SANDBOX)
    stop = threading.Event()

    def _stop(*_: object) -> None:
        stop.set()
        ctx.wake_workers()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    threads = start_threads(ctx, concurrency, stop)
    console.print(f"worker running ({concurrency} threads) on {cfg.database_url}; Ctrl-C to stop")
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=0.5)
    ctx.close()


def migrate(database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to date."""
    cfg = settings(database_url)
    engine = make_engine(cfg.database_url)
    migrations.upgrade(engine)
    console.print("[green]schema is current[/green]")
    engine.dispose()
