"""The transition table, checked exhaustively."""

from __future__ import annotations

import itertools

import pytest

from voucher_exchange.trades.models import (
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    TradeStatus,
    check_transition,
)

S = TradeStatus
ALLOWED = {
    (S.RECEIVED, S.SCREENING), (S.RECEIVED, S.IN_REVIEW), (S.RECEIVED, S.CANCELLED), (S.RECEIVED, S.FAILED),
    (S.SCREENING, S.VERIFYING), (S.SCREENING, S.IN_REVIEW), (S.SCREENING, S.REJECTED),
    (S.SCREENING, S.CANCELLED), (S.SCREENING, S.FAILED),
    (S.VERIFYING, S.REDEEMING), (S.VERIFYING, S.IN_REVIEW), (S.VERIFYING, S.REJECTED),
    (S.VERIFYING, S.FAILED),
    (S.IN_REVIEW, S.SCREENING), (S.IN_REVIEW, S.VERIFYING), (S.IN_REVIEW, S.REDEEMING),
    (S.IN_REVIEW, S.REJECTED), (S.IN_REVIEW, S.CANCELLED),
    (S.REDEEMING, S.CREDITED), (S.REDEEMING, S.REJECTED), (S.REDEEMING, S.FAILED),
    (S.CREDITED, S.PAYING_OUT), (S.CREDITED, S.PAID), (S.CREDITED, S.FAILED),
    (S.PAYING_OUT, S.PAID), (S.PAYING_OUT, S.FAILED),
    (S.PAID, S.REVERSED),
    (S.FAILED, S.REDEEMING), (S.FAILED, S.CREDITED), (S.FAILED, S.PAYING_OUT), (S.FAILED, S.REJECTED),
}  # fmt: skip


def test_public_statuses_are_exactly_the_contract() -> None:
    assert [s.value for s in S] == [
        "received", "screening", "verifying", "in_review", "redeeming", "credited", "paying_out",
        "paid", "rejected", "cancelled", "failed", "reversed",
    ]  # fmt: skip


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_every_pair(current: TradeStatus, target: TradeStatus) -> None:
    if (current, target) in ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition) as refused:
            check_transition(current, target)
        assert refused.value.code == "trade_state_conflict"


def test_the_table_is_the_list_above() -> None:
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


def test_nothing_leaves_a_terminal_status_except_a_paid_reversal() -> None:
    assert {a for a, _ in ALLOWED if a in TERMINAL} == {S.PAID}
    assert TRANSITIONS[S.PAID] == frozenset({S.REVERSED})


def test_no_path_reaches_paid_without_securing_the_voucher() -> None:
    # Every way into `credited` comes from `redeeming` (value is secured before any payout), or
    # from `failed` by an operator's retry, which `trades.service.retry_failed` allows only for a
    # trade whose value was secured (tests/e2e/test_operator_retry.py, tests/reversals/test_guards.py).
    assert {a for a, b in ALLOWED if b is S.CREDITED} == {S.REDEEMING, S.FAILED}
    assert {a for a, b in ALLOWED if b is S.PAYING_OUT} == {S.CREDITED, S.FAILED}
    # Paid straight from credited only when netting against a reversal's debt absorbed the payout.
    assert {a for a, b in ALLOWED if b is S.PAID} == {S.PAYING_OUT, S.CREDITED}
