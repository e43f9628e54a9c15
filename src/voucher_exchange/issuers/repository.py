"""Issuer guard SQL: issuers, failed calls, settlements, rules, actions and exposure points."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from voucher_exchange.db.dialect import insert_ignore, locked, upsert
from voucher_exchange.db.schema import (
    issuer_call_failures,
    issuer_exposure_points,
    issuer_guard_actions,
    issuer_guard_rules,
    issuer_settlements,
    issuers,
)
from voucher_exchange.issuers.models import (
    Action,
    ActionKind,
    BrandChange,
    CallOutcome,
    IssuerFacts,
    RegistrationStatus,
    Rule,
    Signal,
    default_name,
)

# ---- issuers ------------------------------------------------------------------------------------


def _facts(row: Any) -> IssuerFacts:
    return IssuerFacts(
        code=row.code,
        name=row.name,
        registration_status=RegistrationStatus(row.registration_status),
        registration_number=row.registration_number,
        insurance_expires_on=row.insurance_expires_on,
        exposure_limit=None if row.exposure_limit is None else int(row.exposure_limit),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def ensure(conn: Connection, codes: Sequence[str], now: datetime) -> None:
    """A row for every issuer the catalog names (facts unknown until the operator writes them)."""
    known = set(conn.execute(select(issuers.c.code)).scalars())
    for code in sorted(set(codes) - known):
        insert_ignore(
            conn,
            issuers,
            {"code": code, "name": default_name(code), "updated_at": now, "updated_by": "catalog"},
            ["code"],
        )


def get(conn: Connection, code: str) -> IssuerFacts | None:
    """One issuer, or None."""
    row = conn.execute(select(issuers).where(issuers.c.code == code)).first()
    return _facts(row) if row else None


def all_issuers(conn: Connection) -> list[IssuerFacts]:
    """Every issuer, by code."""
    return [_facts(r) for r in conn.execute(select(issuers).order_by(issuers.c.code))]


def save(conn: Connection, facts: IssuerFacts) -> IssuerFacts | None:
    """Write an issuer's facts; what it had before (read under a row lock), None when it is new."""
    row = conn.execute(locked(conn, select(issuers).where(issuers.c.code == facts.code))).first()
    values = {
        "name": facts.name,
        "registration_status": facts.registration_status.value,
        "registration_number": facts.registration_number,
        "insurance_expires_on": facts.insurance_expires_on,
        "exposure_limit": facts.exposure_limit,
        "updated_at": facts.updated_at,
        "updated_by": facts.updated_by,
    }
    if row is None:
        conn.execute(insert(issuers).values(code=facts.code, **values))
        return None
    conn.execute(update(issuers).where(issuers.c.code == facts.code).values(**values))
    return _facts(row)


# ---- failed calls -----------------------------------------------------------------------------


def record_failure(conn: Connection, brand: str, operation: str, outcome: CallOutcome, at: datetime) -> None:
    """One failed or timed-out issuer call."""
    conn.execute(
        insert(issuer_call_failures).values(brand_slug=brand, operation=operation, kind=outcome.value, at=at)
    )


def count_failures(
    conn: Connection, brands: Sequence[str], outcome: CallOutcome, start: datetime, end: datetime
) -> int:
    """Failed calls of one kind to these brands' issuer in [start, end)."""
    if not brands:
        return 0
    t = issuer_call_failures.c
    query = select(func.count()).where(
        t.brand_slug.in_(list(brands)), t.kind == outcome.value, t.at >= start, t.at < end
    )
    return int(conn.execute(query).scalar_one())


# ---- settlements ------------------------------------------------------------------------------


def record_settlement(
    conn: Connection,
    run_id: int,
    day: date,
    brand: str,
    currency: str,
    expected: int,
    settled: int,
    now: datetime,
) -> None:
    """What one reconciled statement says of one brand's redemptions that day."""
    conn.execute(
        insert(issuer_settlements).values(
            run_id=run_id,
            brand_slug=brand,
            statement_date=day,
            currency=currency,
            expected=expected,
            settled=settled,
            created_at=now,
        )
    )


def _latest_runs() -> Any:
    # A statement reconciled again replaces the earlier run of its day.
    t = issuer_settlements.c
    return select(func.max(t.run_id)).group_by(t.statement_date).scalar_subquery()


def settlement_totals(
    conn: Connection, brands: Sequence[str], currency: str, since: date | None = None
) -> tuple[int, int]:
    """(expected, settled) over the latest run of each statement day (from `since` when given)."""
    if not brands:
        return 0, 0
    t = issuer_settlements.c
    query = select(func.coalesce(func.sum(t.expected), 0), func.coalesce(func.sum(t.settled), 0)).where(
        t.run_id.in_(_latest_runs()), t.brand_slug.in_(list(brands)), t.currency == currency
    )
    if since is not None:
        query = query.where(t.statement_date >= since)
    expected, settled = conn.execute(query).one()
    return int(expected), int(settled)


def last_statement_day(conn: Connection) -> date | None:
    """The newest day an issuer statement was reconciled for."""
    found: date | None = conn.execute(select(func.max(issuer_settlements.c.statement_date))).scalar()
    return found


# ---- rules ------------------------------------------------------------------------------------


def _rule(row: Any) -> Rule:
    return Rule(
        id=int(row.id),
        issuer=row.issuer,
        signal=Signal(row.signal),
        threshold=int(row.threshold),
        action=ActionKind(row.action),
        amount=None if row.amount is None else int(row.amount),
        enabled=bool(row.enabled),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def add_rule(
    conn: Connection,
    issuer: str | None,
    signal: Signal,
    threshold: int,
    action: ActionKind,
    amount: int | None,
    now: datetime,
    actor: str,
) -> int:
    """Store a rule; its id."""
    new_id = conn.execute(
        insert(issuer_guard_rules)
        .values(
            issuer=issuer,
            signal=signal.value,
            threshold=threshold,
            action=action.value,
            amount=amount,
            enabled=True,
            created_at=now,
            created_by=actor,
        )
        .returning(issuer_guard_rules.c.id)
    ).scalar_one()
    return int(new_id)


def rules(conn: Connection) -> list[Rule]:
    """Every rule, oldest first."""
    return [_rule(r) for r in conn.execute(select(issuer_guard_rules).order_by(issuer_guard_rules.c.id))]


def get_rule(conn: Connection, rule_id: int) -> Rule | None:
    """One rule, or None."""
    row = conn.execute(select(issuer_guard_rules).where(issuer_guard_rules.c.id == rule_id)).first()
    return _rule(row) if row else None


def set_rule_enabled(conn: Connection, rule_id: int, enabled: bool) -> bool:
    """Turn a rule on or off; False when there is no such rule."""
    t = issuer_guard_rules
    return bool(conn.execute(update(t).where(t.c.id == rule_id).values(enabled=enabled)).rowcount)


# ---- actions ----------------------------------------------------------------------------------


def _action(row: Any) -> Action:
    return Action(
        id=int(row.id),
        issuer=row.issuer,
        rule_id=int(row.rule_id),
        action=ActionKind(row.action),
        amount=None if row.amount is None else int(row.amount),
        signal=Signal(row.signal),
        observed=int(row.observed),
        threshold=int(row.threshold),
        brands=tuple(BrandChange(b["slug"], b["before"]) for b in row.brands),
        started_at=row.started_at,
        lifted_at=row.lifted_at,
        lifted_by=row.lifted_by,
        rearmed_at=row.rearmed_at,
    )


def start_action(
    conn: Connection,
    issuer: str,
    rule: Rule,
    observed: int,
    brands: Sequence[BrandChange],
    now: datetime,
) -> int | None:
    """Record an action taken; None (nothing written) when the rule's action is already in force."""
    values = {
        "issuer": issuer,
        "rule_id": rule.id,
        "action": rule.action.value,
        "amount": rule.amount,
        "signal": rule.signal.value,
        "observed": observed,
        "threshold": rule.threshold,
        "brands": [{"slug": b.slug, "before": b.before} for b in brands],
        "started_at": now,
    }
    try:
        with conn.begin_nested():
            new_id = conn.execute(
                insert(issuer_guard_actions).values(**values).returning(issuer_guard_actions.c.id)
            ).scalar_one()
    except IntegrityError:
        return None  # another evaluation took it first (the in-force index refused a second)
    return int(new_id)


def in_force(conn: Connection, issuer: str | None = None) -> list[Action]:
    """Actions not lifted, oldest first (of one issuer when given)."""
    t = issuer_guard_actions.c
    query = select(issuer_guard_actions).where(t.lifted_at.is_(None)).order_by(t.id)
    if issuer is not None:
        query = query.where(t.issuer == issuer)
    return [_action(r) for r in conn.execute(query)]


def history(conn: Connection, issuer: str | None = None, limit: int = 100) -> list[Action]:
    """The newest actions first, lifted or not."""
    t = issuer_guard_actions.c
    query = select(issuer_guard_actions).order_by(t.id.desc()).limit(limit)
    if issuer is not None:
        query = query.where(t.issuer == issuer)
    return [_action(r) for r in conn.execute(query)]


def get_action(conn: Connection, action_id: int) -> Action | None:
    """One action, or None."""
    row = conn.execute(select(issuer_guard_actions).where(issuer_guard_actions.c.id == action_id)).first()
    return _action(row) if row else None


def lift(conn: Connection, action_id: int, now: datetime, actor: str) -> bool:
    """Mark an action lifted; False when it was not in force (lifted already, or unknown)."""
    t = issuer_guard_actions
    changed = conn.execute(
        update(t)
        .where((t.c.id == action_id) & t.c.lifted_at.is_(None))
        .values(lifted_at=now, lifted_by=actor)
    )
    return bool(changed.rowcount)


def waiting_to_rearm(conn: Connection, issuer: str) -> list[Action]:
    """The issuer's lifted actions whose rule has not re-armed yet."""
    t = issuer_guard_actions.c
    query = select(issuer_guard_actions).where(
        t.issuer == issuer, t.lifted_at.is_not(None), t.rearmed_at.is_(None)
    )
    return [_action(r) for r in conn.execute(query.order_by(t.id))]


def rearm(conn: Connection, action_ids: Sequence[int], now: datetime) -> None:
    """Mark lifted actions re-armed: their rules may act again."""
    if action_ids:
        t = issuer_guard_actions
        conn.execute(
            update(t).where(t.c.id.in_(list(action_ids)) & t.c.rearmed_at.is_(None)).values(rearmed_at=now)
        )


def overlapping(conn: Connection, start: datetime, end: datetime) -> list[Action]:
    """Actions in force at any moment of [start, end), oldest first."""
    t = issuer_guard_actions.c
    query = (
        select(issuer_guard_actions)
        .where(t.started_at < end, t.lifted_at.is_(None) | (t.lifted_at > start))
        .order_by(t.id)
    )
    return [_action(r) for r in conn.execute(query)]


# ---- exposure points --------------------------------------------------------------------------


def record_exposure(
    conn: Connection, issuer: str, day: date, currency: str, exposure: int, limit: int | None, now: datetime
) -> None:
    """The day's last exposure for the issuer, and its peak so far."""
    t = issuer_exposure_points
    query = select(t.c.peak).where((t.c.issuer == issuer) & (t.c.day == day))
    before = conn.execute(locked(conn, query)).scalar()
    peak = exposure if before is None else max(int(before), exposure)
    values = {
        "issuer": issuer,
        "day": day,
        "currency": currency,
        "exposure": exposure,
        "peak": peak,
        "limit_amount": limit,
        "updated_at": now,
    }
    upsert(conn, t, values, ["issuer", "day"])


def exposure_points(conn: Connection, issuer: str, since: date) -> list[dict[str, Any]]:
    """The issuer's daily points from `since`, oldest first."""
    t = issuer_exposure_points.c
    rows = conn.execute(
        select(t.day, t.currency, t.exposure, t.peak, t.limit_amount)
        .where((t.issuer == issuer) & (t.day >= since))
        .order_by(t.day)
    )
    return [dict(r._mapping) for r in rows]
