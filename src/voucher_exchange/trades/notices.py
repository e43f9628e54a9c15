"""The seller's e-mails about their trades: the jobs that gather the facts and hand them over.

Jobs are enqueued in the same transaction as the status change (outbox), so a notice is
never lost; a crash between sending and finishing the job may send it twice, which is
the safe side for a notice. Trades own the facts, so trades build the message
(`notifications.service.TradeNotice`, `BatchSummary`); notifications word and send it.

The worker's pipeline knows every fact of its own notices when it moves a trade on (it read
the seller and the brand, it made the decision, it saw what the bank executed): it hands them
over with the job (`facts`), and the job sends them without reading anything. Notices enqueued
elsewhere (a reviewer, a reversal) and those of a batch's lines carry none: the job reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voucher_exchange.accounts import repository as accounts
from voucher_exchange.catalog import service as catalog
from voucher_exchange.context import Context
from voucher_exchange.money import Money
from voucher_exchange.notifications import service as notifications
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.security.vault import mask
from voucher_exchange.trades import batch as batch_service
from voucher_exchange.trades import batch_repository as batch_repo
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import seller_view
from voucher_exchange.trades.models import Trade, TradeStatus
from voucher_exchange.trades.seller_view import view


@dataclass(frozen=True)
class Recipient:
    """Who a trade's notice goes to and how it names the brand, as the pipeline read them, and the
    reasons of the newest decision the seller sees (`seller_view.view`'s), in their language."""

    email: str
    language: str
    brand_name: str
    reasons: tuple[dict[str, str], ...] = ()


def facts(
    trade: Trade, status: TradeStatus, to: Recipient, sent_to_bank: int | None = None
) -> dict[str, Any]:
    """The payload of a notice job: all `notify_trade` needs to send it without reading.

    `trade` as the status change left it; `sent_to_bank` (for `paid`): what the bank executed,
    in minor units (0 when netting settled a debt with all of it). The code appears masked only.
    """
    shown: dict[str, Any] = {
        "status": status.value,
        "voucher": {"masked": mask(trade.voucher_last4)},
        "face_value": trade.face_value.as_json(),
        "payout": trade.payout.as_json(),
        "decision": {"reasons": list(to.reasons)},
    }
    if sent_to_bank is not None:
        shown["sent_to_bank"] = {"amount": sent_to_bank, "currency": trade.currency}
    return {"to": to.email, "language": to.language, "brand_name": to.brand_name, "trade": shown}


def notify_trade(ctx: Context, ref: str, payload: dict[str, Any] | None = None) -> None:
    """The job: e-mail the seller about the status named in `ref` ("<trade id>:<status>").

    With `payload` (`facts`, handed over by the pipeline) nothing is read.
    """
    if ctx.mailer is None:
        return
    trade_id, _, status = ref.partition(":")
    if payload is not None:
        link = _link(ctx, trade_id)
        notice = notifications.TradeNotice(
            payload["to"], payload["language"], payload["trade"], payload["brand_name"], link
        )
        notifications.send_trade_notice(ctx.mailer, notice)
        return
    if notifications.knows(status) and not _own_notice(ctx, trade_id, status):
        return
    with ctx.uow(readonly=True) as uow:
        row = trade_repo.get(uow.conn, trade_id)
        if row is None:
            return
        seller = accounts.by_id(uow.conn, row.user_id)
        assert seller is not None
        lang = seller.language
        data = view(uow.conn, row, lang).data
        brand = catalog.require_brand(uow.conn, row.brand_slug)
        if status == "paid":
            # What reached the bank: a debt after a reversal may have taken part or all of it.
            sent = payout_service.sent_to_bank(uow.conn, trade_id)
            data["sent_to_bank"] = {"amount": sent, "currency": row.currency}
    data["status"] = status
    if not notifications.knows(status):
        return
    link = _link(ctx, trade_id)
    brand_name = brand.name_ko if lang == "ko" else brand.name_en
    notice = notifications.TradeNotice(seller.email, lang, data, brand_name, link)
    notifications.send_trade_notice(ctx.mailer, notice)


def _link(ctx: Context, trade_id: str) -> str:
    return f"{ctx.settings.public_url.rstrip('/')}/trades/{trade_id}"


def _own_notice(ctx: Context, trade_id: str, status: str) -> bool:
    """False for a line of a batch whose summary tells this news: the summary is the one e-mail.

    When this line's news completes the batch, the summary is claimed and enqueued here, in one
    transaction. News after the summary (a held line decided later) gets its own e-mail. A trade
    is a line of a batch from its creation or never, so a trade of none is told apart by a read.
    """
    with ctx.uow(readonly=True) as uow:
        if not batch_repo.in_batch(uow.conn, trade_id):
            return True
    with ctx.uow() as uow:
        batch = batch_repo.batch_of(uow.conn, trade_id)
        if batch is None:
            return True
        if batch.summarized_at is not None:
            # Covered by the summary when it happened before the summary was claimed.
            at = [e.at for e in trade_repo.events(uow.conn, trade_id) if e.to_status.value == status]
            return not at or at[-1] > batch.summarized_at
        batch_service.summarize_when_settled(uow.conn, batch.id, ctx.clock.now())
        uow.commit()
    return False


def notify_batch(ctx: Context, batch_id: str) -> None:
    """The job: one e-mail for a whole batch once every line has settled."""
    if ctx.mailer is None:
        return
    with ctx.uow(readonly=True) as uow:
        batch = batch_repo.get(uow.conn, batch_id)
        if batch is None:
            return
        seller = accounts.by_id(uow.conn, batch.user_id)
        assert seller is not None
        lines = batch_repo.lines(uow.conn, batch_id)
        # What reached the bank, not what was quoted: a payout may have settled a debt first
        # (netting sends nothing) or carried a promise's compensation.
        paid = sum(
            payout_service.sent_to_bank(uow.conn, ln.trade_id)
            for ln in lines
            if ln.status == "paid" and ln.trade_id
        )
        review_minutes = seller_view.expected_review_minutes(uow.conn)
    counts: dict[str, int] = {}
    for ln in lines:
        kind = ln.status if ln.status in ("paid", "in_review", "failed") else "refused"
        counts[kind] = counts.get(kind, 0) + 1
    link = f"{ctx.settings.public_url.rstrip('/')}/sell/batch/{batch_id}"
    summary = notifications.BatchSummary(
        seller.email, seller.language, counts, Money(paid, batch.face_value.currency), link, review_minutes
    )
    notifications.send_batch_summary(ctx.mailer, summary)
