"""Daily statements as the outside world sends them: an issuer's settlement file, a bank statement.

Both are CSV with a header row and one line per movement of that UTC day, oldest
first, carrying the counterparty's (our) reference, the amount in minor units, the
currency and the time in UTC. Codes never appear: the issuer names a voucher by its
own id and the last four characters at most, the bank masks account numbers.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from voucher_exchange.sandbox.store import SandboxStore

ISSUER_HEADER = (
    "settlement_date",
    "line",
    "type",
    "merchant_reference",
    "voucher_id",
    "voucher_last4",
    "brand",
    "amount",
    "currency",
    "redeemed_at_utc",
)
RAIL_HEADER = (
    "statement_date",
    "line",
    "type",
    "end_to_end_id",
    "bank_reference",
    "bank_code",
    "account",
    "amount",
    "currency",
    "booked_at_utc",
)
# What a rail's decided transfer looks like on the statement.
RAIL_TYPES = {"executed": "DEBIT", "rejected": "RETURN"}


def _on(day: date, stamp: object) -> datetime | None:
    moment = datetime.fromisoformat(str(stamp))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return moment if start <= moment < start + timedelta(days=1) else None


def _masked(account_number: str) -> str:
    # As the rail masks numbers everywhere else (sandbox/rail.py imports this module, not the reverse).
    return "*" * max(len(account_number) - 4, 0) + account_number[-4:]


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _csv(header: tuple[str, ...], lines: list[tuple[object, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(lines)
    return out.getvalue()


def issuer_statement(store: SandboxStore, day: date) -> str:
    """The issuer's settlement file: every redemption of `day` (UTC), each short by the issuer's
    `statement_short_bps` when set (an issuer that settles less than it owes)."""
    short = store.behavior().statement_short_bps
    found = []
    for row in store.statement_rows("issuer"):
        moment = _on(day, row["redeemed_at"])
        if moment is not None:
            found.append((moment, row))
    found.sort(key=lambda pair: (pair[0], str(pair[1]["reference"])))
    lines: list[tuple[object, ...]] = [
        (
            day.isoformat(),
            n,
            "REDEMPTION",
            row["reference"],
            f"V{int(str(row['voucher_id'])):08d}",
            str(row["code"])[-4:],
            row["brand"],
            int(str(row["amount"])) * (10_000 - short) // 10_000,
            row["currency"],
            _utc(moment),
        )
        for n, (moment, row) in enumerate(found, start=1)
    ]
    return _csv(ISSUER_HEADER, lines)


def rail_statement(store: SandboxStore, day: date) -> str:
    """The bank statement of the payout account: transfers executed (debits) and returned on `day`."""
    found = []
    for row in store.statement_rows("rail"):
        moment = _on(day, row["executed_at"] or row["created_at"])
        if moment is not None and row["status"] in RAIL_TYPES:
            found.append((moment, row))
    found.sort(key=lambda pair: (pair[0], int(str(pair[1]["seq"]))))
    lines: list[tuple[object, ...]] = [
        (
            day.isoformat(),
            n,
            RAIL_TYPES[str(row["status"])],
            row["idempotency_key"],
            row["rail_reference"] or "",
            row["bank_code"],
            _masked(str(row["account_number"])),
            row["amount"],
            row["currency"],
            _utc(moment),
        )
        for n, (moment, row) in enumerate(found, start=1)
    ]
    return _csv(RAIL_HEADER, lines)
