"""Risk decisions: features, the live rule set (enforced) and shadow rule sets (recorded only).

The engine evaluates and returns; it writes nothing. The trade pipeline records the
decisions it returns with the trade's status change, in one transaction. The windows its
features read are written by trade submission and pruned by a recurring job (`prune_windows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.context import Context
from voucher_exchange.ports.issuer import VoucherStatus
from voucher_exchange.risk import features, repository, rules, sanctions_rescreen, windows
from voucher_exchange.risk.models import RecordedDecision, RiskSubject
from voucher_exchange.risk.rules import Evaluation

STAGE = "risk"
SHADOW_STAGE = "shadow"
DECIDER = "risk-engine"


@dataclass(frozen=True)
class RiskVerdict:
    """The live rule set's evaluation, and every decision (live and shadow) to store with it."""

    evaluation: Evaluation
    decisions: list[RecordedDecision]
    brand_status: str
    """The brand's status as read with the features (the caller refuses a suspended brand)."""


def decide(
    conn: Connection,
    trade: RiskSubject,
    answer: VoucherStatus,
    issuer_evidence: dict[str, Any],
    now: datetime,
    jurisdiction: str,
) -> RiskVerdict:
    """Evaluate the live rule set (and every shadow one) for a trade the issuer accepted.

    The current sanctions list decides, not the one the seller was last screened against: when
    a newer one was loaded, the seller is screened again (in the caller's transaction) and the
    features are read again.
    """
    computed = features.compute(conn, trade, answer, now, jurisdiction)
    if computed.sanctions_stale:
        sanctions_rescreen.screen_if_stale(conn, trade.user_id, now)
        computed = features.compute(conn, trade, answer, now, jurisdiction)
    facts = computed.features
    live, shadows = repository.live_and_shadows(conn, computed.rulesets)
    verdict = rules.evaluate(live, facts)
    evidence = {
        "features": facts,
        **verdict.as_evidence(),
        "issuer": issuer_evidence,
        "messages": live.messages(),
    }
    recorded = [RecordedDecision(STAGE, verdict.outcome.value, verdict.reasons, live.version, evidence)]
    for candidate in shadows:
        shadow = rules.evaluate(candidate, facts)
        recorded.append(
            RecordedDecision(
                SHADOW_STAGE,
                shadow.outcome.value,
                shadow.reasons,
                candidate.version,
                {"features": facts, **shadow.as_evidence()},
            )
        )
    return RiskVerdict(verdict, recorded, computed.brand_status)


def prune_windows(ctx: Context, _ref: str) -> None:
    """The recurring job: forget window counters and links older than 31 days.

    One short transaction per chunk, so a large backlog never holds the write lock (SQLite
    has one writer) for long while trades are being submitted.
    """
    while True:
        with ctx.uow() as uow:
            deleted = windows.prune(uow.conn, ctx.clock.now())
            uow.commit()
        if deleted == 0:
            return
