"""Read a counterparty's daily statement (CSV) into movements: pure, no database.

The issuer's settlement file and the bank's statement have the columns the sandbox
writes (`sandbox/statements.py`); a real counterparty's file is mapped to the same
names. Extra columns are ignored; a missing column, a line of another day or an
unreadable amount is refused with the line's number.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from voucher_exchange.errors import DomainError, InvalidInput
from voucher_exchange.money import Money
from voucher_exchange.reconcile.matching import Movement, MovementKind

MAX_LINES = 200_000


class Source(StrEnum):
    """Whose statement it is."""

    ISSUER = "issuer"
    """The voucher issuer's settlement file: redemptions."""
    RAIL = "rail"
    """The payout bank's statement: transfers executed and returned."""


@dataclass(frozen=True)
class Layout:
    """The columns of one kind of statement."""

    date: str
    reference: str
    time: str
    kinds: frozenset[MovementKind]


LAYOUTS = {
    Source.ISSUER: Layout(
        "settlement_date", "merchant_reference", "redeemed_at_utc", frozenset({MovementKind.REDEMPTION})
    ),
    Source.RAIL: Layout(
        "statement_date",
        "end_to_end_id",
        "booked_at_utc",
        frozenset({MovementKind.DEBIT, MovementKind.RETURN}),
    ),
}


_NAMES = {Source.ISSUER: "an issuer settlement file", Source.RAIL: "a bank statement"}


def _refuse(line: int, what: str) -> InvalidInput:
    return InvalidInput("statement_invalid", f"Statement line {line}: {what}.", "file")


def _moment(text: str, line: int) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise _refuse(line, f"{text!r} is not a time") from exc
    if moment.tzinfo is None:
        raise _refuse(line, "the time has no time zone (statements are in UTC)")
    return moment.astimezone(UTC)


def _movement(row: dict[str, str], layout: Layout, day: date, line: int) -> Movement:
    if row[layout.date].strip() != day.isoformat():
        raise _refuse(line, f"dated {row[layout.date].strip()!r}, not {day.isoformat()}")
    reference = row[layout.reference].strip()
    if not reference:
        raise _refuse(line, "no reference")
    try:
        kind = MovementKind(row["type"].strip().upper())
    except ValueError:
        kind = None
    if kind not in layout.kinds:
        raise _refuse(line, f"unknown type {row['type']!r}")
    try:
        amount = Money(int(row["amount"].strip()), row["currency"].strip().upper())
    except (ValueError, DomainError) as exc:
        raise _refuse(line, "the amount must be whole minor units of a known currency") from exc
    return Movement(reference, kind, amount, _moment(row[layout.time], line), f"line {line}")


def parse(source: Source, text: str, day: date) -> list[Movement]:
    """The statement's movements of `day`, in file order; `InvalidInput` names the first bad line."""
    layout = LAYOUTS[source]
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    needed = {layout.date, layout.reference, layout.time, "type", "amount", "currency"}
    missing = sorted(needed - set(reader.fieldnames or ()))
    if missing:
        raise InvalidInput(
            "statement_invalid",
            f"This is not {_NAMES[source]}: no column {', '.join(missing)}.",
            "file",
        )
    movements = []
    for row in reader:
        line = reader.line_num
        if line > MAX_LINES:
            raise _refuse(line, "the statement is too long")
        if None in row.values():
            raise _refuse(line, "too few columns")
        movements.append(_movement(row, layout, day, line))
    return movements
