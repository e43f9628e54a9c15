"""The worker's trade pipeline: screen, verify, secure, credit, then pay out.

Each step is one short transaction whose status change goes through `lifecycle`
(a conditional `UPDATE … WHERE status = expected`); outbound calls happen between
transactions, never inside one. Every step can run again after a crash: the issuer
redeem is idempotent on the trade id, the ledger write on its key and the rail
transfer on the payout's key, so re-running moves nothing twice.

A step hands the trade as it left it to the next step (no re-read between steps; a
`TradeMovedOn` makes the loop read it again). Work with no outside call in between
shares one transaction: securing the voucher, crediting the seller, creating the payout
and reserving it in the ledger commit together, right before the rail is called.

Every step is a `Stage`: an optional outside call made with no transaction open, then its
database work in one transaction. `process_trade` runs one trade through them;
`process_many` runs a batch: the outside calls of a stage concurrently, one per trade, then
the database work of all of them in one transaction (see its docstring).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

import structlog
from sqlalchemy import Connection

from voucher_exchange import logs
from voucher_exchange.accounts.models import User
from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.context import Context
from voucher_exchange.errors import ExternalUnavailable
from voucher_exchange.faults import crash_point
from voucher_exchange.identity import clearance, links
from voucher_exchange.issuers import health as issuer_health
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import InsufficientFunds, seller_receivable, treasury
from voucher_exchange.metrics import ISSUER_LATENCY, timed
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import (
    Destination,
    NewPayout,
    Payout,
    PayoutHeld,
    PayoutOutcome,
    PayoutStatus,
    TreasuryShort,
)
from voucher_exchange.ports.issuer import Redemption, VoucherRefused, VoucherState, VoucherStatus
from voucher_exchange.promises import service as promise_service
from voucher_exchange.promises.models import PromiseTerms, TradePromise
from voucher_exchange.risk import screening
from voucher_exchange.risk import service as risk_service
from voucher_exchange.risk.models import AcquisitionMethod, RiskSubject
from voucher_exchange.risk.reasons import render
from voucher_exchange.risk.screening import Decision, Outcome
from voucher_exchange.trades import batch_repository as batch_repo
from voucher_exchange.trades import facts, late_payout, lifecycle, notices, payout_gate, postings, publish
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import (
    COUNTS_TOWARDS_LIMITS,
    DecisionStage,
    Trade,
    TradeMovedOn,
    TradeStatus,
)

S = TradeStatus
WORKER = lifecycle.WORKER
log = logs.get(__name__)


@dataclass(frozen=True)
class Handoff:
    """The trade as the last step left it, and its payout if that step already reserved it.

    `notice`: whom the seller's e-mails go to and what they say beyond the trade row, once
    screening read the seller and the brand in this run (None for a trade read mid-way, or a
    line of a batch: its notices are then read by their job, `notices.notify_trade`).
    `promise`: the trade's payout promise once this run recorded it (its due time and amount never
    change; whether it was compensated is decided by a conditional update, never from this copy).
    `batched`: whether the trade is a line of a batch, when it was read with the trade (None: not
    known; it never changes).
    """

    trade: Trade
    reserved: tuple[Payout, Destination] | None = None
    notice: notices.Recipient | None = None
    promise: TradePromise | None = None
    batched: bool | None = None


def _moved(
    trade: Trade,
    status: TradeStatus,
    now: datetime,
    notice: notices.Recipient | None = None,
    **values: object,
) -> Handoff:
    """The trade after a status change this step committed (what the row now holds)."""
    return Handoff(replace(trade, status=status, updated_at=now, **values), notice=notice)  # type: ignore[arg-type]


def _seen(
    to: notices.Recipient | None, reasons: list[str], evidence: dict[str, Any]
) -> notices.Recipient | None:
    """`to` once a decision with `reasons` is the newest one the seller sees (`seller_view.view`)."""
    if to is None:
        return None
    return replace(to, reasons=tuple(render(list(reasons), to.language, evidence.get("messages"))))


def _told(
    trade: Trade, status: TradeStatus, to: notices.Recipient | None, sent_to_bank: int | None = None
) -> dict[str, Any] | None:
    """The facts of the notice about `status`, handed over with its job; None: the job reads them."""
    return None if to is None else notices.facts(trade, status, to, sent_to_bank)


@dataclass(frozen=True)
class Stage:
    """One step: `call` asks the outside world (no transaction open; None when the step needs
    nothing from outside), then `apply` does the database work in the caller's transaction
    and returns what the next step starts from, or None when the trade stops here for now."""

    call: Callable[[Context, Handoff], Any] | None
    apply: Callable[[Context, Connection, Handoff, Any, datetime], Handoff | None]
    # Whether `apply` reserves or settles payouts: it then moves the shared treasury account.
    moves_treasury: bool = False


# Runs in the transaction of the step after which the trade stops for now, before it commits
# (the worker finishes the job that ran the trade there: one transaction fewer).
Done = Callable[[Connection, datetime], None]


def _run_stage(ctx: Context, stage: Stage, handoff: Handoff, done: Done | None = None) -> Handoff | None:
    """One trade through one stage: its call, then its database work in one transaction."""
    answer = stage.call(ctx, handoff) if stage.call is not None else None
    with ctx.uow() as uow:
        now = ctx.clock.now()
        after = stage.apply(ctx, uow.conn, handoff, answer, now)
        if after is None and done is not None:
            done(uow.conn, now)
        uow.commit()
    return after


def _read_and_run(ctx: Context, trade_id: str, done: Done | None) -> Handoff | None:
    """Read the trade; if its stage needs nothing from outside, run it in the same transaction.

    What to go on from: the trade as read (its stage makes an outside call first) or as that
    stage left it; None when it is gone, waits or is terminal (`done` then ran). One
    transaction, not a read and then the step's own.
    """
    with ctx.uow() as uow:
        now = ctx.clock.now()
        found = [Handoff(t, batched=b) for t, b in trade_repo.for_work(uow.conn, [trade_id])]
        stage = STAGES.get(found[0].trade.status) if found else None
        if stage is not None and stage.call is not None:
            return found[0]
        after = None if stage is None else stage.apply(ctx, uow.conn, found[0], None, now)
        if after is None and done is not None:
            done(uow.conn, now)
        uow.commit()
    return after


def process_trade(ctx: Context, trade_id: str, done: Done | None = None) -> None:
    """Advance a trade as far as it can go now; stops when it waits for a person or is terminal.

    `done` runs in the transaction of the last step (see `Done`); not at all if the trade did
    not stop within its rounds or a step failed.
    """
    handoff: Handoff | None = None
    for _ in range(2 * len(STAGES)):
        try:
            if handoff is None:
                handoff = _read_and_run(ctx, trade_id, done)
                if handoff is None:
                    return
            stage = STAGES.get(handoff.trade.status)
            if stage is None:  # nothing to run for what a step handed on: `done` did not run
                return
            handoff = _run_stage(ctx, stage, handoff, done)
        except TradeMovedOn:
            handoff = None  # another process moved it: read it again
            continue
        if handoff is None:
            return


def _decided(stage: DecisionStage, decision: Decision) -> tuple[trade_repo.Decided, ...]:
    """The worker's decision, stored with the status change it leads to."""
    return (
        trade_repo.Decided(
            stage,
            decision.outcome.value,
            decision.reasons,
            screening.RULESET_VERSION,
            decision.evidence,
            WORKER,
        ),
    )


def _reject(
    conn: Connection,
    handoff: Handoff,
    current: TradeStatus,
    decision: Decision,
    stage: DecisionStage,
    now: datetime,
    **values: Any,
) -> None:
    trade = handoff.trade
    decided = _decided(stage, Decision(Outcome.REJECT, decision.reasons, decision.evidence))
    told = _told(trade, S.REJECTED, _seen(handoff.notice, decision.reasons, decision.evidence))
    lifecycle.reject(conn, trade.id, current, now, decision.reasons, notice=told, decided=decided, **values)


# The seller (row-locked), their bank account and the brand's standing: one statement, built once.
_SCREENING_READ = clearance.for_screening(*catalog_service.STANDING)


def _screen(ctx: Context, conn: Connection, handoff: Handoff, _: None, now: datetime) -> Handoff | None:
    """Checks that need no outside call. Claims the voucher code for this trade, once ever."""
    trade = handoff.trade
    current = trade.status  # received: it passes through screening in this transaction's change
    seller, destination, row = clearance.seller_and_account(
        conn, _SCREENING_READ, trade.user_id, trade.payout_destination_id, brand_slug=trade.brand_slug
    )
    brand = catalog_service.standing_in(row, trade.brand_slug)
    day_start, month_start = screening.period_starts(now, ctx.settings.jurisdiction)
    used = trade_repo.used_in_periods(conn, seller.id, day_start, month_start, trade.id)
    facts = screening.SubmissionFacts(
        declared_method=AcquisitionMethod(trade.acquisition_method),
        brand_status=brand.status,
        kyc_tier=seller.kyc_tier,
        identity_status=seller.identity_status.value,
        destination_status=destination.status.value,
        holder_is_seller=clearance.in_sellers_name(seller, destination),
        face_value=trade.face_value.amount,
        used_today=used[0],
        used_this_month=used[1],
        limits=screening.TIER_LIMITS[ctx.settings.jurisdiction][min(seller.kyc_tier, 2)],
    )
    decision = screening.screen_submission(facts)
    # The seller's notices are told from here on, unless a batch's summary tells them.
    to = None
    batched = handoff.batched if handoff.batched is not None else batch_repo.in_batch(conn, trade.id)
    if not batched:
        to = notices.Recipient(seller.email, seller.language, brand.name(seller.language))
    handoff = replace(handoff, notice=to)
    declared_carrier = "carrier_billing_prohibited" in decision.reasons
    if decision.outcome is Outcome.APPROVE or declared_carrier:
        # A carrier-billed code is claimed too, so it cannot come back declared as a gift.
        owner = trade_repo.claim_voucher(conn, trade.voucher_fingerprint, trade.id, now)
        if owner != trade.id and not declared_carrier:
            evidence = {**decision.evidence, "first_trade": owner}
            decision = Decision(Outcome.REJECT, ["duplicate_voucher"], evidence)
    if decision.outcome is Outcome.REJECT:
        _reject(conn, handoff, current, decision, DecisionStage.SCREENING, now)
        return None
    approved = Decision(Outcome.APPROVE, [], decision.evidence)
    lifecycle.start_verifying(conn, trade.id, now, _decided(DecisionStage.SCREENING, approved), current)
    return _moved(trade, S.VERIFYING, now, _seen(to, [], decision.evidence))


def _voucher(ctx: Context, trade: Trade) -> tuple[str, str | None]:
    secret = ctx.vault.decrypt_json(trade.voucher_enc, trade.id)
    return str(secret["code"]), secret.get("pin")


def risk_subject(trade: Trade) -> RiskSubject:
    """The trade as the risk engine sees it."""
    return RiskSubject(
        id=trade.id,
        user_id=trade.user_id,
        brand_slug=trade.brand_slug,
        face_value=trade.face_value.amount,
        acquisition_method=trade.acquisition_method,
        payout_destination_id=trade.payout_destination_id,
        device_id=trade.device_id,
        client_ip=trade.client_ip,
        account_fingerprint=trade.account_fingerprint,
        counted_statuses=frozenset(s.value for s in COUNTS_TOWARDS_LIMITS),
        paid_status=S.PAID.value,
        created_at=trade.created_at,
    )


@dataclass(frozen=True)
class LookedUp:
    """The issuer's answer to a look-up, when it was asked, and how the rules judged it."""

    answer: VoucherStatus
    decision: Decision
    asked_at: datetime


@contextmanager
def _counted(ctx: Context, brand: str, operation: str) -> Iterator[None]:
    """Record an issuer call that failed or timed out (the issuer guard's signal), then let it rise."""
    try:
        yield
    except ExternalUnavailable as error:
        issuer_health.record_failure(ctx, brand, operation, error)
        raise


def _look_up(ctx: Context, handoff: Handoff) -> LookedUp:
    """Ask the issuer about the voucher, and judge its answer (state, balance, channel)."""
    trade = handoff.trade
    code, pin = _voucher(ctx, trade)
    asked_at = ctx.clock.now()
    with timed(ISSUER_LATENCY, "lookup"), _counted(ctx, trade.brand_slug, "lookup"):
        answer = ctx.issuer.lookup(trade.brand_slug, code, pin)
    declared = AcquisitionMethod(trade.acquisition_method)
    decision = screening.screen_issuer_answer(answer, trade.face_value.amount, trade.currency, declared)
    return LookedUp(answer, decision, asked_at)


def _issuer_fact(
    conn: Connection,
    trade: Trade,
    what: str,
    asked_at: datetime,
    answer: VoucherStatus | None,
    refused: VoucherRefused | None,
    now: datetime,
) -> None:
    """Keep the issuer's answer a refusal rests on (its hash, time of use, reference) on the trade."""
    details: dict[str, object] = {"asked": what.removeprefix("issuer."), "asked_at": facts.utc_iso(asked_at)}
    raw = b""
    if answer is not None:
        raw = answer.answer
        details["state"] = answer.state.value
        details["balance"] = {"amount": answer.balance, "currency": answer.currency or trade.currency}
        if answer.purchase_channel:
            details["purchase_channel"] = answer.purchase_channel
        if answer.redeemed_at is not None:
            details["redeemed_at"] = facts.utc_iso(answer.redeemed_at)
        if answer.redeemed_by:
            # The issuer's reference for the redemption; one of ours would name another seller's trade.
            mine = answer.redeemed_by == trade.id or not facts.is_trade(conn, answer.redeemed_by)
            details["reference" if mine else "redeemed_through_this_exchange"] = (
                answer.redeemed_by if mine else True
            )
    if refused is not None:
        raw = refused.answer
        details["state"] = refused.state.value
    facts.record_fact(conn, trade.id, "issuer", what, raw or None, details, now)


def _verify(
    ctx: Context, conn: Connection, handoff: Handoff, looked: LookedUp, now: datetime
) -> Handoff | None:
    """Refuse on the issuer's answer, then ask the risk engine."""
    trade = handoff.trade
    answer, decision = looked.answer, looked.decision
    declared = AcquisitionMethod(trade.acquisition_method)
    # The issuer's issue date (a risk feature for later trades) is kept by the status change below.
    issued: dict[str, Any] = {} if answer.issued_at is None else {"issued_at": answer.issued_at}
    if decision.evidence.get("false_declaration"):
        trade_repo.flag_seller(
            conn,
            trade.user_id,
            trade.id,
            "false_acquisition_declaration",
            {"declared": declared.value, "issuer_channel": answer.purchase_channel},
            now,
        )
    if decision.outcome is Outcome.REJECT:
        _reject(conn, handoff, S.VERIFYING, decision, DecisionStage.ISSUER, now, **issued)
        if looked.decision.outcome is Outcome.REJECT:  # the issuer's answer refused it
            _issuer_fact(conn, trade, "issuer.lookup", looked.asked_at, answer, None, now)
        return None
    # The current sanctions list decides (risk screens the seller again if a newer one was loaded).
    verdict = risk_service.decide(
        conn, risk_subject(trade), answer, decision.evidence, now, ctx.settings.jurisdiction
    )
    if BrandStatus(verdict.brand_status) is BrandStatus.SUSPENDED:  # since it was screened
        suspended = Decision(Outcome.REJECT, ["brand_suspended"], decision.evidence)
        _reject(conn, handoff, S.VERIFYING, suspended, DecisionStage.ISSUER, now, **issued)
        return None
    # Stored with the status change they lead to.
    decided = tuple(
        trade_repo.Decided(
            DecisionStage(recorded.stage),
            recorded.outcome,
            recorded.reasons,
            recorded.ruleset_version,
            recorded.evidence,
            risk_service.DECIDER,
        )
        for recorded in verdict.decisions
    )
    to = handoff.notice
    enforced = [r for r in verdict.decisions if r.stage != DecisionStage.SHADOW.value]
    if enforced:
        to = _seen(to, enforced[-1].reasons, enforced[-1].evidence)
    outcome = verdict.evaluation.outcome
    note = ", ".join(verdict.evaluation.reasons) or None
    if outcome is Outcome.APPROVE:
        lifecycle.approve_for_redemption(conn, trade.id, now, decision.evidence, decided, **issued)
    elif outcome is Outcome.REVIEW:
        told = _told(trade, S.IN_REVIEW, to)
        lifecycle.hold_for_review(
            conn, trade.id, now, note, decision.evidence, notice=told, decided=decided, **issued
        )
    else:
        lifecycle.reject(
            conn,
            trade.id,
            S.VERIFYING,
            now,
            verdict.evaluation.reasons,
            notice=_told(trade, S.REJECTED, to),
            decided=decided,
            issuer_answer=decision.evidence,
            **issued,
        )
    if outcome is not Outcome.APPROVE:
        return None
    issued_at = answer.issued_at if answer.issued_at is not None else trade.issued_at
    return _moved(trade, S.REDEEMING, now, to, issued_at=issued_at, issuer_answer=decision.evidence)


def _redeem_or_learn(ctx: Context, trade: Trade, code: str, pin: str | None) -> Redemption:
    """Redeem; if the answer was lost, ask the issuer what happened before trying again."""
    face = trade.face_value.amount
    try:
        with timed(ISSUER_LATENCY, "redeem"), _counted(ctx, trade.brand_slug, "redeem"):
            return ctx.issuer.redeem(trade.brand_slug, code, pin, face, trade.id)
    except ExternalUnavailable:
        with timed(ISSUER_LATENCY, "lookup"), _counted(ctx, trade.brand_slug, "lookup"):
            status = ctx.issuer.lookup(trade.brand_slug, code, pin)
        if status.state is VoucherState.REDEEMED and status.redeemed_by == trade.id:
            return Redemption(reference=trade.id, amount=face)
        raise


@dataclass(frozen=True)
class RedeemRefused:
    """The issuer refused to redeem: the decision to record, when it was asked, and its answer."""

    decision: Decision
    asked_at: datetime
    refused: VoucherRefused


def _redeem(ctx: Context, handoff: Handoff) -> Redemption | RedeemRefused:
    """Secure the value at the issuer: its redemption, or the refusal to record."""
    trade = handoff.trade
    code, pin = _voucher(ctx, trade)
    crash_point("before_issuer_redeem")
    asked_at = ctx.clock.now()
    try:
        redemption = _redeem_or_learn(ctx, trade, code, pin)
    except VoucherRefused as refused:
        reason = (
            "balance_mismatch"
            if refused.state is VoucherState.ACTIVE
            else screening.reason_for_state(refused.state)
        )
        decision = Decision(Outcome.REJECT, [reason], {"issuer_state": refused.state.value})
        return RedeemRefused(decision, asked_at, refused)
    crash_point("after_issuer_redeem")
    return redemption


def _secure(
    ctx: Context, conn: Connection, handoff: Handoff, redeemed: Redemption | RedeemRefused, now: datetime
) -> Handoff | None:
    """Record the issuer's refusal; or mark the voucher secured, credit the seller, and create and
    reserve the payout, atomically (no outside call in between, so one transaction)."""
    trade = handoff.trade
    if isinstance(redeemed, RedeemRefused):
        _reject(conn, handoff, S.REDEEMING, redeemed.decision, DecisionStage.REDEEM, now)
        _issuer_fact(conn, trade, "issuer.redeem", redeemed.asked_at, None, redeemed.refused, now)
        return None
    # The promise's clock starts now; a trade a person reviewed was told it is excluded.
    held = lifecycle.mark_secured(conn, trade.id, now, redeemed.reference)
    gate = _gate(ctx, conn, trade, now)  # its read carries the promise's terms
    promise = promise_service.record_promise(conn, gate.terms, trade.id, trade.fee, now, held)
    for intent in postings.credit_trade(trade):
        ledger_repo.write(conn, intent, now)
    credited = _moved(trade, S.CREDITED, now, secured_at=now, redemption_ref=redeemed.reference)
    return _open_payout(ctx, conn, credited.trade, now, handoff.notice, gate, promise)


def new_payout(trade: Trade, amount: Money | None = None, attempt: int = 1) -> NewPayout:
    """The payout a credited trade is owed (less any netting), to its destination."""
    return NewPayout(trade.id, trade.user_id, trade.payout_destination_id, amount or trade.payout, attempt)


def _start_payout(ctx: Context, conn: Connection, handoff: Handoff, _: None, now: datetime) -> Handoff | None:
    """A credited trade (after a crash, a freeze or a netting race): create and reserve its payout."""
    return _open_payout(ctx, conn, handoff.trade, now, handoff.notice)


class _Gate(NamedTuple):
    """The payout gate's answer for a trade (`payout_gate.why_held`), and what its one statement
    also read: what the seller still owes after reversals, and the promise's terms in force."""

    blocked: str | None
    seller: User
    destination: Destination
    owed: int
    terms: PromiseTerms


def _gate(ctx: Context, conn: Connection, trade: Trade, now: datetime) -> _Gate:
    receivable = seller_receivable(trade.user_id, trade.currency)
    blocked, seller, destination, read = payout_gate.why_held(
        conn,
        trade.user_id,
        trade.payout_destination_id,
        trade.ledger_reference,
        trade.payout,
        now,
        _PAYOUT_READ,
        owed_code=receivable.code,
        owed_currency=receivable.currency,
    )
    return _Gate(blocked, seller, destination, int(read.owed), promise_service.terms_in(read, ctx.settings))


# The payout gate's one statement, with what the seller still owes and the promise's terms.
_PAYOUT_READ = payout_gate.reading(ledger_repo.owed_column(), *promise_service.TERMS)


def _open_payout(
    ctx: Context,
    conn: Connection,
    trade: Trade,
    now: datetime,
    to: notices.Recipient | None = None,
    gate: _Gate | None = None,
    promise: TradePromise | None = None,
) -> Handoff | None:
    """Create the trade's payout, less what the seller owes after a reversal (netting, atomic),
    and reserve it in the ledger if the treasury covers it. `gate`: the payout gate's answer
    this transaction already read (else read now); `promise`: the promise it just recorded.

    None when it may not be paid now (`payout_gate`: it stays credited until a new identity
    check or a reviewer's release re-enqueues it), or when netting settled it all. A savepoint
    keeps a short treasury from undoing the credit: the payout step then waits for funds.
    """
    gate = gate or _gate(ctx, conn, trade, now)
    if gate.blocked is not None:
        return None
    seller, destination, owed = gate.seller, gate.destination, gate.owed
    offset = min(owed, trade.payout.amount)
    if offset:
        try:
            ledger_repo.write(
                conn,
                postings.net_against_receivable(trade.id, trade.user_id, Money(offset, trade.currency)),
                now,
            )
        except InsufficientFunds:
            # Another trade of this seller settled the debt first: read it again.
            raise TradeMovedOn(trade.id, S.CREDITED) from None
        publish.receivable_changed(conn, trade.id, "netting", now)
    rest = trade.payout.amount - offset
    if rest:
        rest -= _net_linked_debts(ctx, conn, seller, trade, rest, now)
    if not rest:
        lifecycle.settle_by_netting(conn, trade.id, now, notice=_told(trade, S.PAID, to, 0))
        return None
    payout = payout_service.create(conn, new_payout(trade, Money(rest, trade.currency)), now)
    lifecycle.start_payout(conn, trade.id, now)
    paying = replace(_moved(trade, S.PAYING_OUT, now, to), promise=promise)
    if gate.terms.window.contains(now):
        # The banks are closed: the payout waits, unreserved, until the window ends (`_send`).
        lifecycle.note(conn, trade.id, S.PAYING_OUT, now, lifecycle.BANK_WINDOW_NOTE)
        return paying
    payout = _with_compensation(conn, trade, payout, now, promise)
    try:
        with conn.begin_nested():
            reserved = payout_service.reserve(conn, payout, now, destination)
    except TreasuryShort:
        return paying
    return replace(paying, reserved=reserved)


def _owed_by(conn: Connection, user_id: str, currency: str) -> int:
    """What an account still owes after reversals (the receivable's debit balance)."""
    account = ledger_repo.account(conn, seller_receivable(user_id, currency))
    return 0 if account is None else account.debits_posted - account.credits_posted - account.credits_pending


def _net_linked_debts(
    ctx: Context, conn: Connection, seller: User, trade: Trade, left: int, now: datetime
) -> int:
    """Settle what other accounts of the same person owe (identity/links.py) from what is left of
    this payout, oldest debt's account first by id; how much was settled.

    Netting, not a hold: no money leaves for this person while a debt of theirs is open, and the
    debt shrinks by what they would have been paid. Each transfer is audited: it moves money
    between two of the person's accounts.
    """
    settled = 0
    for owner in links.linked_accounts(conn, ctx.vault, seller):
        share = min(_owed_by(conn, owner, trade.currency), left - settled)
        if share <= 0:
            continue
        amount = Money(share, trade.currency)
        try:
            ledger_repo.write(
                conn, postings.net_against_linked_receivable(trade.id, trade.user_id, owner, amount), now
            )
        except InsufficientFunds:
            # Another trade settled that debt first: read it again.
            raise TradeMovedOn(trade.id, S.CREDITED) from None
        audit.record(
            conn,
            WORKER,
            "receivable.netted_linked",
            trade.id,
            {"seller": trade.user_id, "owed_by": owner, "amount": amount.as_json()},
            now,
        )
        settled += share
        if settled == left:
            break
    if settled:
        lifecycle.record_linked_netting(conn, trade.id, now)
    return settled


def _send(ctx: Context, handoff: Handoff) -> PayoutOutcome:
    """Send the trade's payout (or learn what the rail did with it).

    A payout reserved in this pass was checked in that transaction; one that waited (a short
    treasury, a crash before reserving) is checked again just before it is reserved and sent.
    One already handed to the rail is never held: the rail may have executed it.
    """
    trade = handoff.trade
    if handoff.reserved is not None:
        return payout_service.send(ctx, handoff.reserved[0].id, handoff.reserved)
    with ctx.uow() as uow:
        payout = payout_service.for_trade(uow.conn, trade.id)
        assert payout is not None, f"trade {trade.id} is paying out without a payout"
        waited = payout.status is PayoutStatus.CREATED
        now = ctx.clock.now()
        blocked = None
        if waited:
            blocked = payout_gate.before_sending(
                uow.conn,
                ctx.settings,
                trade.user_id,
                trade.payout_destination_id,
                trade.ledger_reference,
                trade.payout,
                payout.id,
                now,
            )
            if blocked is None:
                _with_compensation(uow.conn, trade, payout, now)
        uow.commit()
    crash_point("after_promise_checked")
    if blocked is not None:
        raise PayoutHeld(payout.id, blocked)
    return payout_service.send(ctx, payout.id)


def _with_compensation(
    conn: Connection, trade: Trade, payout: Payout, now: datetime, promise: TradePromise | None = None
) -> Payout:
    """The payout about to be handed to the bank, with the compensation added if it misses the
    trade's promise (any attempt: after a refused transfer, the one sent to the seller's other
    account too; once per trade). The compensation's ledger transfer, the promise marked
    compensated and the payout's raised amount commit together, before the payout is reserved, so
    the bank transfer carries exactly what the ledger says and a re-run adds nothing."""
    if payout.status is not PayoutStatus.CREATED:
        return payout
    extra = promise_service.claim_compensation(conn, trade.id, trade.user_id, now, known=promise)
    if extra is None or not extra.is_positive():
        return payout
    lifecycle.note(conn, trade.id, S.PAYING_OUT, now, lifecycle.COMPENSATION_NOTE)
    raised = payout_service.add_to_amount(conn, payout, extra)
    if raised is None:
        # Another process reserved the payout in between: undo this credit and read it again.
        raise TradeMovedOn(trade.id, S.PAYING_OUT)
    return raised


def _pay(ctx: Context, conn: Connection, handoff: Handoff, outcome: PayoutOutcome, now: datetime) -> None:
    """Record the rail's answer and the trade's status together."""
    payout_service.record(conn, outcome, now)
    trade = handoff.trade
    if outcome.executed:
        # What reached the bank: this payout, compensation included (netting took the rest).
        sent = outcome.payout.amount.amount
        lifecycle.mark_paid(conn, trade.id, now, notice=_told(trade, S.PAID, handoff.notice, sent))
        late_payout.compensate_late_execution(conn, trade, outcome, now, handoff.promise)
    else:
        refused = _seen(handoff.notice, [lifecycle.PAYOUT_REFUSED], {})
        lifecycle.payout_refused(conn, trade.id, now, notice=_told(trade, S.FAILED, refused))


STAGES: dict[TradeStatus, Stage] = {
    S.RECEIVED: Stage(None, _screen),
    S.SCREENING: Stage(None, _screen),
    S.VERIFYING: Stage(_look_up, _verify),
    S.REDEEMING: Stage(_redeem, _secure, moves_treasury=True),
    S.CREDITED: Stage(None, _start_payout, moves_treasury=True),
    S.PAYING_OUT: Stage(_send, _pay, moves_treasury=True),
}


Renew = Callable[[Connection, datetime], None]


def process_many(
    ctx: Context,
    trade_ids: Sequence[str],
    calls: ThreadPoolExecutor | None = None,
    renew: Renew | None = None,
) -> dict[str, Exception | None]:
    """Advance a batch of trades as far as each can go now: per trade, None, or what stopped it.

    Round by round, the trades at the same stage make their outside calls concurrently on
    `calls` (one per trade, no transaction open), then that stage's database work for all
    of them runs in ONE transaction, oldest trade first (so the first of two trades selling
    the same code still claims it). A stage that reserves or settles payouts locks the
    treasury first: every batch then takes the rows it shares with others in one order, and
    two batches cannot deadlock on a seller's account and the treasury.

    If that transaction fails (another process moved a trade, a deadlock with a lone trade, a
    netting race) it rolls back whole and each of its trades runs alone through
    `process_trade`: every step is idempotent, so a call made twice moves nothing twice. An
    exception from a trade's own outside call is that trade's result (its job retries or
    waits, as with `process_trade`). `renew` runs in every stage's transaction (the worker
    pushes out its jobs' leases there, so a long batch is not taken over while it works).
    """
    results: dict[str, Exception | None] = dict.fromkeys(trade_ids)
    with ctx.uow(readonly=True) as uow:
        active = [Handoff(t, batched=b) for t, b in trade_repo.for_work(uow.conn, list(results))]
    for _ in range(2 * len(STAGES)):
        groups: dict[int, list[Handoff]] = {}
        for handoff in active:
            stage = STAGES.get(handoff.trade.status)
            if stage is not None:
                groups.setdefault(id(stage), []).append(handoff)
        if not groups:
            break
        active = []
        for group in groups.values():
            group.sort(key=lambda h: (h.trade.created_at, h.trade.id))
            active += run_stage_batch(ctx, STAGES[group[0].trade.status], group, calls, results, renew)
    return results


def run_stage_batch(
    ctx: Context,
    stage: Stage,
    group: list[Handoff],
    calls: ThreadPoolExecutor | None,
    results: dict[str, Exception | None],
    renew: Renew | None = None,
) -> list[Handoff]:
    """One stage for a group of trades; what each hands on (the ones that go further now)."""
    answers: list[tuple[Handoff, Any]] = []
    if stage.call is None:
        answers = [(h, None) for h in group]
    else:
        for handoff, answer in zip(group, _call_all(ctx, stage.call, group, calls), strict=True):
            if isinstance(answer, _Failed):
                results[handoff.trade.id] = answer.error
            else:
                answers.append((handoff, answer))
    try:
        with ctx.uow() as uow:
            now = ctx.clock.now()
            if renew is not None:
                renew(uow.conn, now)
            if stage.moves_treasury and len(answers) > 1:
                currencies = sorted({h.trade.currency for h, _ in answers})
                ledger_repo.lock(uow.conn, [treasury(c) for c in currencies])
            following = []
            for handoff, answer in answers:
                with structlog.contextvars.bound_contextvars(ref=handoff.trade.id):
                    after = stage.apply(ctx, uow.conn, handoff, answer, now)
                if after is not None:
                    following.append(after)
            uow.commit()
    except Exception as exc:  # noqa: BLE001 - each trade is then run alone, which reports its own error
        log.info("batch_stage_alone", trades=len(answers), error=type(exc).__name__)
        for handoff, _ in answers:
            results[handoff.trade.id] = _alone(ctx, handoff.trade.id)
        return []
    return following


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _call_all(
    ctx: Context,
    call: Callable[[Context, Handoff], Any],
    group: list[Handoff],
    calls: ThreadPoolExecutor | None,
) -> list[Any]:
    """Each trade's outside call (concurrently on `calls`); a failure is returned as `_Failed`."""

    def one(handoff: Handoff) -> Any:
        with structlog.contextvars.bound_contextvars(ref=handoff.trade.id):
            try:
                return call(ctx, handoff)
            except Exception as exc:  # noqa: BLE001 - the trade's result: its job handles it
                return _Failed(exc)

    if calls is None or len(group) == 1:
        return [one(h) for h in group]
    # Each call runs in a copy of this context, so log lines keep the job's bound values.
    futures = [calls.submit(contextvars.copy_context().run, one, h) for h in group]
    wait(futures)  # all of them, even if one dies (a crash): none is left running behind us
    return [f.result() for f in futures]


def _alone(ctx: Context, trade_id: str) -> Exception | None:
    with structlog.contextvars.bound_contextvars(ref=trade_id):
        try:
            process_trade(ctx, trade_id)
        except Exception as exc:  # noqa: BLE001 - the trade's result: its job handles it
            return exc
    return None
