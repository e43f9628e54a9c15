"""A trade as its seller (or staff) sees it: the one shape of `GET /trades/{id}`.

Pages, e-mails, staff screens and webhook events (built at the change, in its transaction) all
render it from here, so a partner's event and the API answer never drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.accounts.models import User
from voucher_exchange.config import Settings
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import PayoutStatus
from voucher_exchange.promises import service as promise_service
from voucher_exchange.risk.reasons import render
from voucher_exchange.security.vault import mask
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import (
    CANCELLABLE,
    DecisionStage,
    StoredDecision,
    Trade,
    TradeEvent,
    TradeStatus,
)

DEFAULT_REVIEW_MINUTES = 60
# A person's check is never promised sooner than this, however fast the latest ones were.
MIN_REVIEW_MINUTES = 10


@dataclass(frozen=True)
class TradeView:
    """A trade as its seller (or staff) sees it: amounts, status, reasons, history; code masked."""

    data: dict[str, Any]


# Event notes a seller may read: their own, the pipeline's and the issuer's. Staff notes are internal.
SELLER_VISIBLE_ACTORS = frozenset({"worker", "issuer"})


def view(conn: Connection, trade: Trade, lang: str, seller: User | None = None) -> TradeView:
    """One trade with its decision and events.

    With `seller`, the view is the seller's own: notes written by staff are left out.
    """
    decision = trade_repo.latest_decision(conn, trade.id)
    if decision is not None and decision.outcome == "first_approval":
        # One reviewer approved; a second must too. The seller still sees why it is held.
        decision = trade_repo.latest_decision(conn, trade.id, skip=DecisionStage.REVIEW)
    if (
        decision is not None
        and decision.stage is DecisionStage.PAYOUT
        and trade.status is not TradeStatus.FAILED
    ):
        # A refused payout that was sent again successfully is history, not the trade's verdict.
        decision = trade_repo.latest_decision(conn, trade.id, skip=DecisionStage.PAYOUT)
    return TradeView(
        {
            "id": trade.id,
            "status": trade.status.value,
            "brand": trade.brand_slug,
            "quote_id": trade.quote_id,
            "face_value": trade.face_value.as_json(),
            "rate_bps": trade.rate_bps,
            "fee": trade.fee.as_json(),
            "payout": trade.payout.as_json(),
            "voucher": {"masked": mask(trade.voucher_last4)},
            "acquisition": {
                "method": trade.acquisition_method,
                "acquired_on": trade.acquired_on.isoformat(),
            },
            "payout_destination_id": trade.payout_destination_id,
            "decision": {
                "outcome": decision.outcome,
                "reasons": render(list(decision.reasons), lang, decision.evidence.get("messages")),
            }
            if decision
            else None,
            "events": [
                {"at": _iso(e.at), "status": e.to_status.value, "note": _note_for(e, seller)}
                for e in trade_repo.events(conn, trade.id)
            ],
            "created_at": _iso(trade.created_at),
            "updated_at": _iso(trade.updated_at),
            "can_cancel": trade.status in CANCELLABLE,
            "can_redirect_payout": _payout_refused(conn, trade),
            "expected_review_minutes": (
                expected_review_minutes(conn) if trade.status is TradeStatus.IN_REVIEW else None
            ),
            "new_quote_offer": _new_quote_offer(trade, decision),
            "reversal": _reversal(conn, trade),
            **_promise(conn, trade),
        }
    )


# Before the voucher is secured, these trades still have the promise ahead of them.
_BEFORE_SECURED = frozenset(
    {TradeStatus.RECEIVED, TradeStatus.SCREENING, TradeStatus.VERIFYING, TradeStatus.REDEEMING}
)


def _promise(conn: Connection, trade: Trade) -> dict[str, Any]:
    """`promise` (due_at, applies, excluded_because?) and `compensation` (once added to the payout)."""
    promise = promise_service.promise_of(conn, trade.id)
    held = promise is None and (
        trade.status is TradeStatus.IN_REVIEW
        or (
            trade.status in _BEFORE_SECURED
            and trade_repo.came_from(conn, trade.id, TradeStatus.IN_REVIEW) is not None
        )
    )
    compensation = promise.compensation if promise is not None else None
    return {
        "promise": promise_service.promise_json(promise, held, trade.status in _BEFORE_SECURED),
        "compensation": compensation.as_json() if compensation is not None else None,
    }


def _reversal(conn: Connection, trade: Trade) -> dict[str, Any] | None:
    """The issuer's evidence for a reversal, what the seller owes for it, and where their appeal stands."""
    if trade.status is not TradeStatus.REVERSED:
        return None
    steps = [d for d in trade_repo.all_decisions(conn, trade.id) if d.stage is DecisionStage.REVERSAL]
    first = next((d for d in steps if d.outcome == "reversed"), None)
    if first is None:
        return None
    answers = [d.outcome for d in steps if d.outcome in ("upheld", "written_off")]
    appealed = any(d.outcome == "appealed" for d in steps)
    evidence = first.evidence
    return {
        "reason": evidence.get("reason"),
        "reported_at": evidence.get("reported_at"),
        "liability_ends": evidence.get("liability_ends"),
        "seller_liable": bool(evidence.get("seller_liable")),
        "owed": evidence.get("owed"),
        "appeal": answers[-1] if answers else ("appealed" if appealed else None),
        "can_appeal": bool(evidence.get("seller_liable")) and not appealed,
    }


def _payout_refused(conn: Connection, trade: Trade) -> bool:
    if trade.status is not TradeStatus.FAILED:
        return False
    payout = payout_service.for_trade(conn, trade.id)
    return payout is not None and payout.status is PayoutStatus.REJECTED


def _new_quote_offer(trade: Trade, decision: StoredDecision | None) -> dict[str, Any] | None:
    """After a balance mismatch: the voucher's real balance, for a one-tap new quote."""
    if (
        trade.status is not TradeStatus.REJECTED
        or decision is None
        or decision.reasons != ["balance_mismatch"]
    ):
        return None
    balance = decision.evidence.get("issuer_balance")
    if not isinstance(balance, int) or balance <= 0:
        return None
    return {"brand": trade.brand_slug, "face_value": Money(balance, trade.currency).as_json()}


def expected_review_minutes(conn: Connection) -> int:
    """What a seller whose trade is held can expect: three in four of the latest reviews ended
    within it, rounded up to 5 minutes, and never under MIN_REVIEW_MINUTES (a promise kept, not
    the luckiest case: "about 1 minute" after a run of quick reviews is broken by the next one).

    With no history yet, the promise the operator makes by default: within an hour.
    """
    waits = sorted(trade_repo.recent_review_seconds(conn))
    if not waits:
        return DEFAULT_REVIEW_MINUTES
    most = waits[math.ceil(0.75 * len(waits)) - 1] / 60
    return max(MIN_REVIEW_MINUTES, 5 * math.ceil(most / 5))


def promise_for_quote(
    conn: Connection, settings: Settings, fee: Money, now: datetime, expires_at: datetime
) -> dict[str, Any]:
    """What a quote states about the payout-time promise before the seller sells (review wait too)."""
    return promise_service.quote_promise(conn, settings, fee, now, expires_at, expected_review_minutes(conn))


def _note_for(event: TradeEvent, seller: User | None) -> str | None:
    if seller is None or event.actor in SELLER_VISIBLE_ACTORS or event.actor == seller.email:
        return event.note
    return None


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
