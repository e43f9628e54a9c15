"""A trade submitted by an account erased while the request was on its way is refused (both databases)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.support.core import Core
from voucher_exchange.db.schema import ledger_transfers, quotes, trades
from voucher_exchange.errors import Conflict
from voucher_exchange.money import Money
from voucher_exchange.privacy import service as privacy
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import service as trade_service

pytestmark = pytest.mark.both_backends


def test_a_submission_from_an_erased_account_is_refused_and_nothing_is_stored(core: Core) -> None:
    user, destination, account = core.seller()
    voucher = core.sandbox("/issuer/vouchers", {"brand": "cultureland", "face_value": 50000})
    with core.ctx.uow() as uow:
        quote = quote_service.create_quote(
            uow.conn, core.ctx.settings, core.ctx.clock, user, "cultureland", Money(50000, "KRW")
        )
        uow.commit()
    privacy.erase_account(core.ctx, user, "correct-horse-battery")  # the request still holds `user`
    cmd = trade_service.SubmitTrade(
        quote.id, voucher["code"], voucher.get("pin"), AcquisitionMethod.GIFT, date(2026, 11, 1), destination
    )

    with core.ctx.uow() as uow, pytest.raises(Conflict) as refused:
        trade_service.submit(uow.conn, core.ctx.clock, core.ctx.vault, user, cmd)

    assert refused.value.code == "account_closed"
    with core.ctx.uow(readonly=True) as uow:
        assert uow.conn.execute(select(func.count()).select_from(trades)).scalar_one() == 0
        assert uow.conn.execute(select(quotes.c.trade_id).where(quotes.c.id == quote.id)).scalar_one() is None
        assert uow.conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one() == 0
    lookup = core.sandbox("/issuer/vouchers/lookup", {"code": voucher["code"]})
    assert lookup["state"] == "active"
    assert core.rail_transfers(account) == []
