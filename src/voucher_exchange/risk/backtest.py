"""Replaying history: backtests of a rule set, and live-versus-shadow comparisons.

Both use the features stored with each decision, never today's data, so a replay
sees exactly what the engine saw at the time.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from voucher_exchange.db.schema import decisions, trade_labels, trades
from voucher_exchange.risk import rules
from voucher_exchange.risk.rules import RuleSet
from voucher_exchange.risk.screening import Outcome


@dataclass
class Tally:
    """Hits of one rule (or of the whole rule set) against the labels."""

    name: str
    hits: int = 0
    hit_volume: int = 0
    bad_hits: int = 0
    labelled_hits: int = 0

    def precision(self) -> float | None:
        """Share of labelled hits that were bad (None when nothing labelled was hit)."""
        return self.bad_hits / self.labelled_hits if self.labelled_hits else None


@dataclass
class BacktestReport:
    """Per rule and overall: hits, share of volume, precision, recall."""

    version: str
    replayed: int = 0
    volume: int = 0
    bad: int = 0
    labelled: int = 0
    overall: Tally = field(default_factory=lambda: Tally("all rules (review or reject)"))
    per_rule: dict[str, Tally] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)

    def share(self, tally: Tally) -> float:
        """Share of replayed face value the rule touched."""
        return tally.hit_volume / self.volume if self.volume else 0.0

    def recall(self, tally: Tally) -> float | None:
        """Share of bad trades the rule caught."""
        return tally.bad_hits / self.bad if self.bad else None


def _decided(conn: Connection, stage: str) -> list[Any]:
    """The newest decision of a stage per trade, with its trade's amount and label."""
    return list(
        conn.execute(
            select(
                decisions.c.trade_id,
                decisions.c.outcome,
                decisions.c.evidence,
                decisions.c.ruleset_version,
                trades.c.face_value,
                trade_labels.c.label,
            )
            .join(trades, trades.c.id == decisions.c.trade_id)
            .outerjoin(trade_labels, trade_labels.c.trade_id == decisions.c.trade_id)
            .where(decisions.c.stage == stage)
            .order_by(decisions.c.id)
        )
    )


def backtest(conn: Connection, ruleset: RuleSet) -> BacktestReport:
    """Replay every trade that reached the risk engine through `ruleset`."""
    report = BacktestReport(ruleset.version)
    report.per_rule = {r.id: Tally(r.id) for r in ruleset.rules}
    latest = {row.trade_id: row for row in _decided(conn, "risk")}
    for row in latest.values():
        verdict = rules.evaluate(ruleset, dict(row.evidence)["features"])
        amount, label = int(row.face_value), row.label
        report.replayed += 1
        report.volume += amount
        report.outcomes[verdict.outcome.value] += 1
        report.labelled += label is not None
        report.bad += label == "bad"
        flagged = verdict.outcome is not Outcome.APPROVE
        hit_ids = [r["id"] for r in verdict.results if r["hit"]]
        for tally, hit in [(report.overall, flagged)] + [(report.per_rule[i], True) for i in hit_ids]:
            if not hit:
                continue
            tally.hits += 1
            tally.hit_volume += amount
            tally.labelled_hits += label is not None
            tally.bad_hits += label == "bad"
    return report


@dataclass
class Comparison:
    """How a shadow rule set's outcomes differ from the live decisions on the same trades."""

    version: str
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    differing: list[tuple[str, str, str, list[str]]] = field(default_factory=list)


def compare(conn: Connection, version: str | None = None) -> list[Comparison]:
    """Live versus each shadow version (or one), trade by trade."""
    live = {row.trade_id: row for row in _decided(conn, "risk")}
    by_version: dict[str, Comparison] = {}
    for row in _decided(conn, "shadow"):
        if (version and row.ruleset_version != version) or row.trade_id not in live:
            continue
        comparison = by_version.setdefault(row.ruleset_version, Comparison(row.ruleset_version))
        enforced = live[row.trade_id].outcome
        comparison.pairs[(enforced, row.outcome)] += 1
        if enforced != row.outcome:
            hits = [r["id"] for r in dict(row.evidence).get("rules", []) if r["hit"]]
            comparison.differing.append((row.trade_id, enforced, row.outcome, hits))
    return list(by_version.values())
