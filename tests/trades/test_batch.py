"""A batch is previewed, then sold once at the previewed price (both databases)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.support.exchange import Exchange, make_seller
from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import User
from voucher_exchange.catalog import service as catalog
from voucher_exchange.db.schema import trade_batches, trades
from voucher_exchange.errors import Conflict
from voucher_exchange.money import Money
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import batch

pytestmark = pytest.mark.both_backends

BRAND = "booknlife"


def _user(exchange: Exchange, email: str) -> User:
    with exchange.ctx.uow(readonly=True) as uow:
        found = accounts.by_email(uow.conn, email)
    assert found is not None
    return found[0]


def _trades(exchange: Exchange, user: User) -> int:
    with exchange.ctx.uow(readonly=True) as uow:
        query = select(func.count()).select_from(trades).where(trades.c.user_id == user.id)
        return int(uow.conn.execute(query).scalar_one())


def _preview(exchange: Exchange, user: User, destination: str, count: int) -> batch.BatchPreview:
    minted = [exchange.mint(BRAND, 10000) for _ in range(count)]
    codes = "\n".join(f"{v['code']},{v.get('pin') or ''}" for v in minted)
    return batch.preview(
        exchange.ctx, user, BRAND, Money(10000, "KRW"), batch.parse_lines(codes),
        AcquisitionMethod.GIFT, date(2026, 11, 1), destination,
    )  # fmt: skip


def test_a_previewed_batch_is_sold_once_and_its_codes_are_erased(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    user = _user(exchange, seller.email)
    shown = _preview(exchange, user, seller.destination_id, 3)
    assert (shown.count, shown.face_total, shown.fee_total, shown.payout_total) == (
        3, Money(30000, "KRW"), Money(3300, "KRW"), Money(26700, "KRW"),
    )  # fmt: skip
    assert _trades(exchange, user) == 0
    batch.sell_previewed(exchange.ctx, user, shown.id)
    with pytest.raises(Conflict) as again:
        batch.sell_previewed(exchange.ctx, user, shown.id)
    assert again.value.code == "batch_expired"
    assert _trades(exchange, user) == 3
    stored, lines = batch.lines_of(exchange.ctx, user, shown.id)
    assert [ln.number for ln in lines] == [1, 2, 3] and all(ln.trade_id for ln in lines)
    with exchange.ctx.uow(readonly=True) as uow:
        kept = uow.conn.execute(select(trade_batches.c.lines_enc).where(trade_batches.c.id == shown.id))
        assert kept.scalar_one() is None
    assert stored.submitted_at is not None
    # Someone else's batch cannot be sold or read.
    other = make_seller(exchange)
    stranger = _user(exchange, other.email)
    theirs = _preview(exchange, stranger, other.destination_id, 1)
    with pytest.raises(Conflict):
        batch.sell_previewed(exchange.ctx, user, theirs.id)
    assert _trades(exchange, stranger) == 0


def test_a_batch_is_not_sold_when_the_rate_moved_after_the_preview(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    user = _user(exchange, seller.email)
    shown = _preview(exchange, user, seller.destination_id, 2)
    with exchange.ctx.uow() as uow:
        before = [
            {"min_face": b.min_face, "rate_bps": b.rate_bps}
            for b in catalog.require_brand(uow.conn, BRAND).rates.bands
        ]
        catalog.set_rates(uow.conn, BRAND, [{"min_face": 0, "rate_bps": 8000}], exchange.clock.now(), "test")
        uow.commit()
    try:
        with pytest.raises(Conflict) as moved:
            batch.sell_previewed(exchange.ctx, user, shown.id)
        assert moved.value.code == "batch_price_changed"
        assert _trades(exchange, user) == 0
    finally:
        with exchange.ctx.uow() as uow:
            catalog.set_rates(uow.conn, BRAND, before, exchange.clock.now(), "test")
            uow.commit()
    batch.sell_previewed(exchange.ctx, user, shown.id)  # back at the previewed rate: sold
    assert _trades(exchange, user) == 2
