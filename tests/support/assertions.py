"""Assertions that a refusal moved nothing."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import func, select

from tests.support.exchange import Exchange
from voucher_exchange.db.schema import payouts
from voucher_exchange.reconcile import service as reconcile_service


class Payee(Protocol):
    """Anyone with a bank account at the sandbox rail (an API or a web seller)."""

    account_number: str


def assert_no_money_for(exchange: Exchange, trade_id: str) -> None:
    """No ledger transfer and no payout belong to the trade."""
    with exchange.ctx.uow(readonly=True) as uow:
        transfers = len(reconcile_service.trade_transfers(uow.conn, trade_id))
        payout_rows = uow.conn.execute(
            select(func.count()).select_from(payouts).where(payouts.c.trade_id == trade_id)
        ).scalar_one()
    assert (transfers, payout_rows) == (0, 0)


def assert_voucher_untouched(exchange: Exchange, voucher: dict[str, Any], face_value: int) -> None:
    """The issuer still holds the voucher's full value, unredeemed."""
    found = exchange.lookup(voucher["code"], voucher.get("pin"))
    assert (found["state"], found["balance"], found["redeemed_by"]) == ("active", face_value, None)


def assert_nothing_moved(
    exchange: Exchange,
    seller: Payee,
    trade_id: str | None,
    voucher: dict[str, Any] | None,
    face_value: int = 50000,
) -> None:
    """No ledger transfer or payout for the trade, no rail transfer to the seller, voucher untouched."""
    if trade_id is not None:
        assert_no_money_for(exchange, trade_id)
    assert exchange.rail_transfers(seller.account_number) == []
    if voucher is not None:
        assert_voucher_untouched(exchange, voucher, face_value)


def reason_codes(trade: dict[str, Any]) -> list[str]:
    """The trade's refusal codes."""
    return [r["code"] for r in trade["decision"]["reasons"]]
