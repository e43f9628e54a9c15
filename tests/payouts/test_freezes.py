"""Payout freezes: a seller's next payouts held up to an amount, each counted once, released together."""

from __future__ import annotations

import uuid

import pytest

from tests.support.exchange import Exchange, make_seller
from voucher_exchange.money import Money
from voucher_exchange.payouts import freezes

pytestmark = pytest.mark.both_backends


def _won(amount: int) -> Money:
    return Money(amount, "KRW")


def test_a_freeze_holds_payouts_until_it_holds_its_amount_then_lets_the_rest_go(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    other = make_seller(exchange)
    user, someone_else = seller.api.get("/me").json()["id"], other.api.get("/me").json()["id"]
    reference = f"fraud_case:{uuid.uuid4()}:t"
    now = exchange.ctx.clock.now()
    with exchange.ctx.uow() as uow:
        conn = uow.conn
        assert freezes.open_freeze(conn, user, reference, _won(45500), now)
        assert not freezes.open_freeze(conn, user, reference, _won(45500), now)  # once per reference
        held = [freezes.hold(conn, user, f"trade:{n}", _won(20000), now) for n in range(4)]
        again = freezes.hold(conn, user, "trade:0", _won(20000), now)
        elsewhere = freezes.hold(conn, someone_else, "trade:9", _won(20000), now)
        dollars = freezes.hold(conn, user, "trade:8", Money(2000, "USD"), now)
        found = freezes.by_reference(conn, reference)
        uow.commit()
    # 20,000 + 20,000 + the last 5,500 of the third: after that the freeze holds its amount.
    assert held == [True, True, True, False]
    assert (again, elsewhere, dollars) == (True, False, False)
    assert found is not None and (found.amount, found.held) == (_won(45500), _won(45500))

    with exchange.ctx.uow() as uow:
        assert freezes.release(uow.conn, reference, "reviewer@example.com", now) == user
        assert freezes.release(uow.conn, reference, "reviewer@example.com", now) is None
        after = freezes.hold(uow.conn, user, "trade:0", _won(20000), now)
        assert freezes.reopen(uow.conn, reference, now)
        refrozen = freezes.hold(uow.conn, user, "trade:5", _won(50000), now)
        uow.commit()
    assert (after, refrozen) == (False, True)
