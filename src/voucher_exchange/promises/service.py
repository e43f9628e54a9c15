"""Promise use cases: the operator's terms, each trade's promise, and compensation paid with the payout.

When a miss is decided: at the moment the payout is handed to the bank (reserved in the ledger and
its amount fixed), and again when the bank executes it (a slow bank may execute a payout handed
over in time after it was due: then the compensation goes as a transfer of its own,
`trades/late_payout.py`). If that moment is after the promise's `due_at`, and the promise applies, the
compensation is written as a ledger transfer from the operator's `promise_compensation` expense
account to the seller's payable and added to that same payout, in one transaction: the seller gets
one bank transfer (payout + compensation), the rail statement shows that one amount, and a retry,
a crash or a second worker finds the promise already marked compensated (a conditional update)
and the ledger key already written, so it is paid exactly once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from voucher_exchange.audit import service as audit
from voucher_exchange.config import Settings
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.ledger import repository as ledger_repo
from voucher_exchange.ledger.models import Phase, TransferIntent, promise_compensation, seller_payable
from voucher_exchange.money import Money
from voucher_exchange.promises import repository as promise_repo
from voucher_exchange.promises.models import (
    DEFAULT_RAIL,
    Exclusion,
    PromiseTerms,
    TradePromise,
    checked_terms,
    default_terms,
    judge,
    missed,
    quoted,
)
from voucher_exchange.risk.screening import JURISDICTION_TZ


def terms(conn: Connection, settings: Settings, rail: str = DEFAULT_RAIL) -> PromiseTerms:
    """The promise in force: the operator's terms for the rail, or the default (10 minutes, the fee back)."""
    tz = JURISDICTION_TZ[settings.jurisdiction]
    return promise_repo.terms(conn, rail, tz) or default_terms(tz, settings.bank_window)


# The promise in force for the default rail, as columns of a caller's own SELECT (`terms_in`).
TERMS = promise_repo.terms_columns(DEFAULT_RAIL)


def terms_in(row: Any, settings: Settings) -> PromiseTerms:
    """`terms`, as read with `TERMS` in `row`."""
    tz = JURISDICTION_TZ[settings.jurisdiction]
    return promise_repo.terms_from(row, tz) or default_terms(tz, settings.bank_window)


def set_terms(
    engine: Engine,
    settings: Settings,
    minutes: int | None,
    compensation_bps: int | None,
    window: tuple[str, str] | None,
    actor: str,
    now: datetime,
) -> PromiseTerms:
    """Use case: the operator sets the promise (audited before → after); None keeps that part as it is.
    Trades secured before keep the promise they were made.

    Takes the engine, not a Context: setting it needs no keys nor outside services.
    """
    with UnitOfWork(engine) as uow:
        new = change_terms(uow.conn, settings, minutes, compensation_bps, window, actor, now)
        uow.commit()
    return new


def change_terms(
    conn: Connection,
    settings: Settings,
    minutes: int | None,
    compensation_bps: int | None,
    window: tuple[str, str] | None,
    actor: str,
    now: datetime,
) -> PromiseTerms:
    """Check and store new terms for the rail, with an audit entry of before → after."""
    before = terms(conn, settings)
    start, end = window or (f"{before.window.start:%H:%M}", f"{before.window.end:%H:%M}")
    new = checked_terms(
        before.minutes if minutes is None else minutes,
        before.compensation_bps if compensation_bps is None else compensation_bps,
        start,
        end,
        JURISDICTION_TZ[settings.jurisdiction],
    )
    promise_repo.save_terms(conn, DEFAULT_RAIL, new, now, actor)
    audit.record(
        conn,
        actor,
        "promise.terms",
        DEFAULT_RAIL,
        {"before": terms_json(before), "after": terms_json(new)},
        now,
    )
    return new


def terms_json(t: PromiseTerms) -> dict[str, Any]:
    """The terms as a page, an audit entry or the CLI shows them."""
    return {
        "minutes": t.minutes,
        "compensation_bps": t.compensation_bps,
        "bank_window": {
            "from": f"{t.window.start:%H:%M}",
            "to": f"{t.window.end:%H:%M}",
            "timezone": t.window.tz,
        },
    }


def record_promise(
    conn: Connection,
    current: PromiseTerms,
    trade_id: str,
    fee: Money,
    secured_at: datetime,
    held_for_review: bool,
) -> TradePromise:
    """Fix the promise a trade gets under the `current` terms as its voucher is secured (once; a
    re-run keeps the first)."""
    promise = judge(current, trade_id, fee, secured_at, held_for_review)
    if promise_repo.add(conn, promise, secured_at):
        return promise
    stored = promise_repo.get(conn, trade_id)
    assert stored is not None
    return stored


def compensation_intent(trade_id: str, user_id: str, amount: Money) -> TransferIntent:
    """The posting: the operator's expense pays the seller's payable (never more than once per trade)."""
    return TransferIntent(
        f"trade:{trade_id}:promise_compensation",
        f"trade:{trade_id}",
        promise_compensation(amount.currency),
        seller_payable(user_id, amount.currency),
        amount.amount,
        Phase.SINGLE,
        "payout later than promised: compensation",
    )


def claim_compensation(
    conn: Connection,
    trade_id: str,
    user_id: str,
    now: datetime,
    paid_at: datetime | None = None,
    known: TradePromise | None = None,
) -> Money | None:
    """If the payout handed to the bank `now` (or executed by the bank at `paid_at`) misses the
    trade's promise: mark the promise compensated and credit the seller the compensation; what to
    pay them on top (None: nothing).

    Exactly once: the promise's conditional update lets one caller through, ever. `known`: the
    trade's promise as the caller already has it (its due time and amount never change), not read.
    """
    promise = known if known is not None else promise_repo.get(conn, trade_id)
    if promise is None or not missed(promise, paid_at or now):
        return None
    if not promise_repo.mark_compensated(conn, trade_id, now):
        return None
    amount = promise.compensation_due
    if amount.is_positive():
        ledger_repo.write(conn, compensation_intent(trade_id, user_id, amount), now)
    return amount


def promise_of(conn: Connection, trade_id: str) -> TradePromise | None:
    """A trade's promise, once its voucher was secured."""
    return promise_repo.get(conn, trade_id)


def promise_json(promise: TradePromise | None, held_for_review: bool, open_before_secured: bool) -> Any:
    """`promise` of `GET /trades/{id}`: `{due_at, applies, excluded_because?}`.

    Before the voucher is secured `due_at` is null (the clock starts then); a trade held for
    review says so at once; a trade that ended before being secured has no promise (null).
    """
    if promise is not None:
        body: dict[str, Any] = {"due_at": _iso(promise.due_at), "applies": promise.applies}
        if promise.excluded_because is not None:
            body["excluded_because"] = promise.excluded_because.value
        return body
    if held_for_review:
        return {"due_at": None, "applies": False, "excluded_because": Exclusion.REVIEW_HOLD.value}
    if open_before_secured:
        return {"due_at": None, "applies": True}
    return None


def quote_promise(
    conn: Connection,
    settings: Settings,
    fee: Money,
    now: datetime,
    expires_at: datetime,
    expected_review_minutes: int,
) -> dict[str, Any]:
    """`promise` of a quote: terms, this quote's compensation and the exclusions, stated before selling."""
    t = terms(conn, settings)
    q = quoted(t, fee, now, expires_at, expected_review_minutes)
    body: dict[str, Any] = {
        "minutes": q.minutes,
        "compensation": q.compensation.as_json(),
        "applies": q.excluded_because is None,
        "exclusions": {
            "bank_window": terms_json(t)["bank_window"],
            "review_hold": {"expected_wait_minutes": q.expected_review_minutes},
        },
    }
    if q.excluded_because is not None:
        body["excluded_because"] = q.excluded_because.value
    return body


def promise_figures(conn: Connection, start: datetime, end: datetime) -> tuple[int, int]:
    """For a transparency report: (promises missed, compensation paid in minor units) in [start, end).

    A miss counts when its compensation was added to the payout (its `compensated_at`).
    """
    return promise_repo.misses_between(conn, start, end)


def compensations_by_trade(conn: Connection) -> dict[str, int]:
    """trade id → compensation added to its payout (what `ledger verify` adds to the quoted payout)."""
    return promise_repo.compensations_by_trade(conn)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
