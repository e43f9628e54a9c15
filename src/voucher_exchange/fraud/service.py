"""Fraud reports: file one (anyone, or an issuer's key), match it in a job, and staff's work on a case.

No oracle: filing a report does the same work whatever the codes are (validate, count, store
one fingerprint per code and brand, enqueue the match) and answers the same; what a code matched
is decided by the `fraud.match` job after the answer, and shown only to staff.

A match on a trade not yet secured holds it for review at once (nothing has moved); on a trade
secured or paid it freezes that seller's next payouts up to what the trade pays (`payouts.freezes`)
and asks the issuer to block the code. Staff release a freeze, or reverse the trade through the
issuer's chargeback (the reversal books what the seller owes; releasing the freeze then lets the
held payouts net against it, as after any reversal).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection

from voucher_exchange import idempotency
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.context import Context
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import Conflict, ExternalUnavailable, Forbidden, InvalidInput, NotFound
from voucher_exchange.fraud import models, views
from voucher_exchange.fraud import repository as repo
from voucher_exchange.fraud.models import MATCH_REPORT, Action, Case, Match, Outcome, Source
from voucher_exchange.jobs import queue
from voucher_exchange.money import Money
from voucher_exchange.payouts import freezes
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.security import throttle
from voucher_exchange.trades import facts as trade_facts
from voucher_exchange.trades import lifecycle
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.facts import utc_iso
from voucher_exchange.trades.models import Trade, TradeMovedOn, TradeStatus

S = TradeStatus
SYSTEM = "fraud_report"
# Secured or paid: the value left the issuer; the seller's payouts are frozen instead.
FREEZE_ON = frozenset({S.REDEEMING, S.CREDITED, S.PAYING_OUT, S.FAILED, S.PAID})
ISSUER_REASON = "stolen"


@dataclass(frozen=True)
class ReportForm:
    """A report as typed (the API's or the web form's fields)."""

    codes: list[str]
    name: str
    contact: str
    police_case_number: str | None
    description: str


def file_report(
    ctx: Context,
    form: ReportForm,
    client_ip: str | None,
    issuer: User | None = None,
    idempotency_key: str | None = None,
) -> str:
    """Use case: store a fraud report and have it matched after the answer; its id.

    Limited per address and per contact (429 `rate_limited`). The same work and the same answer
    whatever the codes: a fingerprint per code and brand, stored, and one job. An issuer's
    request may carry an `Idempotency-Key` (the first answer is given again).
    """
    new = models.validate(form.codes, form.name, form.contact, form.police_case_number, form.description)
    throttle.hit(ctx, *throttle.fraud_report(new.reporter.contact, client_ip))

    def work(uow: UnitOfWork) -> idempotency.Result:
        return 202, {"report_id": _store(ctx, uow, new, issuer)}

    if issuer is None:
        with ctx.uow() as uow:
            _, body = work(uow)
            uow.commit()
    else:
        _, body = idempotency.run(ctx, issuer.id, idempotency_key, "POST /fraud-reports", asdict(form), work)
    return str(body["report_id"])


def _store(ctx: Context, uow: UnitOfWork, new: models.NewReport, issuer: User | None) -> str:
    report_id = str(uuid.uuid4())
    now = ctx.clock.now()
    slugs = sorted(b.slug for b in catalog_service.list_brands(uow.conn))
    rows = [
        (position, slug, trade_service.voucher_fingerprint(ctx.vault, slug, code), models.mask(code))
        for position, code in enumerate(new.codes)
        for slug in slugs
    ]
    source = Source.ISSUER if issuer is not None else Source.PUBLIC
    repo.add_report(
        uow.conn,
        {
            "id": report_id,
            "received_at": now,
            "source": source.value,
            "reporter_user_id": issuer.id if issuer is not None else None,
            "reporter_enc": ctx.vault.encrypt_json(
                {"name": new.reporter.name, "contact": new.reporter.contact}, report_id
            ),
            "police_case_number": new.police_case_number,
            "description": new.description,
            "code_count": len(new.codes),
        },
    )
    repo.add_codes(uow.conn, report_id, rows)
    queue.enqueue(uow.conn, MATCH_REPORT, report_id, now)
    actor = issuer.email if issuer is not None else "public"
    audit.record(
        uow.conn, actor, "fraud.report", report_id, {"codes": len(new.codes), "source": source.value}, now
    )
    uow.after_commit(ctx.wake_workers)
    return report_id


def match_job(ctx: Context, report_id: str) -> None:
    """The `fraud.match` job: match a report's fingerprints, hold or freeze, then ask issuers to block."""
    to_block: list[tuple[int, Trade]] = []
    with ctx.uow() as uow:
        conn = uow.conn
        found = repo.report(conn, report_id)
        if found is None or found.matched_at is not None:
            return
        now = ctx.clock.now()
        masked = repo.fingerprints(conn, report_id)
        trades = trade_repo.with_fingerprints(conn, list(masked))
        if not repo.mark_matched(conn, report_id, len(trades), now):
            return
        case_id = None
        if trades:
            case_id = str(uuid.uuid4())
            repo.open_case(conn, case_id, report_id, found.received_at, now)
            stopped = False
            for trade in trades:
                match_id, action, paid = _act(
                    conn, case_id, trade, masked[trade.voucher_fingerprint], found.received_at, now
                )
                stopped = stopped or action in (Action.HELD, Action.FROZEN)
                if paid and match_id is not None:
                    to_block.append((match_id, trade))
            if stopped:
                repo.set_frozen(conn, case_id, ctx.clock.now())
        audit.record(conn, SYSTEM, "fraud.matched", report_id, {"matches": len(trades), "case": case_id}, now)
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    for match_id, trade in to_block:
        _block_at_issuer(ctx, match_id, trade)


def _act(
    conn: Connection, case_id: str, trade: Trade, masked: str, reported_at: datetime, now: datetime
) -> tuple[int | None, Action, bool]:
    """Hold, freeze or note one matched trade (reading it again if the worker moved it meanwhile),
    and keep the report as an outside fact of the trade's evidence record (never who reported)."""
    evidence = {"case_id": case_id}
    for _ in range(5):
        current = trade_repo.get(conn, trade.id)
        assert current is not None
        try:
            with conn.begin_nested():
                action = _stop(conn, case_id, current, now, evidence)
        except TradeMovedOn:
            continue
        match_id = repo.add_match(
            conn,
            {
                "case_id": case_id,
                "trade_id": current.id,
                "user_id": current.user_id,
                "masked": masked,
                "status_at_match": current.status.value,
                "action": action.value,
                "amount": current.payout.amount,
                "currency": current.currency,
                "matched_at": now,
            },
        )
        details = {"reported_at": utc_iso(reported_at), "case_id": case_id, "action": action.value}
        trade_facts.record_fact(conn, current.id, "fraud_report", "fraud.report", None, details, now)
        return match_id, action, current.status in FREEZE_ON
    raise TradeMovedOn(trade.id, trade.status)


def _stop(conn: Connection, case_id: str, trade: Trade, now: datetime, evidence: dict[str, str]) -> Action:
    if trade.status in lifecycle.HOLDABLE_ON_REPORT:
        lifecycle.hold_on_report(conn, trade.id, trade.status, now, evidence)
        return Action.HELD
    if trade.status is S.IN_REVIEW:
        lifecycle.note_report(conn, trade.id, now, evidence)
        return Action.HELD
    if trade.status in FREEZE_ON:
        freezes.open_freeze(
            conn, trade.user_id, models.freeze_reference(case_id, trade.id), trade.payout, now
        )
        return Action.FROZEN
    return Action.NOTED


def _voucher(ctx: Context, trade: Trade) -> tuple[str, str | None]:
    secret = ctx.vault.decrypt_json(trade.voucher_enc, trade.id)
    code = secret["code"]
    assert code is not None
    return code, secret.get("pin")


def _block_at_issuer(ctx: Context, match_id: int, trade: Trade, charge_back: bool = False) -> str:
    """Ask the issuer to block the code (outside any transaction) and record its answer."""
    code, pin = _voucher(ctx, trade)
    try:
        state = ctx.issuer.block(trade.brand_slug, code, pin, ISSUER_REASON, charge_back).value
    except ExternalUnavailable:
        state = "unavailable"
    except RuntimeError:
        state = "refused"
    with ctx.uow() as uow:
        repo.set_issuer_block(uow.conn, match_id, state)
        uow.commit()
    return state


# --- staff -----------------------------------------------------------------------------------


def _may_work(staff: User) -> None:
    if not (staff.has(Role.REVIEWER) or staff.has(Role.OPERATOR)):
        raise Forbidden("forbidden", "Fraud cases are for reviewers and operators.")


def _open_match(conn: Connection, case_id: str, trade_id: str) -> tuple[Case, Match]:
    case = repo.case(conn, case_id)
    found = repo.match(conn, case_id, trade_id) if case is not None else None
    if case is None or found is None:
        raise NotFound("case_unknown", "There is no such case or trade on it.")
    if case.status != "open":
        raise Conflict("case_closed", "This case is closed.")
    return case, found


def _note(note: str) -> str:
    note = note.strip()
    if not note or len(note) > models.MAX_NOTE:
        raise InvalidInput("note_required", "Write a note saying why (at most 2,000 characters).", "note")
    return note


def hold(ctx: Context, staff: User, case_id: str, trade_id: str, note: str) -> Outcome:
    """Use case: freeze the seller's next payouts up to what this trade pays (again, after a release)."""
    _may_work(staff)
    note = _note(note)
    with ctx.uow() as uow:
        conn = uow.conn
        case, found = _open_match(conn, case_id, trade_id)
        trade = trade_repo.get(conn, trade_id)
        assert trade is not None
        now = ctx.clock.now()
        if trade.status in lifecycle.HOLDABLE_ON_REPORT:
            lifecycle.hold_on_report(conn, trade.id, trade.status, now, {"case_id": case_id})
        elif trade.status in FREEZE_ON:
            reference = models.freeze_reference(case_id, trade_id)
            if not freezes.open_freeze(conn, trade.user_id, reference, trade.payout, now):
                freezes.reopen(conn, reference, now)
        elif trade.status is not S.IN_REVIEW:
            raise Conflict("nothing_to_hold", f"The trade is {trade.status.value}: nothing is left to hold.")
        repo.set_outcome(conn, found.id, Outcome.HELD, staff.email, now)
        repo.set_frozen(conn, case.id, now)
        audit.record(conn, staff.email, "fraud.hold", case_id, {"trade": trade_id, "note": note}, now)
        uow.commit()
    return Outcome.HELD


def release(ctx: Context, staff: User, case_id: str, trade_id: str, note: str) -> Outcome:
    """Use case: the report did not hold up for this trade: its freeze is lifted, held payouts go."""
    _may_work(staff)
    note = _note(note)
    with ctx.uow() as uow:
        conn = uow.conn
        _, found = _open_match(conn, case_id, trade_id)
        now = ctx.clock.now()
        trade = trade_repo.get(conn, trade_id)
        assert trade is not None
        if trade.status is S.IN_REVIEW:
            raise Conflict(
                "decide_in_review", "This trade waits in the review queue: approve or reject it there."
            )
        seller = freezes.release(conn, models.freeze_reference(case_id, trade_id), staff.email, now)
        if seller is not None:
            trade_service.resume_held_payouts(conn, seller, now)
        repo.set_outcome(conn, found.id, Outcome.RELEASED, staff.email, now)
        audit.record(conn, staff.email, "fraud.release", case_id, {"trade": trade_id, "note": note}, now)
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return Outcome.RELEASED


def reverse(ctx: Context, staff: User, case_id: str, trade_id: str, note: str) -> Outcome:
    """Use case: take a paid trade back through the issuer's chargeback.

    The issuer is asked to block the code and charge the redemption back; the chargeback comes
    through its feed like any other and the reversal books what the seller owes. The freeze is
    then released: the payouts it held net against that debt first.

    One request is with the issuer at a time (`claim_charge_back`); a trade the feed reversed
    already (the issuer's chargeback came later than its answer) just closes the match.
    """
    _may_work(staff)
    note = _note(note)
    with ctx.uow(readonly=True) as uow:
        _, found = _open_match(uow.conn, case_id, trade_id)
        trade = trade_repo.get(uow.conn, trade_id)
    assert trade is not None
    if found.outcome is Outcome.REVERSED:
        return Outcome.REVERSED  # a second click: done already, nothing is asked or moved again
    answer = "charged back before"
    if trade.status is S.PAID:
        with ctx.uow() as uow:
            claimed = repo.claim_charge_back(uow.conn, found.id)
            uow.commit()
        if not claimed:
            raise Conflict(
                "charge_back_pending", "The issuer is already being asked to charge this voucher back."
            )
        answer = _block_at_issuer(ctx, found.id, trade, charge_back=True)
        reversal_service.poll(ctx)
    elif trade.status is not S.REVERSED:
        raise Conflict("trade_not_paid", f"The trade is {trade.status.value}; only a paid trade is reversed.")
    with ctx.uow() as uow:
        conn = uow.conn
        now = ctx.clock.now()
        after = trade_repo.get(conn, trade_id)
        assert after is not None
        if after.status is not S.REVERSED:
            raise Conflict(
                "issuer_did_not_charge_back",
                f"The issuer did not charge the voucher back (it answered: {answer}); the freeze stays.",
            )
        seller = freezes.release(conn, models.freeze_reference(case_id, trade_id), staff.email, now)
        if seller is not None:
            trade_service.resume_held_payouts(conn, seller, now)
        repo.set_outcome(conn, found.id, Outcome.REVERSED, staff.email, now)
        audit.record(conn, staff.email, "fraud.reverse", case_id, {"trade": trade_id, "note": note}, now)
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return Outcome.REVERSED


def close(ctx: Context, staff: User, case_id: str, note: str) -> None:
    """Use case: close a case (its freezes stay as they are; release them first if they should go)."""
    _may_work(staff)
    note = _note(note)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        if repo.case(uow.conn, case_id) is None:
            raise NotFound("case_unknown", "There is no such case.")
        if not repo.close_case(uow.conn, case_id, staff.email, now):
            raise Conflict("case_closed", "This case is closed.")
        audit.record(uow.conn, staff.email, "fraud.close", case_id, {"note": note}, now)
        uow.commit()


def export_case_file(ctx: Context, staff: User, case_id: str, reveal: bool) -> dict[str, Any]:
    """Use case: the case file for law enforcement (audited); full account numbers only with the
    reveal_codes role, and the audit entry says so."""
    _may_work(staff)
    if reveal and not staff.has(Role.REVEAL_CODES):
        raise Forbidden("reveal_forbidden", "Full account numbers need the reveal_codes permission.")
    with ctx.uow() as uow:
        document = views.case_file(uow.conn, ctx.vault, case_id, reveal)
        shown = {"account_numbers": document["account_numbers"]}
        audit.record(uow.conn, staff.email, "fraud.case_file", case_id, shown, ctx.clock.now())
        uow.commit()
    return document


class Figures(NamedTuple):
    """Fraud reports received in a period, how many caused a hold or freeze, and the median seconds
    from a report's arrival to the first hold or freeze it caused (None when none caused one)."""

    reports: int
    freezes: int
    median_seconds: float | None


def figures(conn: Connection, start: datetime, end: datetime) -> Figures:
    """For the transparency report: the fraud figures of reports received in [start, end)."""
    spans = repo.freeze_spans(conn, start, end)
    return Figures(repo.count_reports(conn, start, end), len(spans), models.median_seconds(spans))


def freeze_of(conn: Connection, case_id: str, trade_id: str) -> freezes.Freeze | None:
    """The payout freeze a matched trade caused, if any."""
    return freezes.by_reference(conn, models.freeze_reference(case_id, trade_id))


def held_amount(conn: Connection, case_id: str, trade_id: str) -> Money | None:
    """What the freeze of a matched trade holds now."""
    found = freeze_of(conn, case_id, trade_id)
    return None if found is None else found.held
