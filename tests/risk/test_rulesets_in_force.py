"""Which rule sets decide a trade: the features' one SELECT names the live and shadow versions,
so a version published or promoted a moment ago decides the very next trade."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.core import Core
from voucher_exchange.risk import admin, rules
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import DecisionStage

pytestmark = pytest.mark.both_backends


def _decided_by(core: Core, trade_id: str) -> list[tuple[DecisionStage, str]]:
    with core.ctx.uow(readonly=True) as uow:
        stored = trade_repo.all_decisions(uow.conn, trade_id)
    return [
        (d.stage, d.ruleset_version) for d in stored if d.stage in (DecisionStage.RISK, DecisionStage.SHADOW)
    ]


def test_a_published_shadow_and_a_promoted_version_decide_the_next_trade(core: Core) -> None:
    core.fund(1_000_000)
    user, destination, _ = core.seller()
    shipped = rules.default_ruleset()

    def sell() -> list[tuple[DecisionStage, str]]:
        trade_id = core.submit(user, destination, 10000)
        pipeline.process_trade(core.ctx, trade_id)
        return _decided_by(core, trade_id)

    assert sell() == [(DecisionStage.RISK, shipped.version)]
    admin.publish_ruleset(core.ctx, replace(shipped, version="candidate-1"), True, "ops@example.com")
    assert sell() == [(DecisionStage.RISK, shipped.version), (DecisionStage.SHADOW, "candidate-1")]
    admin.publish_ruleset(core.ctx, replace(shipped, version="candidate-2"), True, "ops@example.com")
    assert sell() == [
        (DecisionStage.RISK, shipped.version),
        (DecisionStage.SHADOW, "candidate-1"),
        (DecisionStage.SHADOW, "candidate-2"),
    ]
    admin.set_ruleset_status(core.ctx, "candidate-2", "live", "ops@example.com")
    assert sell() == [(DecisionStage.RISK, "candidate-2"), (DecisionStage.SHADOW, "candidate-1")]
    admin.set_ruleset_status(core.ctx, "candidate-1", "retired", "ops@example.com")
    assert sell() == [(DecisionStage.RISK, "candidate-2")]
