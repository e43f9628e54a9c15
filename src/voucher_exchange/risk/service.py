"""Risk decisions: features, the live rule set (enforced) and shadow rule sets (recorded only).

The engine evaluates and returns; it writes nothing. The trade pipeline records the
decisions it returns with the trade's status change, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.issuers.ports import VoucherStatus
from voucher_exchange.risk import features, repository, rules
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


def decide(
    conn: Connection,
    trade: RiskSubject,
    answer: VoucherStatus,
    issuer_evidence: dict[str, Any],
    now: datetime,
    jurisdiction: str,
    scam_favoured: bool,
) -> RiskVerdict:
    """Evaluate the live rule set (and every shadow one) for a trade the issuer accepted."""
    facts = features.compute(conn, trade, answer, now, jurisdiction, scam_favoured)
    live, shadows = repository.live_and_shadows(conn)
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
    return RiskVerdict(verdict, recorded)
