"""Tell a seller, in their language, that a trade was paid, refused, held or reversed.

Notifications are handed what to say: a typed message (`TradeNotice`, `BatchSummary`) built by
the capability that owns the facts (`trades/notices.py`); this module words it and sends it,
and reads no other package's tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voucher_exchange import i18n, korean
from voucher_exchange.i18n import N_
from voucher_exchange.money import Money
from voucher_exchange.ports.mailer import Mailer

_SUBJECTS = {
    "paid": N_("Paid: %(payout)s is on its way to your bank"),
    "rejected": N_("We could not buy your %(brand)s"),
    "in_review": N_("Your %(brand)s is being checked"),
    "reversed": N_("A payment for your %(brand)s was reversed"),
    "failed": N_("Your bank refused %(payout)s: choose another account"),
    "paid_netted": N_("Settled: your %(brand)s paid what you owed after a reversal"),
    "paid_part": N_("Paid: %(sent)s is on its way to your bank"),
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
    "paid_netted": N_(
        "The payout for your %(brand)s (%(masked)s, face value %(face)s), %(payout)s, settled what you "
        "owed after a reversal. Nothing was sent to your bank account."
    ),
    "paid_part": N_(
        "We sent %(sent)s for your %(brand)s (%(masked)s, face value %(face)s) to your bank account; "
        "the rest of %(payout)s settled what you owed after a reversal."
    ),
}


def _wording(trade: dict[str, Any]) -> str:
    """Which text tells this status: a paid trade says what reached the bank (`sent_to_bank`,
    when given) — nothing, or part, when a debt after a reversal took it."""
    status = str(trade["status"])
    sent = trade.get("sent_to_bank")
    if status != "paid" or sent is None:
        return status
    if sent["amount"] == 0:
        return "paid_netted"
    return "paid_part" if sent["amount"] < trade["payout"]["amount"] else "paid"


def compose(trade: dict[str, Any], brand_name: str, lang: str, link: str) -> tuple[str, str]:
    """(subject, body) for a trade's status, in `lang`; the code appears masked only."""
    # Each value is marked so a Korean particle after it agrees with it (korean.resolve).
    values = {
        "brand": brand_name + korean.MARK,
        "masked": trade["voucher"]["masked"] + korean.MARK,
        "payout": i18n.format_amount_text(Money(**trade["payout"]), lang) + korean.MARK,
        "face": i18n.format_amount_text(Money(**trade["face_value"]), lang) + korean.MARK,
    }
    status = _wording(trade)
    if "sent_to_bank" in trade:
        values["sent"] = i18n.format_amount_text(Money(**trade["sent_to_bank"]), lang) + korean.MARK
    subject = korean.resolve(i18n.gettext(lang, _SUBJECTS[status]) % values)
    lines = [korean.resolve(i18n.gettext(lang, _BODIES[status]) % values), ""]
    for reason in (trade.get("decision") or {}).get("reasons", []):
        lines.append("• " + reason["message"])
    lines += ["", i18n.gettext(lang, "Follow your trade: %(link)s") % {"link": link}, "", "voucher-exchange"]
    return subject, "\n".join(lines)


# The subject names each outcome that happened, most final first: never "0 paid" for a batch
# still being checked (to someone who just handed over their PINs, "0 sent" reads as cheated).
_BATCH_SUBJECT = N_("Your %(count)s vouchers: %(outcomes)s")
_BATCH_SUBJECT_PARTS = {
    "paid": N_("%(n)s paid"),
    "in_review": N_("%(n)s being checked"),
    "failed": N_("%(n)s need your choice"),
    "refused": N_("%(n)s not bought"),
}
_BATCH_LINES = {
    "paid": N_("Paid: %(n)s. We sent %(amount)s to your bank account."),
    "in_review": N_(
        "Being checked by a person: %(n)s. Nothing has been taken from these vouchers yet; "
        "a check usually takes about %(minutes)s minutes and we e-mail you each result."
    ),
    "failed": N_("Your bank refused the transfer: %(n)s. The money is kept for you: choose another account."),
    "refused": N_("Not bought: %(n)s. No payout and no fee."),
}


# Paid lines whose payouts all settled a debt after a reversal: nothing reached the bank.
_BATCH_PAID_BY_NETTING = N_(
    "Paid: %(n)s. It settled what you owed after a reversal, so nothing was sent to your bank account."
)


def _line(kind: str, paid: Money) -> str:
    return _BATCH_PAID_BY_NETTING if kind == "paid" and not paid.amount else _BATCH_LINES[kind]


def compose_batch(
    counts: dict[str, int], paid: Money, lang: str, link: str, review_minutes: int
) -> tuple[str, str]:
    """(subject, body) of a batch's one summary e-mail: what happened to each line, state by state.

    A state with no line is not mentioned: the e-mail never says that nothing was paid.
    """
    total = sum(counts.values())
    parts = [k for k in _BATCH_SUBJECT_PARTS if counts.get(k)]
    outcomes = ", ".join(i18n.gettext(lang, _BATCH_SUBJECT_PARTS[k]) % {"n": counts[k]} for k in parts)
    subject = i18n.gettext(lang, _BATCH_SUBJECT) % {"count": total, "outcomes": outcomes}
    values = {
        "amount": i18n.format_amount_text(paid, lang) + korean.MARK,
        "minutes": review_minutes,
    }
    lines = [
        korean.resolve(i18n.gettext(lang, _line(k, paid)) % {"n": counts[k], **values})
        for k in _BATCH_LINES
        if counts.get(k)
    ]
    lines += ["", i18n.gettext(lang, "See every line: %(link)s") % {"link": link}, "", "voucher-exchange"]
    return subject, "\n".join(lines)


@dataclass(frozen=True)
class TradeNotice:
    """What to tell a seller about one trade, handed over by trades (which own the facts).

    `trade` has the shape of `GET /trades/{id}` with the status the notice is about.
    """

    to: str
    language: str
    trade: dict[str, Any]
    brand_name: str
    link: str


@dataclass(frozen=True)
class BatchSummary:
    """A batch's one summary e-mail: how many lines ended how, and the total paid."""

    to: str
    language: str
    counts: dict[str, int]
    paid: Money
    link: str
    review_minutes: int


def knows(status: str) -> bool:
    """Whether sellers are told about a trade reaching `status`."""
    return status in _SUBJECTS


def send_trade_notice(mailer: Mailer, notice: TradeNotice) -> None:
    """Compose the notice in the seller's language and send it."""
    subject, body = compose(notice.trade, notice.brand_name, notice.language, notice.link)
    mailer.send(notice.to, subject, body, notice.language)


def send_batch_summary(mailer: Mailer, summary: BatchSummary) -> None:
    """Compose the batch's summary in the seller's language and send it."""
    subject, body = compose_batch(
        summary.counts, summary.paid, summary.language, summary.link, summary.review_minutes
    )
    mailer.send(summary.to, subject, body, summary.language)
