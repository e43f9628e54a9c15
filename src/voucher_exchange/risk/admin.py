"""The operator's risk use cases: rule sets and the sanctions list, each in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from voucher_exchange.audit import service as audit
from voucher_exchange.context import Context
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.risk import repository
from voucher_exchange.risk.rules import RuleSet
from voucher_exchange.risk.sanctions import SanctionsScreen
from voucher_exchange.risk.sanctions_list import LoadSummary, load
from voucher_exchange.risk.sanctions_rescreen import RescreenSummary, rescreen, verified_customers


def publish_ruleset(ctx: Context, ruleset: RuleSet, shadow: bool, actor: str) -> None:
    """Publish a new immutable rule-set version, live or in shadow mode (audited)."""
    status = "shadow" if shadow else "live"
    now = ctx.clock.now()
    with ctx.uow() as uow:
        repository.publish(uow.conn, ruleset, status, now, actor)
        audit.record(uow.conn, actor, "risk.publish", ruleset.version, {"status": status}, now)
        uow.commit()


def set_ruleset_status(ctx: Context, version: str, status: str, actor: str) -> None:
    """Promote, shadow or retire a published version (audited)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        repository.set_status(uow.conn, version, status)
        audit.record(uow.conn, actor, "risk.status", version, {"status": status}, now)
        uow.commit()


def load_sanctions_list(
    engine: Engine, sdn_text: str, alt_text: str | None, source: str, now: datetime, actor: str
) -> LoadSummary:
    """Replace the sanctions list with an OFAC legacy CSV file (audited)."""
    with UnitOfWork(engine) as uow:
        summary = load(uow.conn, sdn_text, alt_text, source, now)
        details = {"entries": summary.entries, "names": summary.names}
        audit.record(uow.conn, actor, "sanctions.load", source, details, now)
        uow.commit()
    return summary


def rescreen_customers(
    engine: Engine, now: datetime, started: Callable[[int], None], advance: Callable[[int], None]
) -> RescreenSummary:
    """Screen every verified customer against the newest list, in one transaction.

    `started(total)` is told how many customers will be screened; `advance(n)` reports progress.
    """
    with UnitOfWork(engine) as uow:
        screen = SanctionsScreen.from_db(uow.conn)
        started(verified_customers(uow.conn))
        result = rescreen(uow.conn, screen, now, advance)
        uow.commit()
    return result
