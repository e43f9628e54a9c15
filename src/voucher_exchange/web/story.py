"""A trade's history told to its seller in plain words: review, approval, failure and recovery steps."""

from __future__ import annotations

from typing import Any

from voucher_exchange.i18n import N_

# Statuses off the happy path: when a trade went through one, the page tells what happened.
OFF_PATH = {"in_review", "failed", "rejected", "cancelled", "reversed"}

_ARRIVED = {
    "received": N_("We received your voucher."),
    "in_review": N_("A person started checking this trade."),
    "rejected": N_("We refused this voucher. No payout and no fee."),
    "cancelled": N_("You withdrew this trade. Nothing was taken from your voucher."),
    "credited": N_("The voucher's value was secured and credited to you."),
    "paying_out": N_("We are sending the money to your bank."),
    "paid": N_("Your bank received the money."),
    "reversed": N_("The issuer took the voucher's value back."),
}
_AFTER = {
    ("in_review", "rejected"): N_("A reviewer refused this trade. No payout and no fee."),
    ("in_review", "cancelled"): N_("You withdrew this trade during the review. Nothing was taken."),
    ("paying_out", "failed"): N_("Your bank did not accept the transfer. The money is kept safe for you."),
    ("failed", "paying_out"): N_("We sent the money again, to the account you chose."),
    # Paid straight from credited: netting took it all, no bank transfer (trades.lifecycle).
    ("credited", "paid"): N_(
        "Your payout settled what you owed after a reversal; nothing was sent to your bank."
    ),
}
# Steps that do not change the status, told by their note (trades.lifecycle writes these notes).
_NOTED = {
    "payout queued: the banks' nightly window": N_(
        "The banks do not take transfers at this hour. Your payout goes as soon as they reopen."
    ),
    "payout later than promised: compensation added": N_(
        "We missed our payout-time promise, so we added the promised compensation to this payout."
    ),
    "settled what another account of the same person owed after a reversal": N_(
        "This payout settled what another account of yours owed after a reversal."
    ),
    "bank executed the payout late: compensation sent separately": N_(
        "The bank executed your payout later than we promised, so we are sending you the"
        " compensation in a separate transfer to the same account."
    ),
}
_APPROVED = N_("A reviewer approved this trade.")
_FAILED = N_("Something failed outside our control. Our team will finish or undo this trade.")
_RESUMED = N_("Our team resumed this trade.")
_APPEALED = N_("You appealed this decision.")
_ANSWERED = N_("A reviewer answered your appeal.")


def story(events: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Each step that matters to the seller, in order: {at, step, text} (text still in English)."""
    told: list[dict[str, str]] = []
    before: str | None = None
    for event in events:
        now = str(event["status"])
        noted = _NOTED.get(str(event.get("note") or "")) if now == before else None
        if noted is not None:
            told.append({"at": str(event["at"]), "step": now, "text": noted})
            continue
        text = _AFTER.get((before or "", now))
        if before == now:  # the status stayed: an appeal, or a reviewer's answer to it
            # (A reviewer's note is not shown to the seller; the seller's own is.)
            text = _APPEALED if event.get("note") == "appealed by the seller" else _ANSWERED
            told.append({"at": str(event["at"]), "step": now, "text": text})
            continue
        if text is None and before == "in_review" and now not in OFF_PATH:
            text = _APPROVED
        elif text is None and before == "failed" and now not in OFF_PATH:
            text = _RESUMED
        elif text is None and now == "failed":
            text = _FAILED
        elif text is None:
            text = _ARRIVED.get(now)
        if text is not None:
            told.append({"at": str(event["at"]), "step": now, "text": text})
        before = now
    return told


def went_off_path(events: list[dict[str, Any]]) -> bool:
    """True when the trade was held, refused, withdrawn, failed or reversed at some point, or its
    payout queued for the banks' window or came late (with compensation)."""
    return any(e["status"] in OFF_PATH or e.get("note") in _NOTED for e in events)
