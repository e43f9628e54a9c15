"""The worker's trade pipeline: screen, verify, secure, credit, then hand to payouts.

Each step is one short transaction guarded by `UPDATE … WHERE status = expected`;
outbound calls happen between transactions, never inside one. Every step can run
again after a crash: the issuer redeem is idempotent on the trade id and the
ledger write on its key, so re-running moves nothing twice.
"""

from __future__ import annotations

from typing import Any

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.context import Context
from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import payout_destinations, voucher_claims
from voucher_exchange.errors import ExternalUnavailable
from voucher_exchange.faults import crash_point
from voucher_exchange.issuers.ports import Redemption, VoucherRefused, VoucherState
from voucher_exchange.ledger import models as postings
from voucher_exchange.ledger import repository as ledger
from voucher_exchange.metrics import ISSUER_LATENCY, timed
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.risk import sanctions_customers, screening
from voucher_exchange.risk import service as risk
from voucher_exchange.risk.screening import Decision, Outcome
from voucher_exchange.trades import repository
from voucher_exchange.trades.models import AcquisitionMethod, TradeStatus, check_transition

S = TradeStatus
WORKER = "worker"


class TradeMovedOn(Exception):
    """Another process changed the trade first; this step has nothing left to do."""


def _move(
    conn: Any,
    trade_id: str,
    current: TradeStatus,
    target: TradeStatus,
    now: Any,
    note: str | None = None,
    **values: Any,
) -> None:
    check_transition(current, target)
    if not repository.transition(conn, trade_id, current, target, now, WORKER, note, **values):
        raise TradeMovedOn(trade_id)


def process_trade(ctx: Context, trade_id: str) -> None:
    """Advance a trade as far as it can go now; stops when it waits for a person or is terminal."""
    steps = {
        S.RECEIVED: _screen,
        S.SCREENING: _screen,
        S.VERIFYING: _verify,
        S.REDEEMING: _secure,
        S.CREDITED: _start_payout,
        S.PAYING_OUT: payout_service.send,
    }
    for _ in range(len(steps) + 1):
        with ctx.uow(readonly=True) as uow:
            row = repository.get(uow.conn, trade_id)
        if row is None:
            return
        step = steps.get(S(row.status))
        if step is None:
            return
        try:
            step(ctx, row)
        except TradeMovedOn:
            continue


def _reject(conn: Any, row: Any, current: TradeStatus, decision: Decision, stage: str, now: Any) -> None:
    repository.add_decision(
        conn,
        row.id,
        stage,
        Outcome.REJECT.value,
        decision.reasons,
        screening.RULESET_VERSION,
        decision.evidence,
        WORKER,
        now,
    )
    _move(conn, row.id, current, S.REJECTED, now, ", ".join(decision.reasons))


def _screen(ctx: Context, row: Any) -> None:
    """Checks that need no outside call. Claims the voucher code for this trade, once ever."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        current = S(row.status)
        if current is S.RECEIVED:
            _move(conn, row.id, S.RECEIVED, S.SCREENING, now)
            current = S.SCREENING
        seller = accounts.by_id(conn, row.user_id, lock=True)
        assert seller is not None
        brand = catalog.require_brand(conn, row.brand_slug)
        dest_status = (
            conn.execute(
                payout_destinations.select().where(payout_destinations.c.id == row.payout_destination_id)
            )
            .one()
            .status
        )
        day_start, month_start = screening.period_starts(now, ctx.settings.jurisdiction)
        facts = screening.SubmissionFacts(
            declared_method=AcquisitionMethod(row.acquisition_method),
            brand_status=brand.status,
            kyc_tier=seller.kyc_tier,
            identity_status=seller.identity_status.value,
            destination_status=dest_status,
            face_value=int(row.face_value),
            used_today=repository.used_since(conn, seller.id, day_start, row.id),
            used_this_month=repository.used_since(conn, seller.id, month_start, row.id),
            limits=screening.TIER_LIMITS[ctx.settings.jurisdiction][min(seller.kyc_tier, 2)],
        )
        decision = screening.screen_submission(facts)
        declared_carrier = "carrier_billing_prohibited" in decision.reasons
        if decision.outcome is Outcome.APPROVE or declared_carrier:
            # A carrier-billed code is claimed too, so it cannot come back declared as a gift.
            claimed = insert_ignore(
                conn,
                voucher_claims,
                {"fingerprint": row.voucher_fingerprint, "trade_id": row.id, "created_at": now},
                ["fingerprint"],
            )
            owner = (
                conn.execute(
                    voucher_claims.select().where(voucher_claims.c.fingerprint == row.voucher_fingerprint)
                )
                .one()
                .trade_id
            )
            if not claimed and owner != row.id and not declared_carrier:
                evidence = {**decision.evidence, "first_trade": owner}
                decision = Decision(Outcome.REJECT, ["duplicate_voucher"], evidence)
        if decision.outcome is Outcome.REJECT:
            _reject(conn, row, current, decision, "screening", now)
        else:
            repository.add_decision(
                conn,
                row.id,
                "screening",
                Outcome.APPROVE.value,
                [],
                screening.RULESET_VERSION,
                decision.evidence,
                WORKER,
                now,
            )
            _move(conn, row.id, current, S.VERIFYING, now)
        uow.commit()


def _voucher(ctx: Context, row: Any) -> tuple[str, str | None]:
    secret = ctx.vault.decrypt_json(row.voucher_enc, row.id)
    return str(secret["code"]), secret.get("pin")


def _verify(ctx: Context, row: Any) -> None:
    """Ask the issuer about the voucher; refuse on its state, balance or channel; then the risk engine."""
    code, pin = _voucher(ctx, row)
    with timed(ISSUER_LATENCY, "lookup"):
        answer = ctx.issuer.lookup(row.brand_slug, code, pin)
    now = ctx.clock.now()
    declared = AcquisitionMethod(row.acquisition_method)
    decision = screening.screen_issuer_answer(answer, int(row.face_value), row.currency, declared)
    with ctx.uow() as uow:
        conn = uow.conn
        brand = catalog.require_brand(conn, row.brand_slug)
        repository.record_issue_date(conn, row.id, answer.issued_at)
        if decision.outcome is Outcome.APPROVE and brand.status is BrandStatus.SUSPENDED:
            decision = Decision(Outcome.REJECT, ["brand_suspended"], decision.evidence)
        if decision.evidence.get("false_declaration"):
            repository.flag_seller(
                conn,
                row.user_id,
                row.id,
                "false_acquisition_declaration",
                {"declared": declared.value, "issuer_channel": answer.purchase_channel},
                now,
            )
        if decision.outcome is Outcome.REJECT:
            _reject(conn, row, S.VERIFYING, decision, "issuer", now)
        else:
            verdict = risk.decide(
                conn, row, answer, decision.evidence, now, ctx.settings.jurisdiction, brand.scam_favoured
            )
            target = {Outcome.APPROVE: S.REDEEMING, Outcome.REVIEW: S.IN_REVIEW, Outcome.REJECT: S.REJECTED}
            note = ", ".join(verdict.reasons) or None
            _move(
                conn, row.id, S.VERIFYING, target[verdict.outcome], now, note, issuer_answer=decision.evidence
            )
        uow.commit()


def _redeem_or_learn(ctx: Context, row: Any, code: str, pin: str | None) -> Redemption:
    """Redeem; if the answer was lost, ask the issuer what happened before trying again."""
    try:
        with timed(ISSUER_LATENCY, "redeem"):
            return ctx.issuer.redeem(row.brand_slug, code, pin, int(row.face_value), row.id)
    except ExternalUnavailable:
        with timed(ISSUER_LATENCY, "lookup"):
            status = ctx.issuer.lookup(row.brand_slug, code, pin)
        if status.state is VoucherState.REDEEMED and status.redeemed_by == row.id:
            return Redemption(reference=row.id, amount=int(row.face_value))
        raise


def _secure(ctx: Context, row: Any) -> None:
    """Secure the value at the issuer, then credit the seller and create the payout, atomically."""
    code, pin = _voucher(ctx, row)
    crash_point("before_issuer_redeem")
    try:
        redemption = _redeem_or_learn(ctx, row, code, pin)
    except VoucherRefused as refused:
        reason = (
            "balance_mismatch"
            if refused.state is VoucherState.ACTIVE
            else screening.reason_for_state(refused.state)
        )
        with ctx.uow() as uow:
            _reject(
                uow.conn,
                row,
                S.REDEEMING,
                Decision(Outcome.REJECT, [reason], {"issuer_state": refused.state.value}),
                "redeem",
                ctx.clock.now(),
            )
            uow.commit()
        return
    crash_point("after_issuer_redeem")
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        _move(
            conn,
            row.id,
            S.REDEEMING,
            S.CREDITED,
            now,
            secured_at=now,
            redemption_ref=redemption.reference,
        )
        for intent in postings.credit_trade(
            row.id, row.user_id, row.brand_slug, row.currency, int(row.payout), int(row.fee)
        ):
            ledger.write(conn, intent, now, trade_id=row.id)
        uow.commit()


def _start_payout(ctx: Context, row: Any) -> None:
    """Create the trade's one payout (the unique trade_id makes a second impossible)."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        conn = uow.conn
        if sanctions_customers.payouts_frozen(conn, row.user_id):
            return  # sanctions freeze: stays credited until a reviewer releases it (which re-enqueues)
        payout_service.create_payout(conn, row, now)
        _move(conn, row.id, S.CREDITED, S.PAYING_OUT, now)
        uow.commit()
