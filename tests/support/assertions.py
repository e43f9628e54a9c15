"""Assertions that a refusal moved nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.support.exchange import Exchange, Seller
from voucher_exchange.db.schema import ledger_transfers, payouts


def assert_nothing_moved(
    exchange: Exchange,
    seller: Seller,
    trade_id: str | None,
    voucher: dict[str, Any] | None,
    face_value: int = 50000,
) -> None:
    """No ledger transfer or payout for the trade, no rail transfer to the seller, voucher untouched."""
    with exchange.ctx.uow(readonly=True) as uow:
        if trade_id is not None:
            transfers = uow.conn.execute(
                select(func.count())
                .select_from(ledger_transfers)
                .where(ledger_transfers.c.trade_id == trade_id)
            ).scalar_one()
            payout_rows = uow.conn.execute(
                select(func.count()).select_from(payouts).where(payouts.c.trade_id == trade_id)
            ).scalar_one()
            assert (transfers, payout_rows) == (0, 0)
    assert exchange.rail_transfers(seller.account_number) == []
    if voucher is not None:
        found = exchange.lookup(voucher["code"], voucher.get("pin"))
        assert (found["state"], found["balance"], found["redeemed_by"]) == ("active", face_value, None)


def reason_codes(trade: dict[str, Any]) -> list[str]:
    """The trade's refusal codes."""
    return [r["code"] for r in trade["decision"]["reasons"]]
