"""Every change of a trade's status, one named function per transition.

Each function checks the transition table, makes the conditional update
(`UPDATE … WHERE status = expected`), writes the event and enqueues what follows, all
in the caller's transaction. When another process moved the trade first it raises
`TradeMovedOn` and the caller's transaction rolls back. Nothing else writes
`trades.status` (a test reads the source to prove it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.jobs import queue
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import (
    CANCELLABLE,
    NOTIFY_ON,
    NOTIFY_TRADE,
    PROCESS_TRADE,
    RELEASES_CLAIM,
    TERMINAL,
    TRANSITIONS,
    DecisionStage,
    TradeMovedOn,
    TradeStatus,
    check_transition,
)
from voucher_exchange.trades.publish import ON_STATUS, status_event, trade_event
from voucher_exchange.webhooks.models import EventType

S = TradeStatus
WORKER = "worker"


def _move(
    conn: Connection,
    trade_id: str,
    current: TradeStatus,
    target: TradeStatus,
    now: datetime,
    actor: str = WORKER,
    note: str | None = None,
    *,
    resume: bool = False,
    publish: bool = True,
    notice: dict[str, Any] | None = None,
    ask_reviewed: bool = False,
    decided: tuple[trade_repo.Decided, ...] = (),
    via: TradeStatus | None = None,
    **values: Any,
) -> trade_repo.Moved:
    for step in [(current, target)] if via is None else [(current, via), (via, target)]:
        check_transition(*step)
    tells = publish and target in ON_STATUS  # the seller's webhooks hear of it, if they have any
    moved = trade_repo.set_status(
        conn,
        trade_id,
        current,
        target,
        now,
        history=(actor, note),
        ask_listening=tells,
        ask_reviewed=ask_reviewed,
        decided=decided,
        via=via,
        **values,
    )
    if moved is None:
        raise TradeMovedOn(trade_id, current)
    if target in NOTIFY_ON:
        # In the same transaction as the change: the seller's e-mail cannot be lost (outbox).
        queue.enqueue(conn, NOTIFY_TRADE, f"{trade_id}:{target.value}", now, payload=notice)
    if resume:
        queue.enqueue(conn, PROCESS_TRADE, trade_id, now)
    if tells and moved.listening:
        # The partner's webhook event, in the same transaction: never lost, never for a rollback.
        status_event(conn, trade_id, target, now, moved.seller)
    return moved


def receive(
    conn: Connection,
    trade_id: str,
    now: datetime,
    actor: str,
    seller_id: str | None = None,
    listening: bool = True,
) -> None:
    """A new trade was stored as `received` (in this transaction): write its first event and
    hand it to the worker. With `seller_id` the seller's webhooks are asked without reading the
    trade; `listening` False: the seller has no webhook endpoint (as its insert read)."""
    trade_repo.add_event(conn, trade_id, None, S.RECEIVED, now, actor, None, first=True)
    queue.enqueue(conn, PROCESS_TRADE, trade_id, now)
    if listening:
        status_event(conn, trade_id, S.RECEIVED, now, seller_id)


def start_screening(conn: Connection, trade_id: str, now: datetime) -> None:
    """`received → screening`."""
    _move(conn, trade_id, S.RECEIVED, S.SCREENING, now)


def start_verifying(
    conn: Connection,
    trade_id: str,
    now: datetime,
    decided: tuple[trade_repo.Decided, ...] = (),
    current: TradeStatus = S.SCREENING,
) -> None:
    """`screening → verifying`: screening passed (`decided`: the decision that says so, stored
    with the change); the issuer is asked next. From `received`: screened in this transaction,
    `received → screening → verifying` in one change."""
    via = S.SCREENING if current is S.RECEIVED else None
    _move(conn, trade_id, current, S.VERIFYING, now, decided=decided, via=via)


def approve_for_redemption(
    conn: Connection,
    trade_id: str,
    now: datetime,
    issuer_answer: dict[str, Any],
    decided: tuple[trade_repo.Decided, ...] = (),
    **values: Any,
) -> None:
    """`verifying → redeeming`: the issuer and the risk engine accepted the voucher.

    `decided`: the decisions it rests on, stored with the change. `values`: other columns the
    step sets with the status (the issuer's `issued_at`).
    """
    _move(
        conn, trade_id, S.VERIFYING, S.REDEEMING, now, issuer_answer=issuer_answer, decided=decided, **values
    )


def hold_for_review(
    conn: Connection,
    trade_id: str,
    now: datetime,
    note: str | None,
    issuer_answer: dict[str, Any],
    *,
    notice: dict[str, Any] | None = None,
    decided: tuple[trade_repo.Decided, ...] = (),
    **values: Any,
) -> None:
    """`verifying → in_review`: a person decides (nothing has moved yet); `decided` and `values`
    as above.

    `notice`: the facts of the seller's e-mail (`notices.facts`), when the caller has them.
    """
    _move(
        conn,
        trade_id,
        S.VERIFYING,
        S.IN_REVIEW,
        now,
        WORKER,
        note,
        notice=notice,
        issuer_answer=issuer_answer,
        decided=decided,
        **values,
    )


FRAUD_REPORT = "fraud_report"
# Statuses a fraud report can still stop before anything is secured or paid.
HOLDABLE_ON_REPORT = frozenset({S.RECEIVED, S.SCREENING, S.VERIFYING})


def hold_on_report(
    conn: Connection, trade_id: str, current: TradeStatus, now: datetime, evidence: dict[str, Any]
) -> None:
    """`received | screening | verifying → in_review`: a fraud report named the voucher; a person decides.

    Whatever the worker is doing with the trade then finds it moved on and stops (`TradeMovedOn`).
    """
    if current not in HOLDABLE_ON_REPORT:
        raise TradeMovedOn(trade_id, current)
    note = "held: a fraud report named this voucher"
    _move(conn, trade_id, current, S.IN_REVIEW, now, "fraud_report", note, publish=False)
    note_report(conn, trade_id, now, evidence)
    status_event(conn, trade_id, S.IN_REVIEW, now)  # after the decision: the event's trade shows why


def note_report(conn: Connection, trade_id: str, now: datetime, evidence: dict[str, Any]) -> None:
    """A fraud report named a trade held for review: the reviewer sees it (the status stays)."""
    trade_repo.add_decision(
        conn,
        trade_id,
        DecisionStage.REPORT,
        "review",
        [FRAUD_REPORT],
        "report",
        evidence,
        "fraud_report",
        now,
    )


def reject(
    conn: Connection,
    trade_id: str,
    current: TradeStatus,
    now: datetime,
    reasons: list[str],
    actor: str = WORKER,
    *,
    notice: dict[str, Any] | None = None,
    decided: tuple[trade_repo.Decided, ...] = (),
    **values: Any,
) -> None:
    """`… → rejected`: refused with reasons; no money moved.

    A refusal that says nothing bad about the voucher releases its claim (RELEASES_CLAIM):
    the seller can sell it again under a new quote. `notice` and `decided` as for
    `hold_for_review`.
    """
    note = ", ".join(reasons) or None
    # Screened in the same transaction as it was received: `received → screening → rejected`.
    via = S.SCREENING if current is S.RECEIVED else None
    _move(
        conn,
        trade_id,
        current,
        S.REJECTED,
        now,
        actor,
        note,
        notice=notice,
        decided=decided,
        via=via,
        **values,
    )
    if reasons and set(reasons) <= RELEASES_CLAIM:
        trade_repo.release_claim(conn, trade_id)


def mark_secured(conn: Connection, trade_id: str, now: datetime, redemption_ref: str) -> bool:
    """`redeeming → credited`: the value is secured at the issuer. Whether the trade was ever held
    for review (read by the same statement, so no change in between is missed)."""
    moved = _move(
        conn,
        trade_id,
        S.REDEEMING,
        S.CREDITED,
        now,
        ask_reviewed=True,
        secured_at=now,
        redemption_ref=redemption_ref,
    )
    return moved.reviewed


def start_payout(conn: Connection, trade_id: str, now: datetime) -> None:
    """`credited → paying_out`: the trade's payout exists and is to be sent."""
    _move(conn, trade_id, S.CREDITED, S.PAYING_OUT, now)


def mark_paid(conn: Connection, trade_id: str, now: datetime, notice: dict[str, Any] | None = None) -> None:
    """`paying_out → paid`: the rail executed the transfer; `notice` as for `hold_for_review`."""
    _move(conn, trade_id, S.PAYING_OUT, S.PAID, now, notice=notice)


PAYOUT_REFUSED = "payout_refused"
BANK_WINDOW_NOTE = "payout queued: the banks' nightly window"
COMPENSATION_NOTE = "payout later than promised: compensation added"
LATE_COMPENSATION_NOTE = "bank executed the payout late: compensation sent separately"


def note(conn: Connection, trade_id: str, status: TradeStatus, now: datetime, text: str) -> None:
    """A step in the trade's history that does not change its status (the payout queued, compensated)."""
    trade_repo.add_event(conn, trade_id, status, status, now, WORKER, text)


def payout_refused(
    conn: Connection, trade_id: str, now: datetime, notice: dict[str, Any] | None = None
) -> None:
    """`paying_out → failed` (reason `payout_refused`): the bank refused; the money is owed to the seller
    again, and the seller is told to choose another account (`notice` as for `hold_for_review`)."""
    _move(
        conn,
        trade_id,
        S.PAYING_OUT,
        S.FAILED,
        now,
        WORKER,
        "the bank refused the transfer; the seller can choose another account",
        publish=False,
    )
    trade_repo.add_decision(
        conn, trade_id, DecisionStage.PAYOUT, "refused", [PAYOUT_REFUSED], "bank", {}, WORKER, now
    )
    queue.enqueue(conn, NOTIFY_TRADE, f"{trade_id}:{S.FAILED.value}", now, payload=notice)
    # After the decision, so both events' trade carries why it failed.
    status_event(conn, trade_id, S.FAILED, now)
    trade_event(conn, trade_id, EventType.PAYOUT_REFUSED, now)


def redirect_payout(conn: Connection, trade_id: str, now: datetime, actor: str, destination_id: str) -> None:
    """`failed → paying_out`: after a refused payout, send the money to another of the seller's accounts."""
    _move(
        conn,
        trade_id,
        S.FAILED,
        S.PAYING_OUT,
        now,
        actor,
        "sent again to another account",
        resume=True,
        payout_destination_id=destination_id,
    )


def cancel(conn: Connection, trade_id: str, current: TradeStatus, now: datetime, actor: str) -> None:
    """`received | screening | in_review → cancelled`: the seller withdrew it; the claim is released."""
    if current not in CANCELLABLE:
        raise TradeMovedOn(trade_id, current)
    note = "withdrawn by the seller during review" if current is S.IN_REVIEW else "cancelled by seller"
    _move(conn, trade_id, current, S.CANCELLED, now, actor, note)
    trade_repo.release_claim(conn, trade_id)


def resume_after_review(
    conn: Connection, trade_id: str, target: TradeStatus, now: datetime, reviewer: str, note: str
) -> None:
    """`in_review → verifying | redeeming`: approved; the worker goes on where it was held."""
    _move(conn, trade_id, S.IN_REVIEW, target, now, reviewer, note, resume=True)


def reject_after_review(conn: Connection, trade_id: str, now: datetime, reviewer: str, note: str) -> None:
    """`in_review → rejected`: a reviewer refused it; nothing moved (the claim is kept)."""
    _move(conn, trade_id, S.IN_REVIEW, S.REJECTED, now, reviewer, note)


def retry(conn: Connection, trade_id: str, target: TradeStatus, now: datetime, actor: str) -> None:
    """`failed → redeeming | credited | paying_out`: an operator put it back to work."""
    _move(conn, trade_id, S.FAILED, target, now, actor, "retried by an operator", resume=True)


def give_up(conn: Connection, trade_id: str, now: datetime, attempts: int) -> None:
    """The worker stopped retrying a trade's job: it becomes `failed` for an operator (if it still can)."""
    trade = trade_repo.get(conn, trade_id)
    if trade is None or trade.status in TERMINAL or S.FAILED not in TRANSITIONS[trade.status]:
        return
    try:
        _move(
            conn,
            trade_id,
            trade.status,
            S.FAILED,
            now,
            WORKER,
            f"gave up after {attempts} attempts; an operator must look",
        )
    except TradeMovedOn:
        return


def settle_by_netting(
    conn: Connection, trade_id: str, now: datetime, notice: dict[str, Any] | None = None
) -> None:
    """`credited → paid`: the whole payout settled what the seller owed after a reversal; nothing to
    send (`notice` as for `hold_for_review`)."""
    note = "settled against the amount owed after a reversal"
    _move(conn, trade_id, S.CREDITED, S.PAID, now, WORKER, note, notice=notice)


LINKED_NETTING_NOTE = "settled what another account of the same person owed after a reversal"


def record_linked_netting(conn: Connection, trade_id: str, now: datetime) -> None:
    """Part or all of a credited trade's payout settled a linked account's debt (identity/links.py)."""
    note(conn, trade_id, S.CREDITED, now, LINKED_NETTING_NOTE)


VOUCHER_REVERSED = "voucher_reversed"


def reverse(conn: Connection, trade_id: str, now: datetime, evidence: dict[str, Any]) -> None:
    """`paid → reversed`: the issuer took the value back; the evidence is kept with the trade."""
    note = f"reversed by the issuer: {evidence['reason']}"
    _move(conn, trade_id, S.PAID, S.REVERSED, now, "issuer", note, publish=False)
    trade_repo.add_decision(
        conn,
        trade_id,
        DecisionStage.REVERSAL,
        "reversed",
        [VOUCHER_REVERSED],
        "issuer",
        evidence,
        "issuer",
        now,
    )
    status_event(conn, trade_id, S.REVERSED, now)  # after the evidence: the event's trade shows it


def record_appeal(conn: Connection, trade_id: str, now: datetime, seller: str, note: str) -> None:
    """The seller appeals a reversal (once); a reviewer will answer. The status stays `reversed`."""
    trade_repo.add_decision(
        conn,
        trade_id,
        DecisionStage.REVERSAL,
        "appealed",
        [VOUCHER_REVERSED],
        "seller",
        {},
        seller,
        now,
        note,
    )
    trade_repo.add_event(conn, trade_id, S.REVERSED, S.REVERSED, now, seller, "appealed by the seller")


def answer_appeal(
    conn: Connection, trade_id: str, now: datetime, reviewer: str, outcome: str, note: str
) -> None:
    """A reviewer's answer to the appeal: `upheld` (still owed) or `written_off` (the seller owes nothing)."""
    trade_repo.add_decision(
        conn, trade_id, DecisionStage.REVERSAL, outcome, [VOUCHER_REVERSED], "human", {}, reviewer, now, note
    )
    trade_repo.add_event(
        conn, trade_id, S.REVERSED, S.REVERSED, now, reviewer, f"appeal {outcome.replace('_', ' ')}"
    )
