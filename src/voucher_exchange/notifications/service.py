"""Tell a seller, in their language, that a trade was paid, refused, held or reversed.

Jobs are enqueued in the same transaction as the status change (outbox), so a notice is
never lost; a crash between sending and finishing the job may send it twice, which is
the safe side for a notice.
"""

from __future__ import annotations

from typing import Any

from voucher_exchange import i18n, korean
from voucher_exchange.accounts import repository as accounts
from voucher_exchange.catalog import service as catalog
from voucher_exchange.context import Context
from voucher_exchange.i18n import N_
from voucher_exchange.money import Money
from voucher_exchange.trades import batch as batch_service
from voucher_exchange.trades import batch_repository as batch_repo
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades.batch import BATCH_SUMMARY
from voucher_exchange.trades.models import NOTIFY_TRADE
from voucher_exchange.trades.service import view

__all__ = ["BATCH_SUMMARY", "NOTIFY_TRADE", "compose", "compose_batch", "notify_batch", "notify_trade"]

_SUBJECTS = {
    "paid": N_("Paid: %(payout)s is on its way to your bank"),
    "rejected": N_("We could not buy your %(brand)s"),
    "in_review": N_("Your %(brand)s is being checked"),
    "reversed": N_("A payment for your %(brand)s was reversed"),
    "failed": N_("Your bank refused %(payout)s: choose another account"),
}
_BODIES = {
    "paid": N_(
        "We sent %(payout)s for your %(brand)s (%(masked)s, face value %(face)s) to your bank account."
    ),
    "rejected": N_("We did not buy your %(brand)s (%(masked)s). Nothing was paid and no fee was charged."),
    "in_review": N_(
        "A person is checking your %(brand)s (%(masked)s) before we buy it. "
        "Nothing has been taken from the voucher yet; you don't need to do anything."
    ),
    "reversed": N_("The payment for your %(brand)s (%(masked)s) was reversed."),
    "failed": N_(
        "We bought your %(brand)s (%(masked)s), but your bank refused the transfer of %(payout)s. "
        "The money is kept for you: open the trade and choose another account in your own name."
    ),
}


def compose(trade: dict[str, Any], brand_name: str, lang: str, link: str) -> tuple[str, str]:
    """(subject, body) for a trade's status, in `lang`; the code appears masked only."""
    # Each value is marked so a Korean particle after it agrees with it (korean.resolve).
    values = {
        "brand": brand_name + korean.MARK,
        "masked": trade["voucher"]["masked"] + korean.MARK,
        "payout": i18n.format_amount_text(Money(**trade["payout"]), lang) + korean.MARK,
        "face": i18n.format_amount_text(Money(**trade["face_value"]), lang) + korean.MARK,
    }
    status = trade["status"]
    subject = korean.resolve(i18n.gettext(lang, _SUBJECTS[status]) % values)
    lines = [korean.resolve(i18n.gettext(lang, _BODIES[status]) % values), ""]
    for reason in (trade.get("decision") or {}).get("reasons", []):
        lines.append("• " + reason["message"])
    lines += ["", i18n.gettext(lang, "Follow your trade: %(link)s") % {"link": link}, "", "voucher-exchange"]
    return subject, "\n".join(lines)


def notify_trade(ctx: Context, ref: str) -> None:
    """The job: e-mail the seller about the status named in `ref` ("<trade id>:<status>")."""
    if ctx.mailer is None:
        return
    trade_id, _, status = ref.partition(":")
    if status in _SUBJECTS and not _own_notice(ctx, trade_id, status):
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
    data["status"] = status
    if status not in _SUBJECTS:
        return
    link = f"{ctx.settings.public_url.rstrip('/')}/trades/{trade_id}"
    subject, body = compose(data, brand.name_ko if lang == "ko" else brand.name_en, lang, link)
    ctx.mailer.send(seller.email, subject, body, lang)


def _own_notice(ctx: Context, trade_id: str, status: str) -> bool:
    """False for a line of a batch whose summary tells this news: the summary is the one e-mail.

    When this line's news completes the batch, the summary is claimed and enqueued here, in one
    transaction. News after the summary (a held line decided later) gets its own e-mail.
    """
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


_BATCH_SUBJECT = N_("Your %(count)s vouchers: %(paid)s paid")
_BATCH_LINES = {
    "paid": N_("Paid: %(n)s"),
    "in_review": N_("Being checked by a person: %(n)s"),
    "refused": N_("Not bought: %(n)s"),
    "failed": N_("Waiting for you or our team: %(n)s"),
}


def compose_batch(counts: dict[str, int], paid: Money, lang: str, link: str) -> tuple[str, str]:
    """(subject, body) of a batch's one summary e-mail: how many lines ended how, and the total paid."""
    total = sum(counts.values())
    subject = i18n.gettext(lang, _BATCH_SUBJECT) % {"count": total, "paid": counts.get("paid", 0)}
    lines = [
        korean.resolve(
            i18n.gettext(lang, "We sent %(amount)s in total to your bank account.")
            % {"amount": i18n.format_amount_text(paid, lang) + korean.MARK}
        ),
        "",
    ]
    lines += [i18n.gettext(lang, _BATCH_LINES[k]) % {"n": counts[k]} for k in _BATCH_LINES if counts.get(k)]
    lines += ["", i18n.gettext(lang, "See every line: %(link)s") % {"link": link}, "", "voucher-exchange"]
    return subject, "\n".join(lines)


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
        paid = 0
        for ln in lines:
            trade = trade_repo.get(uow.conn, ln.trade_id) if ln.status == "paid" and ln.trade_id else None
            paid += trade.payout.amount if trade else 0
    counts: dict[str, int] = {}
    for ln in lines:
        kind = ln.status if ln.status in ("paid", "in_review", "failed") else "refused"
        counts[kind] = counts.get(kind, 0) + 1
    link = f"{ctx.settings.public_url.rstrip('/')}/sell/batch/{batch_id}"
    subject, body = compose_batch(counts, Money(paid, batch.face_value.currency), seller.language, link)
    ctx.mailer.send(seller.email, subject, body, seller.language)
