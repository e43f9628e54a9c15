"""The audit log in the reader's words: actions, fields, and each change as before → after."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from voucher_exchange import i18n
from voucher_exchange.i18n import N_
from voucher_exchange.money import Money
from voucher_exchange.promises.models import percent_text
from voucher_exchange.web import labels
from voucher_exchange.web.staff_words import CLOSE_REASON, STATUS, money_text, unescape, word

YES, NO = N_("yes"), N_("no")

AUDIT_ACTION = {
    "promise.terms": N_("Payout-time promise changed"),
    "brand.rates": N_("Rates changed"),
    "brand.status": N_("Brand status changed"),
    "staff.add": N_("Staff member added"),
    "staff.roles": N_("Roles changed"),
    "staff.roles_requested": N_("Change of roles requested"),
    "staff.roles_declined": N_("Change of roles declined"),
    "treasury.fund": N_("Treasury funded"),
    "trade.retry": N_("Failed trade retried"),
    "voucher.reveal": N_("Voucher code revealed"),
    "voucher.reveal_requested": N_("Voucher code reveal requested"),
    "voucher.reveal_approved": N_("Voucher code reveal approved"),
    "review.approve": N_("Trade approved"),
    "review.reject": N_("Trade rejected"),
    "review.first_approval": N_("First of two approvals"),
    "reversal.appeal": N_("Reversal appealed"),
    "reversal.appeal.upheld": N_("Appeal answered: reversal upheld"),
    "reversal.appeal.written_off": N_("Appeal answered: written off"),
    "sanctions.clear": N_("Sanctions match cleared"),
    "sanctions.freeze": N_("Payouts frozen by sanctions re-screen"),
    "sanctions.release": N_("Sanctions freeze released"),
    "sanctions.load": N_("Sanctions list loaded"),
    "catalog.import": N_("Catalogue imported"),
    "brand.daily_cap": N_("Daily cap changed"),
    "issuer.facts": N_("Issuer facts changed"),
    "issuer.rule_added": N_("Issuer guard rule added"),
    "issuer.rule": N_("Issuer guard rule turned on or off"),
    "issuer.action": N_("Issuer guard acted"),
    "issuer.action_lifted": N_("Issuer guard action lifted"),
    "risk.publish": N_("Rule set published"),
    "risk.status": N_("Rule set status changed"),
    "keys.rotate": N_("Encryption key rotated"),
    "account.sign_out_everywhere": N_("Signed out everywhere"),
    "reconcile.issuer": N_("Issuer statement reconciled"),
    "reconcile.rail": N_("Bank statement reconciled"),
    "business_profile.update": N_("Business profile changed"),
    "consent_document.publish": N_("Consent text published"),
    "consent.accept": N_("Consents accepted at sign-up"),
    "identity.name_changed": N_("Verified under another legal name"),
    "account.password_reset": N_("Password reset by e-mail link"),
    "account.password_changed": N_("Password changed"),
    "account.email_verified": N_("E-mail address confirmed"),
    "account.email_change_requested": N_("E-mail change requested"),
    "account.sign_out_others": N_("Other sessions signed out"),
    "account.two_factor_enrolled": N_("Two-factor sign-in set up"),
    "account.sessions_revoked": N_("Other sessions signed out after a security change"),
    "account.recovery_code_used": N_("Two-factor recovery code used"),
    "account.erased": N_("Account deleted (personal data erased)"),
    "account.login_closed": N_("Login closed (record kept)"),
    "receivable.netted_linked": N_("Payout settled a linked account's debt"),
}

# Where a role or reveal request stands (four eyes: one asks, another approves).
REQUEST_STATUS = {
    "pending": N_("waiting for approval"),
    "approved": N_("approved"),
    "declined": N_("declined"),
    "revealed": N_("code seen"),
}

AUDIT_FIELD = {
    "minutes": N_("Promised minutes"),
    "compensation_bps": N_("Compensation (share of the fee)"),
    "bank_window": N_("Banks' nightly window"),
    "status": N_("Status"),
    "bands": N_("Rates"),
    "rates": N_("Rates"),
    "version": N_("Version"),
    "roles": N_("Roles"),
    "role": N_("Role given"),
    "request": N_("Request"),
    "requested_by": N_("Requested by"),
    "approved_by": N_("Approved by"),
    "email": N_("E-mail"),
    "note": N_("Note"),
    "close_reason": N_("Close reason"),
    "amount": N_("Amount"),
    "treasury": N_("Treasury available"),
    "resumes_at": N_("Resumes at"),
    "last4": N_("Last 4 digits"),
    "chargeback": N_("Chargeback"),
    "ent_num": N_("Listed entry"),
    "entry_version": N_("Entry version"),
    "list_id": N_("List"),
    "trade_id": N_("Trade"),
    "entries": N_("Entries"),
    "names": N_("Names"),
    "added": N_("Added"),
    "updated": N_("Updated"),
    "rate_versions": N_("Rate versions"),
    "tokens": N_("Sessions ended"),
    "reason": N_("Why"),
    "run": N_("Run"),
    "file_sha256": N_("File SHA-256"),
    "matched": N_("Matched"),
    "missing_ours": N_("Missing on our side"),
    "missing_theirs": N_("Missing on theirs"),
    "mismatched": N_("Mismatched"),
    "frozen": N_("Payouts frozen"),
    "cleared": N_("Cleared"),
    "service_name": N_("Service name"),
    "business_name": N_("Business name"),
    "representative": N_("Representative"),
    "registration_number": N_("Business registration number"),
    "mail_order_number": N_("Mail-order business number"),
    "address": N_("Address"),
    "support_phone": N_("Support phone"),
    "support_email": N_("Support e-mail"),
    "support_hours": N_("Support hours"),
    "kakao_channel_url": N_("KakaoTalk channel"),
    "title": N_("Title"),
    "kind": N_("Text"),
    "terms": N_("Terms of use"),
    "privacy": N_("Personal data collection and use"),
    "marketing": N_("Marketing"),
    "channel": N_("Through"),
    "tier_before": N_("Tier before"),
    "tier_after": N_("Tier after"),
    "sessions": N_("Sessions erased"),
    "links": N_("Mailed links erased"),
    "recovery_codes": N_("Recovery codes erased"),
    "two_factor": N_("Two-factor keys erased"),
    "idempotency_keys": N_("Stored requests erased"),
    "payout_destinations": N_("Unused bank accounts erased"),
}

# Why an account's other sessions were signed out (accounts/sessions.py), the actions' own words.
REVOKE_REASON = {
    "two_factor_enrolled": N_("Two-factor sign-in set up"),
    "roles_changed": N_("Roles changed"),
    "password_changed": N_("Password changed"),
    "password_reset": N_("Password reset by e-mail link"),
}


def value_text(field: str, value: Any, lang: str, currency: str) -> str:
    """One audit value in words: statuses, roles, rates and money as staff read them elsewhere."""
    if value is None or value in ([], {}):
        return "—"
    if isinstance(value, bool):
        return i18n.gettext(lang, YES) if value else i18n.gettext(lang, NO)
    if field == "status":
        table = next((t for t in (labels.BRAND_STATUS, REQUEST_STATUS) if str(value) in t), STATUS)
        return word(table, value, lang)
    if field in ("roles", "role"):
        return ", ".join(word(labels.ROLES, r, lang) for r in ([value] if isinstance(value, str) else value))
    if field == "bands" and isinstance(value, list):
        return "; ".join(
            i18n.gettext(lang, "from %(face)s: %(rate)s")
            % {
                "face": money_text(Money(int(b["min_face"]), currency), lang),
                "rate": i18n.format_bps(int(b["rate_bps"]), lang),
            }
            for b in value
        )
    if field == "reason":
        return word(REVOKE_REASON, value, lang)
    if field == "close_reason":
        return word(CLOSE_REASON, value, lang)
    if field == "resumes_at":
        return word(STATUS, value, lang)
    if field == "version":
        return f"v{value}"
    if field == "compensation_bps" and isinstance(value, int):
        return percent_text(value)
    if field == "bank_window" and isinstance(value, Mapping):
        return f"{value.get('from')}–{value.get('to')} ({value.get('timezone')})"
    if isinstance(value, (list, dict)):
        return unescape(json.dumps(value, ensure_ascii=False))
    return unescape(str(value))


def audit_entry(
    details: Mapping[str, Any], lang: str, currency: str
) -> dict[str, list[tuple[str, str, str]]]:
    """An entry's details as rows: `changes` (field, before, after) and `facts` (field, value, "")."""
    before = details.get("before") if isinstance(details.get("before"), Mapping) else None
    after = details.get("after") if isinstance(details.get("after"), Mapping) else None
    changes = []
    if before is not None and after is not None:
        for field in [*after, *(f for f in before if f not in after)]:
            changes.append(
                (
                    word(AUDIT_FIELD, field, lang),
                    value_text(field, before.get(field), lang, currency),
                    value_text(field, after.get(field), lang, currency),
                )
            )
    facts = []
    rest = {k: v for k, v in details.items() if not (changes and k in ("before", "after"))}
    if "amount" in rest and "currency" in rest:
        money = Money(int(rest.pop("amount")), str(rest.pop("currency")))
        facts.append((word(AUDIT_FIELD, "amount", lang), money_text(money, lang), ""))
    for field, value in rest.items():
        facts.append((word(AUDIT_FIELD, field, lang), value_text(field, value, lang, currency), ""))
    return {"changes": changes, "facts": facts}


def subject_link(action: str, subject: str) -> str | None:
    """Where an audit entry's subject can be looked at: a trade, a seller, a brand."""
    if action.startswith("brand."):
        return f"/staff/brands/{subject}"
    if action.startswith(("review.", "reversal.", "receivable.", "trade.", "voucher.")):
        return f"/staff/review/{subject}"
    if action.startswith(
        (
            "staff.",
            "sanctions.clear",
            "sanctions.release",
            "sanctions.freeze",
            "account.",
            "identity.",
            "consent.accept",
        )
    ):
        return f"/staff/review/sellers/{subject}"
    return None
