"""Builds a process's Context from Settings: engine, key, adapters. The composition root."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from voucher_exchange.audit.anchor_files import AnchorDirectory
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import CodeFormat
from voucher_exchange.clock import Clock, SystemClock
from voucher_exchange.config import Settings
from voucher_exchange.context import Context
from voucher_exchange.db.engine import make_engine
from voucher_exchange.identity.http import HttpIdentityProvider
from voucher_exchange.issuers.http import HttpIssuer
from voucher_exchange.jobs import queue
from voucher_exchange.notifications.smtp import SmtpMailer
from voucher_exchange.payouts.http_rail import HttpPayoutRail
from voucher_exchange.sandbox.app import create_sandbox_app
from voucher_exchange.sandbox.inprocess import (
    InProcessIdentityProvider,
    InProcessIssuer,
    InProcessPayoutRail,
    Sandboxes,
)
from voucher_exchange.sandbox.issuer import SandboxBrand
from voucher_exchange.security import passwords
from voucher_exchange.security.files import secure_var_dir
from voucher_exchange.security.vault import Vault, load_or_create_master_key
from voucher_exchange.trades.models import NOTIFY_TRADE
from voucher_exchange.trust import service as trust
from voucher_exchange.webhooks.http import SafeWebhookSender


def build_context(
    settings: Settings, sandbox_url: str, clock: Clock | None = None, sandboxes: Sandboxes | None = None
) -> Context:
    """Everything a use case needs, wired to the database and the adapters at `sandbox_url`.

    `sandboxes`: the embedded demo's own mounted sandboxes, called in-process instead of over
    loopback HTTP (`serve --demo` only; the HTTP adapters are the production path).
    """
    secure_var_dir(settings.var_dir)
    passwords.configure(settings.password_hash_slots)
    engine = make_engine(settings.database_url)
    if not settings.smtp_host:
        # No mail server: a notice job would be claimed and finished with nothing sent.
        engine = engine.execution_options(**{queue.SKIP_KINDS: frozenset({NOTIFY_TRADE})})
    key = load_or_create_master_key(settings.key_path, create=settings.demo)
    timeout = settings.http_timeout_seconds
    made: list[Context] = []  # the context, once built: the mailer reads the service name through it
    issuer: HttpIssuer | InProcessIssuer
    rail: HttpPayoutRail | InProcessPayoutRail
    identity: HttpIdentityProvider | InProcessIdentityProvider
    if sandboxes is not None:
        issuer = InProcessIssuer(sandboxes, timeout)
        rail = InProcessPayoutRail(sandboxes, timeout)
        identity = InProcessIdentityProvider(sandboxes, timeout)
    else:
        issuer = HttpIssuer(sandbox_url, timeout)
        rail = HttpPayoutRail(sandbox_url, timeout)
        identity = HttpIdentityProvider(sandbox_url, timeout)
    mailer = (
        SmtpMailer(
            settings.smtp_host, settings.smtp_port, settings.mail_from, timeout, lambda: _service_name(made)
        )
        if settings.smtp_host
        else None
    )
    ctx = Context(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        vault=Vault(key),
        issuer=issuer,
        rail=rail,
        identity=identity,
        anchors=AnchorDirectory(settings.audit_anchor_path),
        mailer=mailer,
        webhooks=SafeWebhookSender(
            # Below the job lease, so no second worker sends an attempt while the first still waits.
            min(settings.webhook_timeout_seconds, 0.8 * settings.job_lease_seconds),
            settings.webhook_private_targets,
            # Plain http to the sandbox receiver, where private targets are allowed (demo, tests).
            http_hosts=[urlsplit(sandbox_url).hostname or ""],
        ),
        sandbox_url=sandbox_url if settings.demo else None,
    )
    made.append(ctx)
    ctx.on_close.extend([issuer.close, rail.close, identity.close])
    if mailer is not None:
        ctx.on_close.append(mailer.close)
    return ctx


def _service_name(made: list[Context]) -> str:
    """The operator's service name for an e-mail (the software's name while the database is away)."""
    try:
        with made[0].uow(readonly=True) as uow:
            return trust.profile(uow.conn).display_name
    except SQLAlchemyError:
        return "voucher-exchange"


def sandbox_brands() -> dict[str, SandboxBrand]:
    """The simulated issuers know every brand of the default catalog, in both currencies."""
    return {
        b["slug"]: SandboxBrand(b["currency"], CodeFormat.from_json(b["code_format"]).generate)
        for b in catalog.default_catalog()["brands"]
    }


def build_sandbox(var_dir: Path, hang_seconds: float = 10.0, clock: Clock | None = None) -> FastAPI:
    """The sandbox app with its state under `var_dir/sandbox` (on `clock`, else the system's)."""
    brands = sandbox_brands()
    return create_sandbox_app(var_dir / "sandbox", brands.get, hang_seconds, clock=clock)
