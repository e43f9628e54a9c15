"""Selling many vouchers at once: each line is quoted and submitted on its own."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from voucher_exchange.accounts.models import User
from voucher_exchange.context import Context
from voucher_exchange.errors import DomainError, InvalidInput
from voucher_exchange.money import Money
from voucher_exchange.quotes import service as quotes
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import service as trade_service

MAX_LINES = 50
_HEADER_WORDS = {"code", "pin", "코드", "핀"}


@dataclass(frozen=True)
class BatchLine:
    """One voucher from a pasted list or CSV file (1-based line number)."""

    number: int
    code: str
    pin: str | None


@dataclass(frozen=True)
class LineResult:
    """What became of one line: a trade, or the reason it was not accepted."""

    number: int
    masked: str
    trade_id: str | None
    error: DomainError | None


def parse_lines(text: str) -> list[BatchLine]:
    """`code` or `code,pin` per line (comma, semicolon or tab); a header line is skipped."""
    lines = []
    for number, row in enumerate(csv.reader(io.StringIO(text.replace(";", ",").replace("\t", ","))), 1):
        cells = [c.strip() for c in row if c.strip()]
        if not cells or cells[0].lower() in _HEADER_WORDS:
            continue
        lines.append(BatchLine(number, cells[0][:100], cells[1][:40] if len(cells) > 1 else None))
    if not lines:
        raise InvalidInput("batch_empty", "Paste at least one code, one per line.", "codes")
    if len(lines) > MAX_LINES:
        raise InvalidInput("batch_too_large", f"Sell at most {MAX_LINES} vouchers at a time.", "codes")
    return lines


def sell_many(
    ctx: Context,
    user: User,
    brand: str,
    face_value: Money,
    lines: list[BatchLine],
    method: AcquisitionMethod,
    acquired_on: date,
    payout_destination_id: str,
    client_ip: str | None = None,
    device_id: str | None = None,
) -> list[LineResult]:
    """Quote and submit each line in its own transaction, so one bad line spoils nothing else."""
    results = []
    for line in lines:
        masked = "••••" + line.code.replace("-", "").replace(" ", "")[-4:]
        try:
            with ctx.uow() as uow:
                quote = quotes.create_quote(uow.conn, ctx.settings, ctx.clock, user, brand, face_value)
                trade_id = trade_service.submit(
                    uow.conn,
                    ctx.clock,
                    ctx.vault,
                    user,
                    trade_service.SubmitTrade(
                        quote.id,
                        line.code,
                        line.pin,
                        method,
                        acquired_on,
                        payout_destination_id,
                        client_ip,
                        device_id,
                    ),
                )
                uow.commit()
            results.append(LineResult(line.number, masked, trade_id, None))
        except DomainError as exc:
            results.append(LineResult(line.number, masked, None, exc))
    ctx.wake_workers()
    return results
