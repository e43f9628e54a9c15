"""Risk decisions: features, the live rule set (enforced) and shadow rule sets (recorded only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from voucher_exchange.issuers.ports import VoucherStatus
from voucher_exchange.risk import features, repository, rules
from voucher_exchange.risk.rules import Evaluation
from voucher_exchange.trades import repository as trades

STAGE = "risk"
SHADOW_STAGE = "shadow"
DECIDER = "risk-engine"


def decide(
    conn: Connection,
    trade: Any,
    answer: VoucherStatus,
    issuer_evidence: dict[str, Any],
    now: datetime,
    jurisdiction: str,
    scam_favoured: bool,
) -> Evaluation:
    """Evaluate the live rule set (and record every shadow one) for a trade the issuer accepted."""
    facts = features.compute(conn, trade, answer, now, jurisdiction, scam_favoured)
    live = repository.live(conn)
    verdict = rules.evaluate(live, facts)
    evidence = {
        "features": facts,
        **verdict.as_evidence(),
        "issuer": issuer_evidence,
        "messages": live.messages(),
    }
    trades.add_decision(
        conn, trade.id, STAGE, verdict.outcome.value, verdict.reasons, live.version, evidence, DECIDER, now
    )
    for candidate in repository.shadows(conn):
        shadow = rules.evaluate(candidate, facts)
        trades.add_decision(
            conn,
            trade.id,
            SHADOW_STAGE,
            shadow.outcome.value,
            shadow.reasons,
            candidate.version,
            {"features": facts, **shadow.as_evidence()},
            DECIDER,
            now,
        )
    return verdict
