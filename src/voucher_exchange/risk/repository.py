"""Risk SQL: rule-set versions, labels."""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by

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


# Versions are immutable (publish refuses a version that exists): parse each once per process.
_PARSED: dict[str, RuleSet] = {}


@functools.cache
def _shipped() -> RuleSet:
    """The shipped default, read from its file once per process."""
    return rules.default_ruleset()


def _parsed(version: str, stored: Any) -> RuleSet:
    found = _PARSED.get(version)
    if found is None:
        found = _PARSED[version] = rules.parse(stored)
    return found


CURRENT = ("live", "shadow")


def roster_column(postgresql: bool) -> Any:
    """The live and shadow rule sets as a column `rulesets` of a caller's own SELECT: a JSON array
    of [version, status], oldest first (`roster_from` reads it back)."""
    r = risk_rulesets.c
    current = r.status.in_(CURRENT)
    if postgresql:
        pairs = aggregate_order_by(func.json_build_array(r.version, r.status), r.created_at, r.version)
        return select(func.json_agg(pairs)).where(current).scalar_subquery().label("rulesets")
    # SQLite aggregates in the order its subquery gives; json() keeps each pair JSON, not text.
    entries = (
        select(func.json_array(r.version, r.status).label("entry"))
        .where(current)
        .order_by(r.created_at, r.version)
        .subquery()
    )
    return select(func.json_group_array(func.json(entries.c.entry))).scalar_subquery().label("rulesets")


def roster_from(row: Any) -> list[tuple[str, str]]:
    """The (version, status) pairs read by `roster_column`."""
    found = row.rulesets
    pairs = json.loads(found) if isinstance(found, str) else (found or [])
    return [(str(version), str(status)) for version, status in pairs]


def live_and_shadows(
    conn: Connection, roster: list[tuple[str, str]] | None = None
) -> tuple[RuleSet, list[RuleSet]]:
    """The live rule set (the shipped default until one is published) and the shadows, in one query;
    none when `roster` (the current versions, read with `roster_column`) names only versions this
    process has parsed (versions are immutable)."""
    if roster is not None and all(version in _PARSED for version, _ in roster):
        live_sets = [_PARSED[version] for version, status in roster if status == "live"]
        return (live_sets[0] if live_sets else _shipped()), [
            _PARSED[version] for version, status in roster if status == "shadow"
        ]
    r = risk_rulesets.c
    rows = conn.execute(
        select(r.version, r.status, r.rules).where(r.status.in_(CURRENT)).order_by(r.created_at, r.version)
    ).all()
    live_sets = [_parsed(row.version, row.rules) for row in rows if row.status == "live"]
    shadow_sets = [_parsed(row.version, row.rules) for row in rows if row.status == "shadow"]
    return (live_sets[0] if live_sets else _shipped()), shadow_sets


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
