"""The collaborators every use case needs, built once per process by `bootstrap`.

Kernel: it knows the ports (`voucher_exchange.ports`), never a capability package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from voucher_exchange.clock import Clock
from voucher_exchange.config import Settings
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.ports.anchors import AnchorStore
from voucher_exchange.ports.identity import IdentityProvider
from voucher_exchange.ports.issuer import Issuer
from voucher_exchange.ports.mailer import Mailer
from voucher_exchange.ports.rail import PayoutRail
from voucher_exchange.ports.webhooks import WebhookSender
from voucher_exchange.security.vault import Vault


@dataclass
class Context:
    """Settings, database, clock, secrets and the outside world's adapters."""

    settings: Settings
    engine: Engine
    clock: Clock
    vault: Vault
    issuer: Issuer
    rail: PayoutRail
    identity: IdentityProvider
    # Where signed audit anchors go: outside the database, append only.
    anchors: AnchorStore
    mailer: Mailer | None = None
    # Posts signed webhook deliveries (the guarded client; a test may swap its resolver).
    webhooks: WebhookSender | None = None
    # Demo only: where the sandboxes answer, for the web's sandbox helper (`/demo/sandbox`).
    sandbox_url: str | None = None
    # Set after commits that enqueue jobs, so an in-process worker wakes at once.
    job_signal: threading.Event = field(default_factory=threading.Event)
    on_close: list[Callable[[], None]] = field(default_factory=list)

    def uow(self, readonly: bool = False) -> UnitOfWork:
        """A new unit of work (one transaction)."""
        return UnitOfWork(self.engine, readonly=readonly)

    def wake_workers(self) -> None:
        """Tell in-process workers there is new work."""
        self.job_signal.set()

    def close(self) -> None:
        """Release adapters and the engine."""
        for closer in self.on_close:
            closer()
        self.engine.dispose()
