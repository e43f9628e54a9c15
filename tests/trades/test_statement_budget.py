"""What one trade costs the database, statement by statement: the worker's path from `received`
to `paid` for a seller's first trade. Each statement is a round trip and ~0.2 ms of the
server's CPU (issue 27): adding one to the hot path is a decision, made by changing this list."""

from __future__ import annotations

from collections import Counter

import pytest
from bench.trade_cost import statement_kind
from sqlalchemy import event

from tests.support.core import Core
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.models import TradeStatus
from voucher_exchange.webhooks import repository as webhook_repo

pytestmark = pytest.mark.both_backends

# Per database: (statement kind, how many) for one trade, BEGIN/COMMIT and savepoints apart.
SHARED = {
    "SELECT trades": 2,  # the trade with its chain head; the seller's limits
    "SELECT users": 2,  # screening (with the account, row-locked, and the brand's standing); the
    # payout gate (with the account, the seller's sanctions standing, whether a freeze is open,
    # what the seller still owes and the promise's terms)
    "SELECT AS": 1,  # the risk features (voucher provenance too), the brand's standing, the
    # sanctions lists' freshness and which rule sets decide
    "INSERT trade_promises": 1,
    "SELECT person_links": 1,  # the person's other logins (UNION with shared bank accounts)
    "INSERT payouts": 1,
    "UPDATE payouts": 2,
}
EXPECTED = {
    "postgresql": SHARED
    | {
        "WITH INSERT voucher_claims": 1,  # the code claimed once ever, and by whom
        # each status change with its history event and NOTIFY, two with the decision they rest on;
        # received → screening → verifying is one change with two events
        "WITH UPDATE trades": 5,
        "WITH INSERT ledger_accounts": 1,  # the seller's payable: created once, then known
        "WITH INSERT ledger_transfers": 4,
    },
    "sqlite": SHARED
    | {
        "INSERT voucher_claims": 1,
        "SELECT voucher_claims": 1,
        "UPDATE trades": 5,
        "INSERT trade_events": 6,
        "INSERT decisions": 2,
        "SELECT ledger_transfers": 1,  # the pending reservation the bank's answer settles
        "INSERT ledger_accounts": 1,
        "INSERT ledger_transfers": 4,
        "UPDATE ledger_accounts": 4,
    },
}
# The quote and the submission (one transaction here), BEGIN/COMMIT apart.
QUOTE_AND_SUBMISSION = {
    "INSERT quotes": 1,
    "SELECT users": 1,  # the seller, row-locked, with the quote, its brand's code format, the account
    "UPDATE quotes": 1,  # taken by this trade, once
    "INSERT trades": 1,  # returning whether the seller has a webhook endpoint
    "INSERT risk_counts": 1,
    "INSERT risk_links": 1,
    "INSERT trade_events": 1,
}
SUBMISSION = {
    "postgresql": QUOTE_AND_SUBMISSION | {"WITH INSERT jobs": 1},  # the job, and NOTIFY the workers
    "sqlite": QUOTE_AND_SUBMISSION | {"INSERT jobs": 1},
}
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def test_a_sellers_first_trade_costs_exactly_these_statements(core: Core) -> None:
    core.fund(10_000_000, "seed")
    for _ in range(2):  # the shared ledger accounts: created by the first, their ids kept by the second
        warm_up, warm_up_destination, _ = core.seller()
        pipeline.process_trade(core.ctx, core.submit(warm_up, warm_up_destination))
    with core.ctx.uow() as uow:  # another account's webhook endpoint costs this seller nothing
        webhook_repo.add_endpoint(
            uow.conn, "ep-other", warm_up.id, "https://partner.example/hook", ["trade.paid"], None, b"\0",
            core.ctx.clock.now(),
        )  # fmt: skip
        uow.commit()
    user, destination, _ = core.seller()
    sent: list[str] = []

    def capture(_conn: object, _cursor: object, sql: str, *_: object) -> None:
        sent.append(sql)

    event.listen(core.ctx.engine, "before_cursor_execute", capture)
    try:
        trade_id = core.submit(user, destination)
        submitted = len(sent)
        pipeline.process_trade(core.ctx, trade_id)
    finally:
        event.remove(core.ctx.engine, "before_cursor_execute", capture)
    with core.ctx.uow(readonly=True) as uow:
        assert trade_repo.get(uow.conn, trade_id).status is TradeStatus.PAID  # type: ignore[union-attr]

    def kinds(statements: list[str]) -> dict[str, int]:
        return dict(
            Counter(statement_kind(sql) for sql in statements if not sql.lstrip().upper().startswith(CONTROL))
        )

    assert kinds(sent[:submitted]) == SUBMISSION[core.ctx.engine.dialect.name]
    assert kinds(sent[submitted:]) == EXPECTED[core.ctx.engine.dialect.name]
