"""Selling many vouchers at once: previewed, then sold once; each line is quoted and submitted on its own.

The preview stores the batch (codes encrypted) under a fresh id; selling takes that id once, by a
conditional update, so a reload or a second click never sells twice. The seller gets one summary
e-mail when every line has settled, not one per line.
"""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection

from voucher_exchange.accounts.models import User
from voucher_exchange.context import Context
from voucher_exchange.errors import Conflict, DomainError, InvalidInput, NotFound, TooLarge
from voucher_exchange.jobs import queue
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.payouts.models import DestinationStatus
from voucher_exchange.quotes import service as quotes
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import batch_repository as batch_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import TERMINAL, TradeStatus

MAX_LINES = 50
# An uploaded CSV is read up to this many bytes, never more; a larger file is refused whole.
MAX_FILE_BYTES = 200_000
# A code is at most 100 characters, a PIN 40; a longer cell is refused, never cut short.
MAX_CODE = 100
MAX_PIN = 40
MAX_LINE_CHARS = 1000  # room for a shop's extra columns, which are ignored
BATCH_SUMMARY = "batch.summary"
# A line has settled when nothing more happens without a person: the summary can be written.
SETTLED = {s.value for s in TERMINAL} | {TradeStatus.FAILED.value, TradeStatus.IN_REVIEW.value}
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


def _too_long(number: int) -> InvalidInput:
    return InvalidInput(
        "batch_line_too_long",
        f"Line {number} is too long: a code is at most {MAX_CODE} characters and a PIN {MAX_PIN}. "
        "Put one code (and its PIN) per line; nothing was stored.",
        "codes",
    )


def check_file_size(size: int) -> None:
    """Refuse an uploaded list larger than `MAX_FILE_BYTES` (read at most one byte more to know)."""
    if size > MAX_FILE_BYTES:
        raise TooLarge(
            "batch_file_too_large",
            f"The file is larger than {MAX_FILE_BYTES:,} bytes. Upload a CSV of at most {MAX_LINES} "
            "codes, one per line; nothing was stored.",
            "file",
        )


def parse_lines(text: str) -> list[BatchLine]:
    """`code` or `code,pin` per line (comma, semicolon or tab); a header line is skipped."""
    lines = []
    physical = text.replace(";", ",").replace("\t", ",").splitlines(keepends=True)
    for number, raw in enumerate(physical, 1):
        # Checked before the csv module sees it: its own field limit (131,072) is an exception.
        if len(raw) > MAX_LINE_CHARS:
            raise _too_long(number)
        try:
            row = next(csv.reader([raw]), [])
        except csv.Error as exc:  # an unclosed quote (a field may not span lines here)
            raise _too_long(number) from exc
        cells = [c.strip() for c in row if c.strip()]
        if not cells or cells[0].lower() in _HEADER_WORDS:
            continue
        if len(cells[0]) > MAX_CODE or (len(cells) > 1 and len(cells[1]) > MAX_PIN):
            raise _too_long(number)
        lines.append(BatchLine(number, cells[0], cells[1] if len(cells) > 1 else None))
        if len(lines) > MAX_LINES:
            break
    if not lines:
        raise InvalidInput("batch_empty", "Paste at least one code, one per line.", "codes")
    if len(lines) > MAX_LINES:
        raise InvalidInput("batch_too_large", f"Sell at most {MAX_LINES} vouchers at a time.", "codes")
    return lines


@dataclass(frozen=True)
class BatchPreview:
    """What selling a batch would give: counted before anything is sold."""

    id: str
    count: int
    face_total: Money
    fee_total: Money
    payout_total: Money
    rate_bps: int


def preview(
    ctx: Context,
    user: User,
    brand: str,
    face_value: Money,
    lines: list[BatchLine],
    method: AcquisitionMethod,
    acquired_on: date,
    payout_destination_id: str,
) -> BatchPreview:
    """Count, total face, fee and payout of a batch; stores it (codes encrypted) to be sold once."""
    batch_id = str(uuid.uuid4())
    now = ctx.clock.now()
    with ctx.uow() as uow:
        one = quotes.preview(uow.conn, ctx.settings, ctx.clock, brand, face_value)
        destination = payout_service.destination(uow.conn, payout_destination_id)
        if (
            destination is None
            or destination.user_id != user.id
            or destination.removed_at is not None
            or destination.status is not DestinationStatus.VERIFIED
        ):
            raise NotFound(
                "payout_destination_unknown",
                "Add a bank account first and use its id.",
                "payout_destination_id",
            )
        codes = json.dumps([[ln.number, ln.code, ln.pin] for ln in lines]).encode()
        stored = batch_repo.StoredBatch(
            batch_id, user.id, batch_repo.PREVIEWED, one.brand, face_value, method.value, acquired_on,
            payout_destination_id, len(lines), one.payout, now, None, None,
        )  # fmt: skip
        batch_repo.insert_batch(uow.conn, stored, ctx.vault.encrypt(codes, batch_id.encode()))
        uow.commit()
    n = len(lines)
    currency = face_value.currency
    return BatchPreview(
        batch_id,
        n,
        Money(one.face_value.amount * n, currency),
        Money(one.fee.amount * n, currency),
        Money(one.payout.amount * n, currency),
        one.rate_bps,
    )


def sell_previewed(
    ctx: Context, user: User, batch_id: str, client_ip: str | None = None, device_id: str | None = None
) -> None:
    """Sell a previewed batch, once: a second call (a reload, a double click) sells nothing."""
    now = ctx.clock.now()
    lasts = timedelta(seconds=ctx.settings.quote_ttl_seconds)
    with ctx.uow() as uow:
        previewed = batch_repo.get(uow.conn, batch_id)
        if previewed is not None and previewed.user_id == user.id and previewed.submitted_at is None:
            # The preview promised a total: if the rate moved since, nothing is sold.
            now_pays = quotes.preview(
                uow.conn, ctx.settings, ctx.clock, previewed.brand_slug, previewed.face_value
            )
            if now_pays.payout != previewed.payout_each:
                raise Conflict(
                    "batch_price_changed", "The rate changed since your preview. Check the new total."
                )
        sealed = batch_repo.take(uow.conn, batch_id, user.id, now - lasts, now)
        stored = batch_repo.get(uow.conn, batch_id)
        uow.commit()
    if sealed is None or stored is None:
        raise Conflict("batch_expired", "This batch was already sent or has expired.")
    lines = [BatchLine(n, c, p) for n, c, p in json.loads(ctx.vault.decrypt(sealed, batch_id.encode()))]
    sell_many(
        ctx, user, stored.brand_slug, stored.face_value, lines, AcquisitionMethod(stored.method),
        stored.acquired_on, stored.payout_destination_id, client_ip, device_id, batch_id=batch_id,
    )  # fmt: skip
    with ctx.uow() as uow:
        summarize_when_settled(uow.conn, batch_id, ctx.clock.now())
        uow.commit()


def lines_of(
    ctx: Context, user: User, batch_id: str
) -> tuple[batch_repo.StoredBatch, list[batch_repo.StoredLine]]:
    """A seller's own batch and its lines with their trades' statuses."""
    with ctx.uow(readonly=True) as uow:
        stored = batch_repo.get(uow.conn, batch_id)
        if stored is None or stored.user_id != user.id:
            raise NotFound("batch_unknown", "There is no such batch.")
        return stored, batch_repo.lines(uow.conn, batch_id)


def summarize_when_settled(conn: Connection, batch_id: str, now: datetime) -> bool:
    """Once every line has settled, claim the batch's one summary e-mail and enqueue it (same transaction)."""
    stored = batch_repo.get(conn, batch_id)
    lines = batch_repo.lines(conn, batch_id)
    # Every line recorded (the seller's request may still be selling the last ones) and settled.
    if stored is None or len(lines) < stored.line_count:
        return False
    if any(ln.status is not None and ln.status not in SETTLED for ln in lines):
        return False
    if not batch_repo.mark_summarized(conn, batch_id, now):
        return False
    queue.enqueue(conn, BATCH_SUMMARY, batch_id, now)
    return True


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
    batch_id: str | None = None,
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
                if batch_id is not None:
                    batch_repo.add_line(uow.conn, batch_id, line.number, masked, trade_id)
                uow.commit()
            results.append(LineResult(line.number, masked, trade_id, None))
        except DomainError as exc:
            results.append(LineResult(line.number, masked, None, exc))
            if batch_id is not None:
                with ctx.uow() as uow:
                    batch_repo.add_line(
                        uow.conn, batch_id, line.number, masked, None, (exc.code, exc.message)
                    )
                    uow.commit()
    ctx.wake_workers()
    return results
