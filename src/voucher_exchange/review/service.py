"""Review use cases: list held trades, approve or reject with a note."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import IdentityStatus, User, normalise_name
from voucher_exchange.audit import service as audit
from voucher_exchange.clock import Clock
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, Forbidden, InvalidInput, NotFound
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.review import repository as reveal_repo
from voucher_exchange.risk import repository as risk_repo
from voucher_exchange.risk.sanctions_customers import NOT_LISTED_PERSON, clear_after_review, reviewer_view
from voucher_exchange.trades import lifecycle
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import DecisionStage, StoredDecision, Trade, TradeMovedOn, TradeStatus
from voucher_exchange.trades.seller_view import view

REVIEW_RULESET = "human"
# Where an approved trade resumes, by the status it was held from.
RESUME_AFTER = {
    TradeStatus.SCREENING: TradeStatus.VERIFYING,
    TradeStatus.VERIFYING: TradeStatus.REDEEMING,
}


# A fraud report may hold a trade before its own checks ran: approved, it runs the checks it missed.
RESUME_AFTER_REPORT = {
    TradeStatus.RECEIVED: TradeStatus.SCREENING,
    TradeStatus.SCREENING: TradeStatus.SCREENING,
    TradeStatus.VERIFYING: TradeStatus.VERIFYING,
}


def _resume_at(conn: Connection, trade: Trade, held_from: TradeStatus) -> TradeStatus:
    """Where an approved trade goes on: where it was held, or, held by a report, the checks it missed."""
    if trade_repo.came_from_report(conn, trade.id):
        return RESUME_AFTER_REPORT[held_from]
    return RESUME_AFTER[held_from]


# Close reasons a reviewer picks; each becomes the trade's label for backtests.
CLOSE_REASONS = {
    "approve": {"legitimate": "good", "insufficient_evidence": "good", NOT_LISTED_PERSON: "good"},
    "reject": {
        "suspected_fraud": "bad",
        "stolen_or_scam": "bad",
        "carrier_billing": "bad",
        "mule_account": "bad",
        "policy": "bad",
    },
}
DEFAULT_CLOSE = {"approve": "legitimate", "reject": "suspected_fraud"}


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer wants to see."""

    status: TradeStatus = TradeStatus.IN_REVIEW
    reason: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    older_than_minutes: int | None = None
    limit: int = 100


@dataclass(frozen=True)
class ReviewQueue:
    """Held trades with their evidence, and how long the oldest has waited."""

    items: list[dict[str, Any]]
    total: int
    oldest_age_seconds: float | None


def evidence_for(conn: Connection, trade_id: str) -> dict[str, Any] | None:
    """The risk decision's evidence: rule set, score, rules hit, features, the issuer's answer."""
    decision = trade_repo.latest_decision(conn, trade_id, DecisionStage.RISK)
    if decision is None:
        return None
    evidence = decision.evidence
    return {
        "ruleset": decision.ruleset_version,
        "score": evidence.get("score"),
        "rules_hit": [r for r in evidence.get("rules", []) if r["hit"]],
        "features": evidence.get("features", {}),
        "issuer": evidence.get("issuer", {}),
    }


def queue_items(conn: Connection, wanted: QueueFilter, lang: str, now: datetime) -> ReviewQueue:
    """Held trades, oldest first, with the evidence a reviewer needs."""
    older = None if wanted.older_than_minutes is None else now - timedelta(minutes=wanted.older_than_minutes)
    held = trade_repo.held(conn, wanted.status, wanted.min_amount, wanted.max_amount, older)
    items = []
    for row in held:
        data = view(conn, row, lang).data
        if wanted.reason and wanted.reason not in [
            r["code"] for r in (data["decision"] or {}).get("reasons", [])
        ]:
            continue
        data["evidence"] = evidence_for(conn, row.id)
        data["sanctions"] = reviewer_view(conn, row.user_id, row.payout_destination_id)
        data["waiting_seconds"] = round((now - row.updated_at).total_seconds(), 1)
        seller = account_repo.by_id(conn, row.user_id)
        data["seller_id"], data["seller_email"] = row.user_id, seller.email if seller else ""
        items.append(data)
    oldest = items[0]["waiting_seconds"] if items else None
    return ReviewQueue(items[: wanted.limit], len(items), oldest)


def decide_trade(
    ctx: Context, reviewer: User, trade_id: str, outcome: str, note: str, close_reason: str | None = None
) -> Trade:
    """Use case: a reviewer approves or rejects a held trade (see `decide`); workers wake."""
    with ctx.uow() as uow:
        decided = decide(
            uow.conn,
            ctx.clock,
            reviewer,
            trade_id,
            outcome,
            note,
            close_reason,
            ctx.settings.dual_approval_threshold,
        )
        uow.after_commit(ctx.wake_workers)
        uow.commit()
    return decided


def decide(
    conn: Connection,
    clock: Clock,
    reviewer: User,
    trade_id: str,
    outcome: str,
    note: str,
    close_reason: str | None = None,
    dual_approval_above: int = 10**15,
) -> Trade:
    """Approve (the trade resumes where it was held) or reject (nothing moves); the close reason labels it.

    Nobody decides a trade linked to them. Above `dual_approval_above` (face value, minor units)
    an approval takes two different reviewers: the first one's is recorded and the trade waits.
    """
    if outcome not in CLOSE_REASONS:
        raise InvalidInput("outcome_invalid", "Decide approve or reject.", "outcome")
    if not note.strip():
        raise InvalidInput("note_required", "Write a note saying why.", "note")
    close_reason = close_reason or DEFAULT_CLOSE[outcome]
    if close_reason not in CLOSE_REASONS[outcome]:
        raise InvalidInput(
            "close_reason_invalid",
            f"To {outcome}, close with one of: {', '.join(sorted(CLOSE_REASONS[outcome]))}.",
            "reason",
        )
    trade = trade_repo.get(conn, trade_id)
    if trade is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    if trade.status is not TradeStatus.IN_REVIEW:
        raise Conflict("trade_not_in_review", f"The trade is {trade.status.value}, not in review.")
    _may_decide(conn, reviewer, trade)
    link = conflict_of_interest(conn, reviewer, trade)
    if link is not None:
        raise Forbidden(
            "reviewer_conflict",
            f"You cannot decide this trade: it is linked to you ({link}). Another reviewer must.",
        )
    now = clock.now()
    if outcome == "approve" and trade.face_value.amount > dual_approval_above:
        first = _first_approval(conn, trade_id)
        if first is None:
            trade_repo.add_decision(
                conn, trade_id, DecisionStage.REVIEW, FIRST_APPROVAL, [], REVIEW_RULESET,
                {"close_reason": close_reason}, reviewer.email, now, note,
            )  # fmt: skip
            audit.record(conn, reviewer.email, "review.first_approval", trade_id, {"note": note}, now)
            return trade
        if first.decided_by == reviewer.email:
            raise Conflict(
                "second_reviewer_required",
                "You approved this trade already; above this amount a second reviewer must approve it.",
            )
    reasons = [] if outcome == "approve" else ["reviewer_rejected"]
    trade_repo.add_decision(
        conn,
        trade_id,
        DecisionStage.REVIEW,
        outcome,
        reasons,
        REVIEW_RULESET,
        {"close_reason": close_reason},
        reviewer.email,
        now,
        note,
    )
    risk_repo.label(conn, trade_id, CLOSE_REASONS[outcome][close_reason], "review", close_reason, now)
    audit.record(
        conn, reviewer.email, f"review.{outcome}", trade_id, {"close_reason": close_reason, "note": note}, now
    )
    if close_reason == NOT_LISTED_PERSON:  # sanctions: remember "not the listed person" for this entry
        clear_after_review(
            conn, trade.user_id, trade.payout_destination_id, trade_id, reviewer.email, note, now
        )
    try:
        if outcome == "approve":
            held_from = trade_repo.came_from(conn, trade_id, TradeStatus.IN_REVIEW)
            assert held_from is not None
            lifecycle.resume_after_review(
                conn, trade_id, _resume_at(conn, trade, held_from), now, reviewer.email, note
            )
        else:
            lifecycle.reject_after_review(conn, trade_id, now, reviewer.email, note)
    except TradeMovedOn:
        raise Conflict("trade_not_in_review", "Another reviewer decided this trade first.") from None
    decided = trade_repo.get(conn, trade_id)
    assert decided is not None
    return decided


def trade(conn: Connection, trade_id: str) -> Trade:
    """One trade, for a reviewer."""
    found = trade_repo.get(conn, trade_id)
    if found is None:
        raise NotFound("trade_unknown", "There is no such trade.")
    return found


FIRST_APPROVAL = "first_approval"


def _first_approval(conn: Connection, trade_id: str) -> StoredDecision | None:
    found = [
        d
        for d in trade_repo.all_decisions(conn, trade_id)
        if d.stage is DecisionStage.REVIEW and d.outcome == FIRST_APPROVAL
    ]
    return found[-1] if found else None


def _may_decide(conn: Connection, reviewer: User, trade: Trade) -> None:
    """Four eyes: a reviewer with no verified identity on file, or who saw the code, may not decide.

    Without an identity the conflict check cannot tell a reviewer from the seller (an alter ego,
    a puppet account an operator made); whoever saw an unredeemed code could spend it.
    """
    if reviewer.identity_status is not IdentityStatus.VERIFIED or reviewer.legal_name is None:
        raise Forbidden(
            "reviewer_identity_required",
            "Verify your identity (Account → Identity) before you decide trades: "
            "without it nobody can tell whether a trade is linked to you.",
        )
    if reveal_repo.has_revealed(conn, trade.id, reviewer.id):
        raise Forbidden(
            "reviewer_saw_code",
            "You revealed this voucher's code, so you cannot decide its trade. Another reviewer must.",
        )


def _shared_address(conn: Connection, reviewer: User, trade: Trade) -> str | None:
    """How the trade's address is the reviewer's: one they sold from, or one they are signed in from.

    A loopback or unspecified address says nothing about a person (every local client has it).
    """
    if not trade.client_ip or not _personal_address(trade.client_ip):
        return None
    if trade.client_ip in trade_repo.addresses_of(conn, reviewer.id):
        return "an address you sold from"
    if trade.client_ip in account_repo.session_addresses_of(conn, reviewer.id):
        return "an address you are signed in from"
    return None


def _personal_address(text: str) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


def conflict_of_interest(conn: Connection, reviewer: User, trade: Trade) -> str | None:
    """How a reviewer is linked to a trade, if at all: own trade, bank account, device, address, identity."""
    if reviewer.id == trade.user_id:
        return "your own trade"
    if trade.account_fingerprint and trade.account_fingerprint in payout_repo.account_fingerprints_of(
        conn, reviewer.id
    ):
        return "a bank account you registered"
    if trade.device_id and trade.device_id in trade_repo.devices_of(conn, reviewer.id):
        return "a device you sold from"
    if shared := _shared_address(conn, reviewer, trade):
        return shared
    seller = account_repo.by_id(conn, trade.user_id)
    same_person = (
        seller is not None
        and seller.legal_name is not None
        and reviewer.legal_name is not None
        and normalise_name(seller.legal_name) == normalise_name(reviewer.legal_name)
        and seller.birth_date == reviewer.birth_date
    )
    return "your identity" if same_person else None
