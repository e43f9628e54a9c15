"""Statement matching and parsing, as pure functions: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from voucher_exchange.errors import InvalidInput
from voucher_exchange.money import Money
from voucher_exchange.reconcile.matching import Bucket, Movement, MovementKind, Problem, match
from voucher_exchange.reconcile.statements import Source, parse

DAY = date(2026, 11, 27)
NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TOLERANCE = timedelta(minutes=15)
K = MovementKind


def mv(ref: str, amount: int, at: datetime = NOON, kind: MovementKind = K.DEBIT, where: str = "") -> Movement:
    return Movement(ref, kind, Money(amount, "KRW"), at, where or ref)


def summary(found: object) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(r.bucket.value, r.reference, tuple(p.value for p in r.problems)) for r in found.results]  # type: ignore[attr-defined]


def test_identical_sides_match_one_to_one() -> None:
    theirs = [mv("a", 100), mv("b", 200, NOON + timedelta(minutes=14, seconds=59))]
    ours = [mv("b", 200), mv("a", 100)]

    found = match(theirs, ours, DAY, TOLERANCE)

    assert summary(found) == [("matched", "a", ()), ("matched", "b", ())]
    assert found.ok and found.count(Bucket.MATCHED) == 2


def test_each_difference_lands_in_its_bucket() -> None:
    theirs = [
        mv("same", 100),
        mv("extra", 50),
        mv("amount", 301),
        mv("late", 400, NOON + timedelta(minutes=15, microseconds=1)),
        mv("kind", 500, kind=K.RETURN),
        mv("same", 100),
    ]
    ours = [mv("same", 100), mv("amount", 300), mv("late", 400), mv("kind", 500), mv("gone", 600)]

    found = match(theirs, ours, DAY, TOLERANCE)

    assert summary(found) == [
        ("matched", "same", ()),
        ("missing_ours", "extra", ()),
        ("mismatched", "amount", ("amount",)),
        ("mismatched", "late", ("time",)),
        ("mismatched", "kind", ("kind",)),
        ("missing_ours", "same", ("duplicate",)),
        ("missing_theirs", "gone", ()),
    ]
    assert not found.ok
    assert [found.count(b) for b in Bucket] == [1, 2, 1, 3]


def test_a_currency_difference_is_an_amount_difference() -> None:
    theirs = [Movement("a", K.DEBIT, Money(100, "USD"), NOON, "line 2")]

    found = match(theirs, [mv("a", 100)], DAY, TOLERANCE)

    assert found.results[0].problems == (Problem.AMOUNT,)


def test_our_movements_just_outside_the_day_match_but_are_never_missing() -> None:
    midnight = datetime(2026, 11, 28, tzinfo=UTC)
    theirs = [mv("late-booked", 100, midnight - timedelta(microseconds=100_000))]
    ours = [
        mv("late-booked", 100, midnight + timedelta(microseconds=100_000)),
        mv("next-days", 200, midnight + timedelta(seconds=1)),
        mv("previous-days", 300, midnight - timedelta(days=1, seconds=1)),
        mv("todays-first", 400, midnight - timedelta(days=1)),
    ]

    found = match(theirs, ours, DAY, TOLERANCE)

    assert summary(found) == [("matched", "late-booked", ()), ("missing_theirs", "todays-first", ())]


ISSUER_CSV = (
    "settlement_date,line,type,merchant_reference,voucher_id,voucher_last4,brand,amount,currency,redeemed_at_utc\r\n"
    "2026-11-27,1,REDEMPTION,t-1,V00000001,1234,cultureland,50000,KRW,2026-11-27T00:00:00.250000Z\r\n"
    "2026-11-27,2,REDEMPTION,t-2,V00000002,5678,cultureland,10000,KRW,2026-11-27T23:59:59.000000Z\r\n"
)


def test_an_issuer_statement_reads_into_movements() -> None:
    assert parse(Source.ISSUER, ISSUER_CSV, DAY) == [
        Movement("t-1", K.REDEMPTION, Money(50000, "KRW"), datetime(2026, 11, 27, 0, 0, 0, 250000, UTC),
                 "line 2"),
        Movement("t-2", K.REDEMPTION, Money(10000, "KRW"), datetime(2026, 11, 27, 23, 59, 59, tzinfo=UTC),
                 "line 3"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\r\n1,2\r\n", "This is not an issuer settlement file: no column amount, currency"),
        (
            ISSUER_CSV.replace("2026-11-27,2,", "2026-11-28,2,"),
            "Statement line 3: dated '2026-11-28', not 2026-11-27.",
        ),
        (
            ISSUER_CSV.replace(",10000,", ",10000.5,"),
            "Statement line 3: the amount must be whole minor units",
        ),
        (
            ISSUER_CSV.replace(",KRW,2026-11-27T23", ",XYZ,2026-11-27T23"),
            "Statement line 3: the amount must be",
        ),
        (ISSUER_CSV.replace("T23:59:59.000000Z", "T23:59:59"), "Statement line 3: the time has no time zone"),
        (ISSUER_CSV.replace("REDEMPTION,t-2", "DEBIT,t-2"), "Statement line 3: unknown type 'DEBIT'."),
        (ISSUER_CSV.replace(",t-2,", ",,"), "Statement line 3: no reference."),
        (ISSUER_CSV + "2026-11-27,3\r\n", "Statement line 4: too few columns."),
    ],
)
def test_a_malformed_statement_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(Source.ISSUER, text, DAY)

    assert refused.value.code == "statement_invalid"
    assert refused.value.message.startswith(message)


def test_a_rail_statement_takes_debits_and_returns() -> None:
    text = (
        "statement_date,line,type,end_to_end_id,bank_reference,bank_code,account,amount,currency,booked_at_utc\n"
        "2026-11-27,1,DEBIT,vx-payout-1,RAIL-1,004,****6789,45500,KRW,2026-11-27T12:00:00Z\n"
        "2026-11-27,2,return,vx-payout-2,,088,****4321,27000,KRW,2026-11-27T12:00:00+00:00\n"
    )

    assert [(m.reference, m.kind, m.amount.amount) for m in parse(Source.RAIL, text, DAY)] == [
        ("vx-payout-1", K.DEBIT, 45500),
        ("vx-payout-2", K.RETURN, 27000),
    ]
