"""The issuer guard's use cases: evaluate the rules, take and lift actions, the operator's facts and rules.

An action changes the issuer's brands through the catalog (which audits each change) and is
itself an audit entry with its reason; the operators are e-mailed (the `issuers.mail_action`
job, enqueued in the same transaction). Evaluation is idempotent: the in-force index lets a
rule's action stand once, and a lifted action's rule waits until its signal was normal again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection

from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import Brand, BrandStatus
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, InvalidInput, NotFound
from voucher_exchange.i18n import gettext
from voucher_exchange.issuers import models, repository, signals
from voucher_exchange.issuers.models import (
    GUARD_ACTOR,
    MAIL_ACTION,
    Action,
    ActionKind,
    BrandChange,
    Firing,
    IssuerFacts,
    RegistrationStatus,
)
from voucher_exchange.jobs import queue


def brands_of(conn: Connection, issuer: str, currency: str) -> list[Brand]:
    """The issuer's brands sold in `currency`, by slug."""
    return [b for b in catalog.list_brands(conn, currency) if b.issuer == issuer]


def _bands(brand: Brand) -> list[dict[str, int]]:
    return [{"min_face": b.min_face, "rate_bps": b.rate_bps} for b in brand.rates.bands]


def _changes(kind: ActionKind, brands: list[Brand]) -> list[BrandChange]:
    """The brands an action will change, each with what it is now."""
    if kind is ActionKind.LOWER_RATE:
        return [BrandChange(b.slug, f"rate_version:{b.rates.version}") for b in brands]
    if kind is ActionKind.CAP_DAILY_VOLUME:
        return [BrandChange(b.slug, f"daily_cap:{b.daily_cap or ''}") for b in brands]
    if kind is ActionKind.PAUSE_QUOTES:
        return [BrandChange(b.slug, b.status.value) for b in brands if b.status is BrandStatus.ACTIVE]
    stoppable = (BrandStatus.ACTIVE, BrandStatus.PAUSED)
    return [BrandChange(b.slug, b.status.value) for b in brands if b.status in stoppable]


def _reason_words(action: Action) -> str:
    return gettext("en", models.SENTENCES[action.action]) % {
        "date": action.started_at.date().isoformat(),
        "cause": gettext("en", models.CAUSES[action.signal]),
        "points": models.points(action.amount or 0),
    }


def take(conn: Connection, issuer: str, firing: Firing, brands: list[Brand], now: datetime) -> int | None:
    """Take a rule's action on the issuer's brands, audited; None when it is already in force."""
    rule = firing.rule
    changes = _changes(rule.action, brands)
    action_id = repository.start_action(conn, issuer, rule, firing.observed, changes, now)
    if action_id is None:
        return None
    by_slug = {b.slug: b for b in brands}
    for change in changes:
        brand = by_slug[change.slug]
        if rule.action is ActionKind.LOWER_RATE:
            catalog.set_rates(
                conn, brand.slug, models.lowered(_bands(brand), rule.amount or 0), now, GUARD_ACTOR
            )
        elif rule.action is ActionKind.CAP_DAILY_VOLUME:
            cap = models.tightest_cap(repository.in_force(conn, issuer))
            catalog.set_daily_cap(conn, brand.slug, cap, now, GUARD_ACTOR)
        elif rule.action is ActionKind.PAUSE_QUOTES:
            catalog.set_status(conn, brand.slug, BrandStatus.PAUSED, now, GUARD_ACTOR)
        else:
            catalog.set_status(conn, brand.slug, BrandStatus.SUSPENDED, now, GUARD_ACTOR)
    taken = repository.get_action(conn, action_id)
    assert taken is not None  # written above, same transaction
    audit.record(
        conn,
        GUARD_ACTOR,
        "issuer.action",
        issuer,
        {
            "action_id": action_id,
            "rule_id": rule.id,
            "action": rule.action.value,
            "amount": rule.amount,
            "signal": rule.signal.value,
            "observed": firing.observed,
            "threshold": rule.threshold,
            "brands": [c.slug for c in changes],
            "reason": _reason_words(taken),
        },
        now,
    )
    queue.enqueue(conn, MAIL_ACTION, f"started:{action_id}", now)
    return action_id


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation did: the actions taken (ids), and each issuer's exposure."""

    taken: list[int]
    exposure: dict[str, int]


def evaluate_all(conn: Connection, currency: str, now: datetime) -> Evaluation:
    """Measure every issuer of the deployment's brands, store its exposure point, act on due rules."""
    repository.ensure(conn, catalog.issuer_codes(conn), now)
    rules = repository.rules(conn)
    by_id = {r.id: r for r in rules}
    taken: list[int] = []
    exposure: dict[str, int] = {}
    for facts in repository.all_issuers(conn):
        brands = brands_of(conn, facts.code, currency)
        if not brands:
            continue
        seen = signals.measure(conn, facts, brands, currency, now)
        exposure[facts.code] = seen.exposure
        repository.record_exposure(
            conn, facts.code, now.date(), currency, seen.exposure, facts.exposure_limit, now
        )
        waiting = repository.waiting_to_rearm(conn, facts.code)
        rearmed = models.rearming(waiting, by_id, seen.signals)
        repository.rearm(conn, rearmed, now)
        held = {a.rule_id for a in repository.in_force(conn, facts.code)}
        held |= {a.rule_id for a in waiting if a.id not in rearmed}
        for firing in models.due(facts.code, seen.signals, rules, held):
            action_id = take(conn, facts.code, firing, brands, now)
            if action_id is not None:
                taken.append(action_id)
                brands = brands_of(conn, facts.code, currency)  # the next rule sees what this one did
    return Evaluation(taken, exposure)


def evaluate(ctx: Context) -> Evaluation:
    """Use case: evaluate every issuer now (the worker's recurring job; `issuers evaluate`)."""
    with ctx.uow() as uow:
        done = evaluate_all(uow.conn, ctx.settings.currency, ctx.clock.now())
        uow.commit()
    return done


def evaluate_job(ctx: Context, _ref: str) -> None:
    """The job: evaluate every issuer (recurring, and after an issuer statement was reconciled)."""
    evaluate(ctx)


def _restore(conn: Connection, action: Action, now: datetime, actor: str) -> None:
    """Undo what a lifted action did to its brands, where nothing else stands in the way."""
    remaining = repository.in_force(conn, action.issuer)
    for change in action.brands:
        brand = catalog.get_brand(conn, change.slug)
        if brand is None:
            continue
        if action.action is ActionKind.LOWER_RATE:
            catalog.set_rates(conn, brand.slug, models.raised(_bands(brand), action.amount or 0), now, actor)
        elif action.action is ActionKind.CAP_DAILY_VOLUME:
            covering = [a for a in remaining if a.covers(brand.slug)]
            catalog.set_daily_cap(conn, brand.slug, models.tightest_cap(covering), now, actor)
        else:
            set_by_it = (
                BrandStatus.PAUSED if action.action is ActionKind.PAUSE_QUOTES else BrandStatus.SUSPENDED
            )
            if brand.status is not set_by_it:
                continue  # an operator changed it by hand since: theirs stands
            still = {a.action for a in remaining if a.covers(brand.slug)}
            if ActionKind.SUSPEND in still:
                wanted = BrandStatus.SUSPENDED
            elif ActionKind.PAUSE_QUOTES in still:
                wanted = BrandStatus.PAUSED
            else:
                wanted = BrandStatus(change.before)
            if wanted is not brand.status:
                catalog.set_status(conn, brand.slug, wanted, now, actor)


def lift_action(ctx: Context, action_id: int, actor: str) -> Action:
    """Use case: an operator lifts an action (audited); its brands go back where nothing else holds them."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        action = repository.get_action(uow.conn, action_id)
        if action is None:
            raise NotFound("guard_action_unknown", "There is no such issuer action.", "action")
        if not repository.lift(uow.conn, action_id, now, actor):
            raise Conflict("guard_action_lifted", "This action was already lifted.", "action")
        _restore(uow.conn, action, now, actor)
        audit.record(
            uow.conn,
            actor,
            "issuer.action_lifted",
            action.issuer,
            {
                "action_id": action_id,
                "action": action.action.value,
                "brands": [c.slug for c in action.brands],
            },
            now,
        )
        queue.enqueue(uow.conn, MAIL_ACTION, f"lifted:{action_id}", now)
        lifted = repository.get_action(uow.conn, action_id)
        uow.commit()
    assert lifted is not None
    return lifted


def save_facts(
    ctx: Context,
    code: str,
    *,
    name: str,
    registration_status: str,
    registration_number: str | None,
    insurance_expires_on: date | None,
    exposure_limit: int | None,
    actor: str,
) -> IssuerFacts:
    """Use case: the operator writes what they know of an issuer (audited, before → after)."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("issuer_name_invalid", "Give the issuer's name (up to 200 characters).", "name")
    try:
        status = RegistrationStatus(registration_status)
    except ValueError as exc:
        raise InvalidInput(
            "registration_status_invalid",
            "Choose registered, unregistered or unknown.",
            "registration_status",
        ) from exc
    number = (registration_number or "").strip() or None
    if number is not None and len(number) > 60:
        raise InvalidInput(
            "registration_number_invalid", "The registration number is too long.", "registration_number"
        )
    if exposure_limit is not None and not 0 < exposure_limit <= 10**15:
        raise InvalidInput(
            "exposure_limit_invalid", "The exposure limit is a positive amount.", "exposure_limit"
        )
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if code not in catalog.issuer_codes(uow.conn):
            raise NotFound("issuer_unknown", f"No brand names the issuer {code!r}.", "issuer")
        facts = IssuerFacts(code, name, status, number, insurance_expires_on, exposure_limit, now, actor)
        before = repository.save(uow.conn, facts)
        audit.record_change(
            uow.conn, actor, "issuer.facts", code, _facts_json(before), _facts_json(facts), now
        )
        uow.commit()
    return facts


def _facts_json(facts: IssuerFacts | None) -> dict[str, object]:
    if facts is None:
        return {}
    return {
        "name": facts.name,
        "registration_status": facts.registration_status.value,
        "registration_number": facts.registration_number,
        "insurance_expires_on": facts.insurance_expires_on.isoformat()
        if facts.insurance_expires_on
        else None,
        "exposure_limit": facts.exposure_limit,
    }


def add_rule(
    ctx: Context, issuer: str | None, signal: str, threshold: int, action: str, amount: int | None, actor: str
) -> int:
    """Use case: a new rule (audited); it acts from the next evaluation."""
    parsed_signal, parsed_action = models.check_rule(signal, threshold, action, amount)
    now = ctx.clock.now()
    with ctx.uow() as uow:
        if issuer is not None and issuer not in catalog.issuer_codes(uow.conn):
            raise NotFound("issuer_unknown", f"No brand names the issuer {issuer!r}.", "issuer")
        rule_id = repository.add_rule(
            uow.conn, issuer, parsed_signal, threshold, parsed_action, amount, now, actor
        )
        audit.record(
            uow.conn,
            actor,
            "issuer.rule_added",
            issuer or "*",
            {
                "rule_id": rule_id,
                "signal": signal,
                "threshold": threshold,
                "action": action,
                "amount": amount,
            },
            now,
        )
        uow.commit()
    return rule_id


def set_rule_enabled(ctx: Context, rule_id: int, enabled: bool, actor: str) -> None:
    """Use case: turn a rule on or off (audited); actions it took stay until lifted."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        rule = repository.get_rule(uow.conn, rule_id)
        if rule is None or not repository.set_rule_enabled(uow.conn, rule_id, enabled):
            raise NotFound("guard_rule_unknown", "There is no such rule.", "rule")
        audit.record_change(
            uow.conn, actor, "issuer.rule", str(rule_id), {"enabled": rule.enabled}, {"enabled": enabled}, now
        )
        uow.commit()
