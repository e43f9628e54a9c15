"""The generic ledger and the payout posting rules: two-phase protocol, idempotency, its own checks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import IntegrityError

from tests.conftest import migrated_database_url
from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import ledger_accounts, ledger_transfers
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.ledger import repository as ledger
from voucher_exchange.ledger import service
from voucher_exchange.ledger.models import (
    Phase,
    TransferIntent,
    inventory,
    margin,
    seller_payable,
    treasury,
)
from voucher_exchange.money import Money
from voucher_exchange.payouts import postings

pytestmark = pytest.mark.both_backends

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Engine]:
    e = make_engine(migrated_database_url(request, backend, tmp_path, "vx_ledger"))
    migrate.upgrade(e)
    yield e
    e.dispose()


def _credit(trade: str, user: str, brand: str, payout: int, fee: int) -> list[TransferIntent]:
    """What crediting a secured voucher posts (the trade's own rule is tested with the pipeline)."""
    stock = inventory(brand, "KRW")
    return [
        TransferIntent(f"trade:{trade}:credit", f"trade:{trade}", stock, seller_payable(user, "KRW"),
                       payout, Phase.SINGLE, "voucher secured: seller credited"),
        TransferIntent(f"trade:{trade}:fee", f"trade:{trade}", stock, margin("KRW"), fee, Phase.SINGLE,
                       "exchange fee"),
    ]  # fmt: skip


def _balances(engine: Engine) -> dict[str, tuple[int, int]]:
    with UnitOfWork(engine, readonly=True) as uow:
        return {b["account"]: (b["balance"], b["pending"]) for b in service.balances(uow.conn)}


def test_credit_then_pay_balances_at_every_step(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        ledger.write(uow.conn, postings.fund_treasury("f1", Money(1_000_000, "KRW")), NOW)
        for intent in _credit("t1", "u1", "cultureland", 45500, 4500):
            ledger.write(uow.conn, intent, NOW)
        pending = ledger.write(uow.conn, postings.reserve_payout("p1", "u1", Money(45500, "KRW")), NOW)
        uow.commit()
    assert _balances(engine) == {
        "inventory:cultureland": (50000, 0),
        "margin": (-4500, 0),
        "operator_capital": (-1_000_000, 0),
        "seller_payable:u1": (-45500, 45500),
        "treasury": (1_000_000, -45500),
    }
    with UnitOfWork(engine) as uow:
        ledger.settle(uow.conn, pending, Phase.POST, NOW, "rail executed")
        uow.commit()
    assert _balances(engine)["seller_payable:u1"] == (0, 0)
    assert _balances(engine)["treasury"] == (954500, 0)
    with UnitOfWork(engine, readonly=True) as uow:
        assert service.check_books(uow.conn).violations == []
        found = service.transfers(uow.conn, ["trade:t1", "payout:p1"])
    assert [(t.key, t.reference, t.amount.amount, t.phase) for t in found] == [
        ("trade:t1:credit", "trade:t1", 45500, Phase.SINGLE),
        ("trade:t1:fee", "trade:t1", 4500, Phase.SINGLE),
        ("payout:p1:pending", "payout:p1", 45500, Phase.PENDING),
        ("payout:p1:pending:post", "payout:p1", 45500, Phase.POST),
    ]


def test_writing_the_same_key_twice_moves_money_once(engine: Engine) -> None:
    intent = postings.fund_treasury("same", Money(700, "KRW"))
    with UnitOfWork(engine) as uow:
        first = ledger.write(uow.conn, intent, NOW)
        second = ledger.write(uow.conn, intent, NOW)
        uow.commit()
    assert first == second
    assert _balances(engine)["treasury"] == (700, 0)


def test_a_pending_transfer_settles_once_and_only_one_way(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        ledger.write(uow.conn, postings.fund_treasury("f", Money(1000, "KRW")), NOW)
        for intent in _credit("t", "u", "b", 900, 100):
            ledger.write(uow.conn, intent, NOW)
        pending = ledger.write(uow.conn, postings.reserve_payout("p", "u", Money(900, "KRW")), NOW)
        voided = ledger.settle(uow.conn, pending, Phase.VOID, NOW, "rail rejected")
        assert ledger.settle(uow.conn, pending, Phase.VOID, NOW, "again") == voided
        with pytest.raises(RuntimeError):
            ledger.settle(uow.conn, pending, Phase.POST, NOW, "too late")
        uow.commit()
    assert _balances(engine)["seller_payable:u"] == (-900, 0)
    assert _balances(engine)["treasury"] == (1000, 0)


def test_the_database_refuses_an_unbalanced_or_empty_transfer(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        acct = ledger.account_id(uow.conn, treasury("KRW"))
        with pytest.raises(IntegrityError):
            uow.conn.execute(
                insert(ledger_transfers).values(
                    key="bad", debit_account_id=acct, credit_account_id=acct, amount=0, currency="KRW",
                    phase="single", reference="test", memo="x", created_at=NOW,
                )
            )  # fmt: skip


def test_verify_notices_totals_that_do_not_match_transfers(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        ledger.write(uow.conn, postings.fund_treasury("f", Money(1000, "KRW")), NOW)
        uow.conn.execute(
            update(ledger_accounts).where(ledger_accounts.c.code == "treasury").values(debits_posted=999)
        )
        uow.commit()
    with UnitOfWork(engine, readonly=True) as uow:
        report = service.check_books(uow.conn)
    assert report.violations == [
        "account treasury (KRW) totals differ from its transfers",
        "KRW accounts do not sum to zero (posted -1, pending 0)",
    ]
