"""Random interleavings of everything that can happen to trades, checked against a reference model.

Hypothesis drives quotes and submissions, duplicate codes, partial balances, carrier-billing
declarations, crashes at the named points, flaky and slow issuers, banks that refuse,
payout redirects, reviews, withdrawals and reversals — against a real database and the
sandboxes over HTTP. After every step the invariants (docs/api.md, "What always holds")
must hold: secure before pay, exactly once, balanced books, nothing lost (every trade rests
or can be resumed), and the model's own account of what each seller was paid and owes.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.support.core import Core
from tests.support.staff import verify_identity
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import IdentityStatus, Role, User
from voucher_exchange.errors import DomainError, ExternalUnavailable
from voucher_exchange.faults import SimulatedCrash, crash_once_at
from voucher_exchange.identity import service as identity_service
from voucher_exchange.ledger import service as ledger_service
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.reconcile import service as reconcile_service
from voucher_exchange.reversals import service as reversal_service
from voucher_exchange.review import service as review_service
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import pipeline
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TradeStatus

pytestmark = [pytest.mark.both_backends, pytest.mark.fresh_sandbox]  # polls every chargeback

S = TradeStatus
RESTING = {S.PAID, S.REJECTED, S.CANCELLED, S.FAILED, S.REVERSED, S.IN_REVIEW}
CRASH_POINTS = ["before_issuer_redeem", "after_issuer_redeem", "before_rail_transfer", "after_rail_transfer"]
PAYOUT = {50000: 45500, 150000: 130500}  # cultureland 91%, google-play-kr 87%


@dataclass
class ModelSeller:
    user: User
    accounts: list[tuple[str, str]]  # (destination id, account number)
    refusing: set[str] = field(default_factory=set)  # account numbers the bank refuses


@dataclass
class ModelTrade:
    id: str
    seller: ModelSeller
    code: str
    pin: str | None


class Exchange(RuleBasedStateMachine):
    """The system under test and the reference model beside it."""

    core: Core

    def __init__(self) -> None:
        super().__init__()
        self.sellers: list[ModelSeller] = []
        self.trades: list[ModelTrade] = []
        self.codes: list[tuple[str, str | None, str, int]] = []  # (code, pin, brand, face) sold before

    @initialize()
    def funded_with_two_sellers(self) -> None:
        self.core.fund(100_000_000, f"model-{uuid.uuid4().hex[:8]}")
        self.new_seller(refusing=False)
        self.new_seller(refusing=True)

    def _statuses(self) -> dict[str, TradeStatus]:
        with self.core.ctx.uow(readonly=True) as uow:
            found = {t.id: trade_repo.get(uow.conn, t.id) for t in self.trades}
        return {i: t.status for i, t in found.items() if t is not None}

    def _has(self, status: TradeStatus) -> bool:
        return status in self._statuses().values()

    # --- the world -------------------------------------------------------------------------

    @precondition(lambda self: len(self.sellers) < 4)
    @rule(refusing=st.booleans())
    def new_seller(self, refusing: bool) -> None:
        user, destination, account = self.core.seller("reject" if refusing else "ok")
        seller = ModelSeller(user, [(destination, account)])
        if refusing:
            seller.refusing.add(account)
        self.sellers.append(seller)

    def _seller(self, index: int) -> ModelSeller | None:
        return self.sellers[index % len(self.sellers)] if self.sellers else None

    def _drive(self, trade_id: str, crash_at: str | None = None) -> None:
        """Run the pipeline as a worker would: a crash loses the open transaction, then it runs again."""
        for _ in range(12):
            try:
                if crash_at:
                    with crash_once_at(crash_at):
                        pipeline.process_trade(self.core.ctx, trade_id)
                    crash_at = None
                else:
                    pipeline.process_trade(self.core.ctx, trade_id)
                    return
            except SimulatedCrash:
                crash_at = None
            except ExternalUnavailable:
                continue
        raise AssertionError(f"trade {trade_id} did not come to rest")

    def _drive_batch(self, trade_ids: list[str], crash_at: str | None = None) -> None:
        """Run them as a batching worker would (`process_many`, calls on a thread pool); a crash
        loses the open transaction, a trade whose partner failed runs again."""
        pending = trade_ids
        with ThreadPoolExecutor(4) as calls:
            for _ in range(12):
                try:
                    if crash_at:
                        with crash_once_at(crash_at):
                            results = pipeline.process_many(self.core.ctx, pending, calls)
                    else:
                        results = pipeline.process_many(self.core.ctx, pending, calls)
                except SimulatedCrash:
                    crash_at = None
                    continue
                crash_at = None
                failed = {i: e for i, e in results.items() if e is not None}
                assert all(isinstance(e, ExternalUnavailable) for e in failed.values()), failed
                pending = list(failed)
                if not pending:
                    statuses = self._statuses()
                    assert {i: statuses[i] for i in trade_ids if statuses[i] not in RESTING} == {}
                    return
        raise AssertionError(f"trades {pending} did not come to rest")

    KINDS = st.sampled_from(["plain", "partial", "carrier", "resell", "held", "flaky", "slow"])

    @rule(who=st.integers(0, 50), kind=KINDS, crash_at=st.none() | st.sampled_from(CRASH_POINTS))
    def sell(self, who: int, kind: str, crash_at: str | None) -> None:
        trade_id = self._submit(who, kind)
        if trade_id is not None:
            self._drive(trade_id, crash_at)

    @rule(
        sales=st.lists(st.tuples(st.integers(0, 50), KINDS), min_size=2, max_size=4),
        crash_at=st.none() | st.sampled_from(CRASH_POINTS),
    )
    def sell_in_a_batch(self, sales: list[tuple[int, str]], crash_at: str | None) -> None:
        submitted = [self._submit(who, kind) for who, kind in sales]
        self._drive_batch([t for t in submitted if t is not None], crash_at)

    def _submit(self, who: int, kind: str) -> str | None:
        seller = self._seller(who)
        if seller is None:
            return None
        brand, face = ("google-play-kr", 150000) if kind == "held" else ("cultureland", 50000)
        if kind == "resell" and self.codes:
            code, pin, brand, face = self.codes[who % len(self.codes)]
        else:
            extra: dict[str, object] = {}
            if kind == "partial":
                extra["balance"] = 30000
            if kind in ("flaky", "slow"):
                extra["failure"] = "flaky" if kind == "flaky" else "timeout"
            minted = self.core.sandbox("/issuer/vouchers", {"brand": brand, "face_value": face, **extra})
            code, pin = minted["code"], minted.get("pin")
            self.codes.append((code, pin, brand, face))
        method = AcquisitionMethod.CARRIER_BILLING if kind == "carrier" else AcquisitionMethod.GIFT
        destination = seller.accounts[-1][0]
        with self.core.ctx.uow() as uow:
            quote = quote_service.create_quote(
                uow.conn, self.core.ctx.settings, self.core.ctx.clock, seller.user, brand, Money(face, "KRW")
            )
            cmd = trade_service.SubmitTrade(quote.id, code, pin, method, date(2026, 11, 1), destination)
            try:
                trade_id = trade_service.submit(
                    uow.conn, self.core.ctx.clock, self.core.ctx.vault, seller.user, cmd
                )
            except DomainError as refusal:
                # The bank refused this account before: it is offered no more (nothing is written).
                assert refusal.code == "payout_destination_refused"
                return None
            uow.commit()
        self.trades.append(ModelTrade(trade_id, seller, code, pin))
        return trade_id

    def _in(self, status: TradeStatus) -> list[ModelTrade]:
        found = []
        with self.core.ctx.uow(readonly=True) as uow:
            for t in self.trades:
                stored = trade_repo.get(uow.conn, t.id)
                if stored is not None and stored.status is status:
                    found.append(t)
        return found

    @precondition(lambda self: self._has(S.IN_REVIEW))
    @rule(which=st.integers(0, 50), approve=st.booleans())
    def review(self, which: int, approve: bool) -> None:
        held = self._in(S.IN_REVIEW)
        if not held:
            return
        trade = held[which % len(held)]
        with self.core.ctx.uow() as uow:
            reviewer = account_service.create_staff(
                uow.conn,
                "model-reviewer@example.com",
                "correct-horse-battery",
                Role.REVIEWER,
                self.core.ctx.clock.now(),
            )
            uow.commit()
        if reviewer.identity_status is not IdentityStatus.VERIFIED:  # reviewers decide with an identity
            reviewer = verify_identity(self.core.ctx, reviewer)
        with self.core.ctx.uow() as uow:
            review_service.decide(
                uow.conn, self.core.ctx.clock, reviewer, trade.id, "approve" if approve else "reject", "model"
            )
            uow.commit()
        self._drive(trade.id)

    @precondition(lambda self: self._has(S.IN_REVIEW))
    @rule(which=st.integers(0, 50))
    def withdraw(self, which: int) -> None:
        held = self._in(S.IN_REVIEW)
        if not held:
            return
        trade = held[which % len(held)]
        with self.core.ctx.uow() as uow:
            trade_service.cancel(uow.conn, self.core.ctx.clock, trade.seller.user, trade.id)
            uow.commit()

    @precondition(lambda self: self._has(S.FAILED))
    @rule(which=st.integers(0, 50), crash_at=st.none() | st.sampled_from(CRASH_POINTS[2:]))
    def redirect(self, which: int, crash_at: str | None) -> None:
        refused = self._in(S.FAILED)
        if not refused:
            return
        trade = refused[which % len(refused)]
        seller = trade.seller
        account = str(uuid.uuid4().int)[:12]
        user = self.core.user(seller.user.id)
        assert user.legal_name is not None
        self.core.sandbox(
            "/rail/accounts", {"bank_code": "088", "account_number": account, "holder_name": user.legal_name}
        )
        destination = identity_service.add_payout_destination(
            self.core.ctx, user, "088", account, user.legal_name
        )
        seller.accounts.append((destination.id, account))
        try:
            with self.core.ctx.uow() as uow:
                trade_service.redirect_payout(uow.conn, self.core.ctx.clock, user, trade.id, destination.id)
                uow.commit()
        except DomainError as refusal:
            assert refusal.code == "payout_not_refused"  # failed for another reason than the bank
            return
        self._drive(trade.id, crash_at)

    @precondition(lambda self: self._has(S.PAID))
    @rule(which=st.integers(0, 50), reason=st.sampled_from(["stolen", "fraud", "chargeback"]))
    def chargeback(self, which: int, reason: str) -> None:
        paid = self._in(S.PAID)
        if not paid:
            return
        trade = paid[which % len(paid)]
        self.core.sandbox("/issuer/chargebacks", {"code": trade.code, "reason": reason})
        reversal_service.poll(self.core.ctx)
        with self.core.ctx.uow(readonly=True) as uow:
            stored = trade_repo.get(uow.conn, trade.id)
        assert stored is not None and stored.status is S.REVERSED

    # --- what must always hold ---------------------------------------------------------------

    @invariant()
    def the_books_and_the_invariants_hold(self) -> None:
        with self.core.ctx.uow(readonly=True) as uow:
            report = reconcile_service.verify(uow.conn)
        assert report.violations == []

    @invariant()
    def every_trade_rests(self) -> None:
        with self.core.ctx.uow(readonly=True) as uow:
            statuses = {t.id: trade_repo.get(uow.conn, t.id) for t in self.trades}
        assert {i: s.status for i, s in statuses.items() if s is None or s.status not in RESTING} == {}

    @invariant()
    def each_seller_got_exactly_what_the_model_says(self) -> None:
        with self.core.ctx.uow(readonly=True) as uow:
            balances = {b["account"]: b["balance"] for b in ledger_service.balances(uow.conn)}
            for seller in self.sellers:
                mine = [t for t in self.trades if t.seller is seller]
                stored = [trade_repo.get(uow.conn, t.id) for t in mine]
                # Money the seller earned: every trade whose voucher was secured (credited and after).
                sold = sum(t.payout.amount for t in stored if t is not None and t.secured_at is not None)
                owed = -balances.get(f"seller_payable:{seller.user.id}", 0)  # still to send (refused payouts)
                sent = sum(
                    x["amount"] for _, account in seller.accounts for x in self.core.rail_transfers(account)
                )
                receivable = balances.get(f"seller_receivable:{seller.user.id}", 0)
                reversed_owed = sum(
                    t.payout.amount for t in stored if t is not None and t.status is S.REVERSED
                )
                netted = reversed_owed - receivable
                # Every unit of money earned was sent to the bank, settled a reversal's debt, or waits.
                assert sold == sent + netted + max(owed, 0), (seller.user.email, sold, sent, netted, owed)
                assert [self.core.rail_transfers(a) for a in seller.refusing] == [[] for _ in seller.refusing]


@pytest.mark.slow
def test_random_interleavings_keep_every_invariant(core: Core) -> None:
    Exchange.core = core
    run_state_machine_as_test(
        Exchange,
        settings=settings(
            max_examples=int(os.environ.get("VX_MODEL_EXAMPLES", "5")),
            stateful_step_count=16,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )
