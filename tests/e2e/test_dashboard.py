"""The operator dashboard's figures from real trades, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import migrated_database_url
from tests.support.exchange import Exchange, make_seller, running_exchange
from voucher_exchange.reports import service as reports
from voucher_exchange.risk.screening import JURISDICTION_TZ

pytestmark = pytest.mark.both_backends


@pytest.fixture
def fresh(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Exchange]:
    """An exchange with no trades yet."""
    url = migrated_database_url(request, backend, tmp_path, "vx_dash")
    with running_exchange(tmp_path, url) as exchange:
        yield exchange


def test_the_dashboard_counts_what_happened(fresh: Exchange) -> None:
    seller = make_seller(fresh)
    paid = [seller.sell(fresh.mint("cultureland", face), "cultureland", face) for face in (50000, 10000)]
    refused = seller.sell(fresh.mint("cultureland", 5000), "cultureland", 5000, method="carrier_billing")
    for trade_id in paid:
        assert seller.api.wait_for(trade_id)["status"] == "paid"
    assert seller.api.wait_for(refused)["status"] == "rejected"

    now = fresh.clock.now()
    with fresh.ctx.uow(readonly=True) as uow:
        board = reports.dashboard(uow.conn, now, JURISDICTION_TZ["KR"], "KRW")
    today = board.days[-1]
    assert len(board.days) == 30 and today == now.astimezone(ZoneInfo("Asia/Seoul")).date()
    assert (board.submitted, board.paid, board.margin) == (3, 2, 4500 + 1000)
    assert board.volume[today] == {"cultureland": 60000}
    assert board.decisions == {"approve": 2, "reject": 1}
    assert board.median_seconds is not None and 0 < board.median_seconds <= board.p95_seconds < 20
