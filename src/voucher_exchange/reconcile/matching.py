"""Match a counterparty's statement one-to-one to our books: pure functions over plain values.

Both sides are lists of `Movement`s: the statement's lines, and what our books say
happened (a trade's redemption, a payout's transfer). They pair by reference; a pair
agrees when kind, amount and currency are equal and the times are within a tolerance.

Our side is read with a margin of one tolerance around the day, because a movement
booked at 23:59:59.9 by the bank may be settled at 00:00:00.1 in our books: such a
movement matches its statement line, and if the statement does not list it, it
belongs to the next (or previous) day's statement, so it is not reported as missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from voucher_exchange.money import Money


class MovementKind(StrEnum):
    """What kind of movement a line records."""

    REDEMPTION = "REDEMPTION"
    """A voucher's value moved into our issuer account."""
    DEBIT = "DEBIT"
    """A payout left our payout account."""
    RETURN = "RETURN"
    """A payout the receiving bank refused came back (or never left)."""


class Bucket(StrEnum):
    """Where one reconciled movement ends up."""

    MATCHED = "matched"
    """Both sides agree."""
    MISSING_OURS = "missing_ours"
    """On the statement, not in our books."""
    MISSING_THEIRS = "missing_theirs"
    """In our books, not on the statement."""
    MISMATCHED = "mismatched"
    """On both sides under the same reference, but the amount, kind or time differ."""


class Problem(StrEnum):
    """Why a pair does not agree (or why a line has no partner)."""

    AMOUNT = "amount"
    """The amounts (or currencies) differ."""
    KIND = "kind"
    """One side says debit, the other return."""
    TIME = "time"
    """The times differ by more than the tolerance."""
    DUPLICATE = "duplicate"
    """The statement lists this reference more than once."""


@dataclass(frozen=True)
class Movement:
    """One movement of money, as one side records it; `where` says where to look (line, trade, payout)."""

    reference: str
    kind: MovementKind
    amount: Money
    at: datetime
    where: str


@dataclass(frozen=True)
class Result:
    """One reconciled movement: the statement's line, ours, or both, and what disagrees."""

    bucket: Bucket
    reference: str
    theirs: Movement | None
    ours: Movement | None
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Reconciliation:
    """Every result of matching one statement."""

    results: tuple[Result, ...]

    def count(self, bucket: Bucket) -> int:
        """How many results fell in `bucket`."""
        return sum(1 for r in self.results if r.bucket is bucket)

    @property
    def unmatched(self) -> list[Result]:
        """Results that need an operator: everything but MATCHED."""
        return [r for r in self.results if r.bucket is not Bucket.MATCHED]

    @property
    def ok(self) -> bool:
        """True when every movement matched."""
        return not self.unmatched


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def problems(theirs: Movement, ours: Movement, tolerance: timedelta) -> tuple[Problem, ...]:
    """What disagrees between two movements under the same reference."""
    found = []
    if theirs.amount != ours.amount:
        found.append(Problem.AMOUNT)
    if theirs.kind is not ours.kind:
        found.append(Problem.KIND)
    if abs(theirs.at - ours.at) > tolerance:
        found.append(Problem.TIME)
    return tuple(found)


def match(
    theirs: Sequence[Movement], ours: Sequence[Movement], day: date, tolerance: timedelta
) -> Reconciliation:
    """Pair the statement's lines of `day` with our movements (read with a margin of `tolerance`)."""
    start, end = day_bounds(day)
    waiting: dict[str, Movement] = {}
    for movement in ours:
        waiting.setdefault(movement.reference, movement)
    extra_ours = [m for m in ours if waiting[m.reference] is not m]
    seen: set[str] = set()
    results = []
    for line in theirs:
        partner = waiting.pop(line.reference, None)
        if partner is not None:
            found = problems(line, partner, tolerance)
            bucket = Bucket.MISMATCHED if found else Bucket.MATCHED
            results.append(Result(bucket, line.reference, line, partner, found))
        else:
            repeated = (Problem.DUPLICATE,) if line.reference in seen else ()
            results.append(Result(Bucket.MISSING_OURS, line.reference, line, None, repeated))
        seen.add(line.reference)
    for movement in [*waiting.values(), *extra_ours]:
        if start <= movement.at < end:
            results.append(Result(Bucket.MISSING_THEIRS, movement.reference, None, movement))
    return Reconciliation(tuple(results))
