"""Read a counterparty's daily statement (CSV) into movements: pure, no database.

The issuer's settlement file and the bank's statement have the columns the sandbox
writes (`sandbox/statements.py`); a real counterparty's file is mapped to the same
names. Extra columns are ignored; a missing column, a line of another day or an
unreadable amount is refused with the line's number.

A statement is untrusted input: it is read line by line from the file, never whole, and
refused (nothing stored) past LIMITS — 20 MB, 100,000 lines, 200 characters a field,
4,096 bytes a line — or when it is not UTF-8 CSV.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, BinaryIO

from voucher_exchange.errors import DomainError, InvalidInput, TooLarge
from voucher_exchange.money import Money
from voucher_exchange.reconcile.matching import Movement, MovementKind


@dataclass(frozen=True)
class Limits:
    """How much of a statement is read before it is refused."""

    bytes: int = 20 * 1024 * 1024
    lines: int = 100_000
    """Lines after the header."""
    field: int = 200
    """Characters in one field (a reference, an amount, a time)."""
    line_bytes: int = 4096


LIMITS = Limits()
_NEXT = "Nothing was stored. Ask the counterparty for one day's statement as plain CSV and run again."


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


@dataclass(frozen=True)
class ReadStatement:
    """A statement's movements, and the SHA-256 and size of the bytes they were read from."""

    movements: list[Movement]
    sha256: str
    size: int


class _Lines:
    """A binary file's lines as text, one at a time, refused past the limits (never read whole)."""

    def __init__(self, stream: BinaryIO, limits: Limits) -> None:
        self.stream = stream
        self.limits = limits
        self.digest = hashlib.sha256()
        self.size = 0
        self.number = 0

    def __iter__(self) -> Iterator[str]:
        limits = self.limits
        while raw := self.stream.readline(limits.line_bytes + 1):
            self.number += 1
            self.size += len(raw)
            if self.size > limits.bytes:
                raise TooLarge(
                    "statement_too_large",
                    f"The statement is larger than {limits.bytes // (1024 * 1024)} MB "
                    f"({limits.bytes:,} bytes). {_NEXT}",
                    "file",
                )
            if len(raw) > limits.line_bytes:
                raise TooLarge(
                    "statement_line_too_long",
                    f"Statement line {self.number} is longer than {limits.line_bytes:,} bytes. {_NEXT}",
                    "file",
                )
            if self.number > limits.lines + 1:  # the header is not counted
                raise TooLarge(
                    "statement_too_long",
                    f"The statement has more than {limits.lines:,} lines. {_NEXT}",
                    "file",
                )
            self.digest.update(raw)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InvalidInput(
                    "statement_not_utf8",
                    f"Statement line {self.number} is not UTF-8 text. Save the file as UTF-8 CSV. {_NEXT}",
                    "file",
                ) from exc
            yield text.removeprefix("\ufeff") if self.number == 1 else text


def _checked(row: dict[Any, Any], line: int, limits: Limits) -> dict[str, str]:
    extra = row.pop(None, [])  # DictReader keeps the cells past the header's under None
    if None in row.values():
        raise _refuse(line, "too few columns")
    if any(len(value) > limits.field for value in [*row.values(), *extra]):
        raise TooLarge(
            "statement_field_too_long",
            f"Statement line {line}: a field is longer than {limits.field} characters. {_NEXT}",
            "file",
        )
    return row


def read(source: Source, stream: BinaryIO, day: date, limits: Limits = LIMITS) -> ReadStatement:
    """The statement's movements of `day`, in file order, read line by line from `stream`.

    `InvalidInput` names the first bad line; `TooLarge` a statement past `limits`.
    """
    layout = LAYOUTS[source]
    lines = _Lines(stream, limits)
    reader = csv.DictReader(iter(lines))
    movements = []
    try:
        fieldnames = reader.fieldnames
        if fieldnames is not None and any(len(name) > limits.field for name in fieldnames):
            raise TooLarge(
                "statement_field_too_long",
                f"Statement line 1: a column name is longer than {limits.field} characters. {_NEXT}",
                "file",
            )
        needed = {layout.date, layout.reference, layout.time, "type", "amount", "currency"}
        missing = sorted(needed - set(fieldnames or ()))
        if missing:
            raise InvalidInput(
                "statement_invalid",
                f"This is not {_NAMES[source]}: no column {', '.join(missing)}.",
                "file",
            )
        for row in reader:
            line = reader.line_num
            movements.append(_movement(_checked(row, line, limits), layout, day, line))
    except csv.Error as exc:
        raise _refuse(lines.number, "it cannot be read as CSV (an unclosed quote or a NUL byte?)") from exc
    return ReadStatement(movements, lines.digest.hexdigest(), lines.size)


def parse(source: Source, text: str, day: date, limits: Limits = LIMITS) -> list[Movement]:
    """The movements of a statement held as text (see `read`)."""
    return read(source, io.BytesIO(text.encode("utf-8")), day, limits).movements
