"""Risk SQL: rule-set versions, labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import risk_rulesets, trade_labels
from voucher_exchange.errors import Conflict, NotFound
from voucher_exchange.risk import rules
from voucher_exchange.risk.rules import RuleSet


def publish(conn: Connection, ruleset: RuleSet, status: str, now: datetime, actor: str) -> None:
    """Store a new version (immutable). Publishing `live` retires the previous live version."""
    exists = conn.execute(
        select(risk_rulesets.c.version).where(risk_rulesets.c.version == ruleset.version)
    ).first()
    if exists:
        raise Conflict("ruleset_version_exists", f"Version {ruleset.version} exists; versions are immutable.")
    if status == "live":
        conn.execute(update(risk_rulesets).where(risk_rulesets.c.status == "live").values(status="retired"))
    conn.execute(
        insert(risk_rulesets).values(
            version=ruleset.version, rules=ruleset.as_json(), status=status, created_at=now, created_by=actor
        )
    )


def set_status(conn: Connection, version: str, status: str) -> None:
    """Promote a version to live (retiring the old live one), to shadow, or retire it."""
    if (
        conn.execute(select(risk_rulesets.c.version).where(risk_rulesets.c.version == version)).first()
        is None
    ):
        raise NotFound("ruleset_unknown", f"There is no rule set {version!r}.")
    if status == "live":
        conn.execute(update(risk_rulesets).where(risk_rulesets.c.status == "live").values(status="retired"))
    conn.execute(update(risk_rulesets).where(risk_rulesets.c.version == version).values(status=status))


def live(conn: Connection) -> RuleSet:
    """The live rule set (the shipped default until one is published)."""
    row = conn.execute(select(risk_rulesets.c.rules).where(risk_rulesets.c.status == "live")).first()
    return rules.parse(row.rules) if row else rules.default_ruleset()


def shadows(conn: Connection) -> list[RuleSet]:
    """Candidate rule sets running beside the live one."""
    rows = conn.execute(select(risk_rulesets.c.rules).where(risk_rulesets.c.status == "shadow"))
    return [rules.parse(r.rules) for r in rows]


def listing(conn: Connection) -> list[Any]:
    """Every version with its status."""
    return list(conn.execute(select(risk_rulesets).order_by(risk_rulesets.c.created_at)))


def label(
    conn: Connection, trade_id: str, value: str, source: str, typology: str | None, now: datetime
) -> None:
    """Record ground truth for a trade (a later label from a person replaces an automatic one)."""
    inserted = insert_ignore(
        conn,
        trade_labels,
        {"trade_id": trade_id, "label": value, "source": source, "typology": typology, "created_at": now},
        ["trade_id"],
    )
    if not inserted:
        conn.execute(
            update(trade_labels)
            .where(trade_labels.c.trade_id == trade_id)
            .values(label=value, source=source, typology=typology, created_at=now)
        )
