"""What staff pages show for stable codes, amounts, durations and moments, in the reader's language.

Codes (reason, close reason, status, audit action …) stay stable in the database; these maps
are only the words shown for them. `_()` / `i18n.gettext` translates each at render time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.units import format_unit

from voucher_exchange import i18n
from voucher_exchange.i18n import N_
from voucher_exchange.money import Money
from voucher_exchange.web import labels

# Short labels for the risk engine's and the pipeline's reason codes (risk/reasons.py).
REASON = {
    "carrier_billing_prohibited": N_("Carrier billing"),
    "duplicate_voucher": N_("Code sold before"),
    "voucher_invalid": N_("Code not recognised by the issuer"),
    "voucher_already_redeemed": N_("Already used"),
    "voucher_expired": N_("Expired voucher"),
    "voucher_blocked": N_("Blocked by the issuer"),
    "balance_mismatch": N_("Balance differs from the quote"),
    "brand_suspended": N_("Brand suspended"),
    "brand_paused": N_("Brand paused"),
    "quote_expired": N_("Quote expired"),
    "kyc_required": N_("Identity not verified"),
    "limit_exceeded": N_("Over the limit"),
    "velocity": N_("Many sales in a short time"),
    "sanctions_match": N_("Sanctions list match"),
    "payout_destination_mismatch": N_("Account not in the seller's name"),
    "underage": N_("Under age"),
    "issuer_unavailable": N_("Issuer unreachable"),
    "payout_account_shared": N_("Bank account shared by sellers"),
    "payout_account_rotation": N_("Many bank accounts recently"),
    "account_takeover": N_("New bank account, then quick sales"),
    "fresh_voucher_pattern": N_("Fresh vouchers sold again and again"),
    "scam_favoured_new_account": N_("High-value gift card from a new account"),
    "cumulative_daily": N_("Large total today"),
    "prior_false_declaration": N_("Earlier false declaration"),
    "risk_score": N_("Several warning signs"),
    "reviewer_rejected": N_("Rejected by a reviewer"),
    "payout_refused": N_("Bank refused the payout"),
    "voucher_reversed": N_("Reversed by the issuer"),
    "fraud_report": N_("Reported stolen or scam"),
}

CLOSE_REASON = {
    "legitimate": N_("Legitimate"),
    "insufficient_evidence": N_("Not enough evidence against it"),
    "not_listed_person": N_("Not the listed person"),
    "suspected_fraud": N_("Suspected fraud"),
    "stolen_or_scam": N_("Stolen or scam voucher"),
    "carrier_billing": N_("Carrier billing"),
    "mule_account": N_("Mule account"),
    "policy": N_("Against our policy"),
}

OUTCOME = {
    "approve": N_("Approve"),
    "review": N_("Review"),
    "reject": N_("Reject"),
    "first_approval": N_("First approval"),
    "score": N_("Adds to the score"),
    "refused": N_("Refused"),
    "reversed": N_("Reversed"),
    "appealed": N_("Appealed"),
    "upheld": N_("Reversal upheld"),
    "written_off": N_("Written off"),
}

# Trade statuses as staff call them (the seller's words, labels.STATUS, speak to the seller).
STATUS = {
    "received": N_("Received"),
    "screening": N_("Screening"),
    "verifying": N_("Checking with the issuer"),
    "redeeming": N_("Securing the value"),
    "credited": N_("Credited"),
    "paying_out": N_("Paying out"),
    "paid": N_("Paid"),
    "in_review": N_("In review"),
    "rejected": N_("Refused"),
    "cancelled": N_("Cancelled"),
    "failed": N_("Failed"),
    "reversed": N_("Reversed"),
}

PAYOUT_STATUS = {
    "created": N_("Created"),
    "sending": N_("Sending"),
    "executed": N_("Executed"),
    "rejected": N_("Refused by the bank"),
    "verified": N_("Verified"),
    "waiting for treasury funding": N_("Waiting for treasury funding"),
}

IDENTITY_STATUS = {
    "none": N_("Not attempted"),
    "verified": N_("Verified"),
    "underage": N_("Under age"),
    "failed": N_("Could not be confirmed"),
}

SANCTIONS_STRENGTH = {"none": N_("No match"), "weak": N_("Weak match"), "strong": N_("Strong match")}

SANCTIONS_REASON = {
    "no_match": N_("No match"),
    "name_and_dob": N_("Same name and date of birth"),
    "name_only": N_("Same name; nothing else to compare"),
    "similar_name_and_dob": N_("Similar name, same date of birth"),
    "similar_name_only": N_("Similar name; nothing else to compare"),
    "dob_near": N_("Date of birth close to the listed one"),
    "dob_differs": N_("Different date of birth"),
    "nationality_differs": N_("Different nationality"),
}

FLAG = {"false_acquisition_declaration": N_("False acquisition declaration")}

ISSUER_FIELD = {
    "declared_method": N_("Declared acquisition"),
    "issued_at": N_("Issued"),
    "issuer_balance": N_("Balance"),
    "issuer_channel": N_("Purchase channel (issuer)"),
    "issuer_state": N_("Voucher state"),
}
VOUCHER_STATE = {
    "active": N_("Usable"),
    "redeemed": N_("Already used"),
    "expired": N_("Expired voucher"),
    "blocked": N_("Blocked by the issuer"),
}
CHANNEL = {**labels.METHOD, "unknown": N_("Not reported")}

ACCOUNT_KIND = {
    "treasury": N_("Treasury (payout bank account)"),
    "capital": N_("Capital"),
    "inventory": N_("Voucher inventory"),
    "seller_payable": N_("Owed to the seller"),
    "margin": N_("Margin"),
    "reversals": N_("Reversals"),
    "seller_receivable": N_("Owed by the seller"),
    "losses": N_("Losses"),
}
PHASE = {"single": N_("Posted at once"), "pending": N_("Pending"), "post": N_("Posted"), "void": N_("Voided")}

# Who decided, when it was not a person (people are shown by their e-mail).
ACTOR = {
    "risk-engine": N_("Automatic screening"),
    "worker": N_("System"),
    "bank": N_("Bank"),
    "issuer": N_("Issuer"),
    "fraud_report": N_("Fraud report"),
    "cli": N_("Command line"),
    "sanctions-rescreen": N_("Sanctions re-screen"),
    "issuer-guard": N_("Issuer guard"),
}

# Fixed notes the system writes on a trade's history (trades/lifecycle.py), in staff's words.
EVENT_NOTE = {
    "withdrawn by the seller during review": N_("Withdrawn by the seller during review"),
    "cancelled by seller": N_("Cancelled by the seller"),
    "held: a fraud report named this voucher": N_("Held: a fraud report named this voucher"),
    "retried by an operator": N_("Retried by an operator"),
    "sent again to another account": N_("Sent again to another account"),
    "the bank refused the transfer; the seller can choose another account": N_(
        "The bank refused the transfer; the seller can choose another account"
    ),
    "settled against the amount owed after a reversal": N_(
        "Settled against the amount owed after a reversal"
    ),
    "appealed by the seller": N_("Appealed by the seller"),
    "settled what another account of the same person owed after a reversal": N_(
        "Settled what another account of the same person owed after a reversal"
    ),
}
_GAVE_UP = re.compile(r"gave up after (\d+) attempts; an operator must look")
_REVERSED = re.compile(r"reversed by the issuer: (\w+)")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def word(table: Mapping[str, str], code: Any, lang: str) -> str:
    """The reader's word for a code; an unknown code is shown as it is."""
    text = table.get(str(code))
    return i18n.gettext(lang, text) if text else str(code)


def unescape(text: str) -> str:
    r"""`\uc2b9\uc778` → `승인`: notes an earlier version stored or showed as JSON escapes."""
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def money_text(value: Any, lang: str) -> str:
    """45,500원 in Korean text, ₩45,500 in English; other currencies as the locale writes them."""
    if isinstance(value, Mapping):
        value = Money(int(value["amount"]), str(value["currency"]))
    return i18n.format_amount_text(value, lang)


def duration(seconds: float | None, lang: str) -> str:
    """3분, 2시간 5분, 1일 3시간: whole minutes, at most two units; under a minute says so."""
    if seconds is None:
        return "—"
    minutes = int(seconds // 60)
    if minutes < 1:
        return i18n.gettext(lang, "under a minute")
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [(days, "duration-day"), (hours, "duration-hour"), (mins, "duration-minute")]
    shown = [(n, unit) for n, unit in parts if n][:2]
    locale = i18n.locale(lang)
    return " ".join(format_unit(n, unit, length="long", locale=locale) for n, unit in shown)


def moment(at: datetime | str | None, lang: str, tz: str) -> str:
    """2026. 11. 27. 오후 3:27 / Nov 27, 2026 3:27 PM: the jurisdiction's time, without seconds."""
    if not at:
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    zone, locale = ZoneInfo(tz), i18n.locale(lang)
    day = format_date(at.astimezone(zone), "medium", locale=locale)
    return f"{day} {format_time(at, 'short', tzinfo=zone, locale=locale)}"


def event_note(note: str | None, lang: str) -> str:
    """A trade event's note: codes and the system's fixed notes translated; people's notes as written."""
    if not note:
        return ""
    if note in EVENT_NOTE:
        return i18n.gettext(lang, EVENT_NOTE[note])
    if found := _GAVE_UP.fullmatch(note):
        return i18n.gettext(lang, "Gave up after %(n)s attempts; an operator must look") % {"n": found[1]}
    if found := _REVERSED.fullmatch(note):
        reason = i18n.gettext(lang, labels.REVERSAL_REASON.get(found[1], found[1]))
        return i18n.gettext(lang, "Reversed by the issuer: %(reason)s") % {"reason": reason}
    codes = [c.strip() for c in note.split(",")]
    if all(c in REASON for c in codes):
        return ", ".join(word(REASON, c, lang) for c in codes)
    return unescape(note)


def helpers(lang: str) -> dict[str, Callable[[Any], str]]:
    """The functions staff templates call, bound to the reader's language."""
    return {
        "reason_label": lambda c: word(REASON, c, lang),
        "close_label": lambda c: word(CLOSE_REASON, c, lang),
        "outcome_label": lambda c: word(OUTCOME, c, lang),
        "staff_status": lambda c: word(STATUS, c, lang),
        "payout_status": lambda c: word(PAYOUT_STATUS, c, lang),
        "identity_label": lambda c: word(IDENTITY_STATUS, c, lang),
        "strength_label": lambda c: word(SANCTIONS_STRENGTH, c, lang),
        "flag_label": lambda c: word(FLAG, c, lang),
        "match_reason": lambda c: word(SANCTIONS_REASON, c, lang),
        "event_note": lambda n: event_note(n, lang),
        "actor_label": lambda a: word(ACTOR, a, lang),
        "account_kind": lambda k: word(ACCOUNT_KIND, k, lang),
        "phase_label": lambda p: word(PHASE, p, lang),
    }


def filters(lang: str, tz: str) -> dict[str, Callable[..., str]]:
    """Jinja filters: `duration` (seconds → 2시간 5분), `at` (no seconds); `amount` is render.py's."""
    return {
        "duration": lambda s: duration(s, lang),
        "at": lambda v: moment(v, lang, tz),
    }


def issuer_facts(answer: Mapping[str, Any], lang: str, tz: str, currency: str) -> list[tuple[str, str]]:
    """The issuer's answer as (label, value) rows in the reader's words."""
    rows = []
    for field, value in sorted(answer.items()):
        if field in ("declared_method", "issuer_channel"):
            text = word(CHANNEL, value, lang)
        elif field == "issuer_state":
            text = word(VOUCHER_STATE, value, lang)
        elif field == "issuer_balance" and isinstance(value, int):
            text = money_text(Money(value, currency), lang)
        elif field == "issued_at" and isinstance(value, str):
            text = moment(value, lang, tz)
        else:
            text = unescape(str(value))
        rows.append((word(ISSUER_FIELD, field, lang), text))
    return rows
