"""Words shown for stable codes. English here; `_()` in the templates translates them."""

from __future__ import annotations

from voucher_exchange.i18n import N_

STATUS = {
    "received": N_("Received"),
    "screening": N_("Screening"),
    "verifying": N_("Checking with the issuer"),
    "redeeming": N_("Securing the value"),
    "credited": N_("Credited"),
    "paying_out": N_("Sending to your bank"),
    "paid": N_("Paid"),
    "in_review": N_("Being reviewed"),
    "rejected": N_("Refused"),
    "cancelled": N_("Cancelled"),
    "failed": N_("Needs our team"),
    "reversed": N_("Reversed"),
}


def trade_number(trade_id: str) -> str:
    """The short number a seller reads out to support: the id's first 8 hex digits, '3F9A-21C7'."""
    digits = str(trade_id).replace("-", "")[:8].upper()
    return f"{digits[:4]}-{digits[4:]}"


def trade_status(trade: dict[str, object]) -> str:
    """A trade's status as its seller should read it: after the bank refused a payout, the seller
    is the one who acts (chooses another account), not our team."""
    decision = trade.get("decision") or {}
    reasons = decision.get("reasons", []) if isinstance(decision, dict) else []
    if trade.get("status") == "failed" and any(r.get("code") == "payout_refused" for r in reasons):
        return PAYOUT_REFUSED_STATUS
    if honest_refusal(trade):
        return HONEST_REFUSAL_STATUS
    return STATUS.get(str(trade.get("status")), str(trade.get("status")))


# Refusals that say nothing against the seller (a balance that differs, a typo, a quote that ran
# out): a neutral "not bought", never the red "refused" that real refusals carry.
HONEST_REASONS = frozenset({"balance_mismatch", "voucher_invalid", "quote_expired"})
HONEST_REFUSAL_STATUS = N_("Not bought: check and try again")
PAYOUT_REFUSED_STATUS = N_("Choose another account")


def honest_refusal(trade: dict[str, object]) -> bool:
    """A refused trade whose every reason is an honest one (see HONEST_REASONS)."""
    decision = trade.get("decision") or {}
    reasons = decision.get("reasons", []) if isinstance(decision, dict) else []
    codes = {str(r.get("code")) for r in reasons}
    return trade.get("status") == "rejected" and bool(codes) and codes <= HONEST_REASONS


# The happy path, in order, for the timeline.
STEPS = ["received", "screening", "verifying", "redeeming", "credited", "paying_out", "paid"]
# Statuses where nothing happens until a person acts: the page stops polling.
RESTING = {"paid", "rejected", "cancelled", "failed", "reversed", "in_review"}

METHOD = {
    "gift": N_("Received as a gift"),
    "card": N_("Bought with a credit or debit card"),
    "bank_transfer": N_("Bought by bank transfer"),
    "promotion": N_("From a promotion or reward"),
    "other": N_("Another way"),
    "carrier_billing": N_("Paid with mobile phone billing (휴대폰 소액결제)"),
}

REVERSAL_REASON = {
    "stolen": N_("reported stolen"),
    "fraud": N_("bought with fraud"),
    "chargeback": N_("the buyer's card payment was charged back"),
}

BRAND_STATUS = {
    "active": N_("Active: buying"),
    "paused": N_("Paused"),
    "suspended": N_("Suspended"),
}

ROLES = {
    "reviewer": N_("Reviewer"),
    "operator": N_("Operator"),
    "reveal_codes": N_("May reveal voucher codes"),
    "may_sell": N_("May sell from this account"),
}

# Web wording for the error codes people meet in forms; anything else shows the service's message.
ERRORS = {
    "invalid_credentials": N_("The e-mail or password is wrong."),
    "rate_limited": N_("Too many attempts. Wait a few minutes and try again."),
    "server_busy": N_("We are handling many sign-ins right now. Try again in a second."),
    "database_unavailable": N_(
        "The exchange cannot reach its database for a moment. Wait a few seconds and try again."
    ),
    "password_common": N_("This password is one of the most used and is guessed first. Choose another."),
    "password_like_email": N_("The password must not contain your e-mail address."),
    "email_taken": N_("An account with this e-mail exists. Log in instead."),
    "link_expired": N_("This link has expired or was already used. Ask for a new one."),
    "password_wrong": N_("Your current password is not right."),
    "money_in_flight": N_(
        "You have a trade, payout or balance still open. Delete the account once it is settled."
    ),
    "receivable_open": N_(
        "You owe money after a reversal. The account can be deleted once it is settled; "
        "you can close your login now instead."
    ),
    "liability_window_open": N_(
        "An issuer can still take back a voucher you sold. The date from which you can delete "
        "the account is shown below; you can close your login now instead."
    ),
    "totp_invalid": N_("That code is not right, or was already used. Enter the newest code."),
    "totp_malformed": N_(
        "Type the 6-digit code with the digits 0 to 9 (half-width), or a recovery code as it was shown."
    ),
    "totp_session_required": N_(
        "This sign-in did not use your two-factor code, so it cannot open staff pages. "
        "Sign out, then sign in again with your password and the code from your app."
    ),
    "totp_enrolment_elsewhere": N_(
        "Two-factor setup was begun from another sign-in, and only that one can finish it or start "
        "over. If it was not you, change your password: that signs every other session out."
    ),
    "password_invalid": N_("Use a password of 10 to 200 characters."),
    "email_invalid": N_("Enter a valid e-mail address."),
    "face_value_invalid": N_("This brand is not sold in that face value."),
    "amount_invalid": N_("Enter an amount in numbers, like 50000."),
    "brand_unknown": N_("Choose a brand from the list."),
    "brand_paused": N_("We are not buying this brand at the moment."),
    "brand_suspended": N_("We are not buying this brand at the moment."),
    "brand_daily_cap_reached": N_(
        "We have bought as much of this brand as we buy in a day. Try again tomorrow."
    ),
    "quote_expired": N_("Your quote has expired. Ask for a new one; it is valid for 15 minutes."),
    "quote_used": N_("This quote was already used. Ask for a new one."),
    "quote_unknown": N_("There is no such quote. Ask for a new one."),
    "voucher_code_format": N_(
        "This code does not look like a voucher of this brand. Check it and try again."
    ),
    "voucher_pin_format": N_("The PIN is missing or does not look right. Check it and try again."),
    "account_number_invalid": N_("Enter the account number in digits only (6 to 20)."),
    "bank_code_invalid": N_("Choose your bank."),
    "holder_name_invalid": N_("Enter the account holder's name."),
    "phone_invalid": N_("Enter a mobile number like 010-1234-5678."),
    "payout_destination_mismatch": N_("The account must be in your own verified name."),
    "acquired_on_invalid": N_("The acquisition date must be a real date, not in the future."),
    "payout_destination_unknown": N_("Add a bank account in your name first."),
    "legal_name_invalid": N_("Enter your full legal name."),
    "birth_date_invalid": N_("The birth date must be in the past."),
    "nationality_invalid": N_("Give your nationality as a two-letter country code, e.g. KR."),
    "underage": N_("You must be an adult to sell vouchers."),
    "identity_failed": N_("We could not confirm who you are. Check the details and try again."),
    "sanctions_match": N_("We cannot open a selling account for this name."),
    "csrf_failed": N_("This form has expired or did not come from our site. Reload the page and try again."),
    "trade_not_cancellable": N_("This trade can no longer be cancelled."),
    "batch_empty": N_("Paste at least one code, one per line, or choose a CSV file."),
    "batch_too_large": N_("Sell at most 50 vouchers at a time."),
    "note_required": N_("Write a note saying why."),
    "forbidden": N_("You do not have permission for this page."),
    "funding_recorded": N_("A deposit with this reference is already recorded."),
    "reference_invalid": N_("Give the bank's reference for this deposit."),
    "payout_refused_by_bank": N_(
        "The bank refused this transfer. Contact the seller for a new account; retrying would fail again."
    ),
    "retry_not_possible": N_(
        "The trade failed before its voucher was verified; ask the seller to sell it again."
    ),
    "reveal_forbidden": N_("Revealing a voucher code needs the reveal_codes permission."),
    "roles_own": N_("Nobody changes their own roles: another operator asks, and a third approves."),
    "roles_second_operator_required": N_("You asked for this change; a different operator must approve it."),
    "roles_unchanged": N_("The account holds exactly these roles already."),
    "role_request_closed": N_("This request was decided already."),
    "role_request_expired": N_("This request expired unanswered; ask again."),
    "role_request_stale": N_("The account's roles changed since this was asked; decline it and ask again."),
    "reveal_needs_approval": N_(
        "This voucher is not redeemed yet: ask to reveal its code, and another staff member with the "
        "reveal permission must approve."
    ),
    "reveal_second_staff_required": N_(
        "You asked to reveal this code; another staff member must approve it."
    ),
    "reveal_request_closed": N_("This reveal request was approved already or expired."),
    "reviewer_identity_required": N_("Verify your identity before you decide trades."),
    "reviewer_saw_code": N_("You revealed this voucher's code; another reviewer must decide the trade."),
    "receipt_not_ready": N_("A receipt is ready once the trade is paid."),
    "receipt_key_missing": N_(
        "This server cannot sign receipts yet: its receipt key is missing. Please try again later."
    ),
    "method_invalid": N_("Choose how you got the voucher."),
    "status_invalid": N_("Choose active, paused or suspended."),
    "role_invalid": N_("Choose a role."),
    "outcome_invalid": N_("Decide approve or reject."),
    "close_reason_invalid": N_("This close reason does not fit the decision; choose another."),
    "trade_not_in_review": N_("This trade is no longer waiting for review."),
    "trade_not_failed": N_("Only failed trades can be retried."),
    "trade_unknown": N_("There is no such trade."),
    "user_unknown": N_("There is no such account."),
    "currency_mismatch": N_("This brand is sold in another currency."),
    "rate_invalid": N_("Enter rates between 1% and 100%, at most two decimals."),
    "rate_bands_invalid": N_("Each band needs a face value from which it applies; the first starts at 0."),
    "payout_not_refused": N_("Only a payout the bank refused can be sent to another account."),
    "payout_destination_refused": N_(
        "Your bank refused this account. Choose or add another in your own name."
    ),
    "payout_destination_unverified": N_(
        "That account is not verified in your own name. Choose or add one that is."
    ),
    "appeal_already_made": N_("You have already appealed this; a reviewer will answer."),
    "appeal_not_possible": N_(
        "Only a refusal that rests on the issuer's answer, or a reversal you are asked to pay back, "
        "can be appealed."
    ),
    "message_required": N_("Say why the decision is wrong (at most 2,000 characters)."),
    "evidence_not_available": N_(
        "This trade has no evidence record: only a refusal or reversal that rests on the issuer's "
        "answer has one."
    ),
    "appeal_already_answered": N_("This appeal was answered already."),
    "reviewer_conflict": N_("This trade is linked to you; another reviewer must decide it."),
    "second_reviewer_required": N_("You approved this trade already; a second reviewer must approve it too."),
    "staff_cannot_sell": N_(
        "Staff accounts cannot sell unless an operator allows it; use a personal account."
    ),
    # Bank accounts and selling forms (issue 13).
    "account_unknown": N_("The bank does not know this account. Check the bank and the account number."),
    "holder_mismatch": N_(
        "The bank says this account is not held in your verified name. We only pay into your own account."
    ),
    "holder_check_expired": N_("The check has expired. Check the account again."),
    "payout_destination_in_use": N_(
        "Money is on its way to this account. Remove it once those trades are paid."
    ),
    "carrier_billing_prohibited": N_(
        "We never buy vouchers paid for with mobile carrier billing. Nothing was sent and nothing was stored."
    ),
    "batch_unknown": N_("There is no such batch."),
    "batch_price_changed": N_("The rate changed since your preview. Check the new total before selling."),
    "batch_expired": N_(
        "This batch was already sent or has expired. Check your trades before sending again."
    ),
}

# The trust shell (business profile, consent texts, consent at sign-up).
ERRORS.update(
    {
        "consent_required": N_(
            "Agree to the terms of use and to the collection and use of personal data to sign up."
        ),
        "profile_field_required": N_("Fill in every field of the business profile."),
        "profile_field_too_long": N_("This field is too long."),
        "profile_email_invalid": N_("Enter the support e-mail address."),
        "profile_link_invalid": N_("The KakaoTalk channel link starts with https://."),
        "profile_phone_invalid": N_("Enter the support phone number."),
        "registration_number_invalid": N_(
            "A business registration number has 10 digits and its last digit must add up. Check it."
        ),
        "document_kind_invalid": N_("Choose which text to publish."),
        "document_title_invalid": N_("Give the text a title (up to 200 characters)."),
        "document_body_invalid": N_("Write the text (up to 50,000 characters)."),
        "document_effective_date_invalid": N_("Enter the date the text takes effect."),
        "document_effective_too_soon": N_(
            "Sellers must be told at least 7 days ahead: choose a date 7 or more days from today."
        ),
        "document_effective_too_far": N_("Choose a date within a year from today."),
        "document_effective_before_scheduled": N_(
            "A newer version cannot take effect before the one already scheduled."
        ),
    }
)

# The payout-time promise on the staff payouts page.
ERRORS.update(
    {
        "promise_minutes_invalid": N_("Promise between 1 minute and 24 hours."),
        "compensation_invalid": N_("Compensation is between 0 and 100% of the fee."),
        "time_invalid": N_("Give a time as HH:MM, e.g. 23:30."),
    }
)

# API keys on the developers page (issue 23).
ERRORS.update(
    {
        "api_key_name_required": N_("Give the key a name of up to 100 characters."),
        "scopes_required": N_("Choose at least one scope the key may use."),
        "scope_unknown": N_("Choose scopes from the list."),
        "invalid_cidr": N_(
            "Allowed addresses are up to 20 networks such as 203.0.113.0/24 or 2001:db8::/32."
        ),
        "invalid_expiry": N_("Choose when the key expires."),
        "overlap_invalid": N_("Choose how long the old key or secret keeps working."),
        "too_many_api_keys": N_("An account may hold 25 working keys. Revoke one first."),
        "api_key_unknown": N_("There is no such API key of yours."),
        "api_key_inactive": N_(
            "This key was revoked, has expired or was already rolled: roll its successor."
        ),
        "webhook_url_not_allowed": N_(
            "Give a public https URL such as https://example.com/webhooks: no user name or password, "
            "a host name that resolves, and no private, loopback or link-local address."
        ),
        "webhook_event_unknown": N_("Choose at least one event from the list."),
        "webhook_endpoint_limit": N_("An account may have 10 endpoints. Delete one first."),
        "webhook_endpoint_unknown": N_("There is no such webhook endpoint."),
        "webhook_endpoint_disabled": N_("This endpoint is disabled. Add it again to receive events."),
        "replay_since_invalid": N_("Enter a date and time in the past, like 2026-12-07 09:30."),
        "developers_sellers_only": N_(
            "API keys and webhooks are for selling accounts. Use a personal account to integrate."
        ),
    }
)

# The public transparency report (issue 25).
ERRORS.update(
    {
        "transparency_month_invalid": N_("Give the month as YYYY-MM, e.g. 2026-11."),
        "transparency_month_future": N_("That month has not begun; there is nothing to report yet."),
    }
)

PROFILE_LABELS = {
    "service_name": N_("Service name (shown in the header, e-mails and receipts)"),
    "business_name": N_("Business name (상호)"),
    "representative": N_("Representative (대표자)"),
    "registration_number": N_("Business registration no. (사업자등록번호)"),
    "mail_order_number": N_("Mail-order business no. (통신판매업 신고번호)"),
    "address": N_("Address"),
    "support_phone": N_("Customer service phone"),
    "support_email": N_("Customer service e-mail"),
    "support_hours": N_("Customer service hours"),
    "kakao_channel_url": N_("KakaoTalk channel link"),
}

CONSENT_KIND = {
    "terms": N_("Terms of use (이용약관)"),
    "privacy": N_("Collection and use of personal data (개인정보 수집·이용)"),
    "marketing": N_("Offers by e-mail (마케팅 정보 수신)"),
}

# KYC tier 2: ID documents.
DOCUMENT_KIND = {
    "id_card": N_("Resident registration card (주민등록증)"),
    "driver_license": N_("Driving licence (운전면허증)"),
    "passport": N_("Passport (여권)"),
}

DOCUMENT_STATUS = {
    "none": N_("Not uploaded"),
    "pending": N_("Waiting for a reviewer"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
}

DOCUMENT_REJECTION = {
    "shows_resident_number": N_(
        "The back digits of the resident registration number (주민등록번호) were visible. "
        "Cover them and upload again."
    ),
    "unreadable": N_(
        "We could not read it: blurred, cropped or too dark. Take a sharper photo of the whole card."
    ),
    "name_mismatch": N_("The name is not the one you verified."),
    "birth_date_mismatch": N_("The birth date is not the one you verified."),
    "expired": N_("The document has expired. Upload a valid one."),
    "not_an_id": N_("The file is not an identity document."),
}

ERRORS.update(
    {
        "kyc_tier1_required": N_(
            "Verify your identity and add a bank account in your own name before you upload an ID."
        ),
        "kyc_tier2_already": N_("Your account is already at tier 2."),
        "identity_document_pending": N_(
            "Your document is waiting for a reviewer; the outcome will show on your account page."
        ),
        "document_kind_invalid": N_("Choose the kind of document."),
        "document_empty": N_("Choose a photo or scan of your ID."),
        "document_too_large": N_("The file is too large. Upload a file of at most 5 MB."),
        "document_type_unsupported": N_("Upload a JPEG, PNG or PDF file of your ID."),
        "reason_invalid": N_("To reject, choose a reason."),
    }
)

# Fraud reports and cases (issue 24).
ERRORS.update(
    {
        "codes_required": N_("Enter at least one voucher code."),
        "too_many_codes": N_("Report at most 20 codes at a time."),
        "code_invalid": N_("Each voucher code has 6 to 64 letters and digits."),
        "reporter_name_invalid": N_("Enter your name (at most 100 characters)."),
        "reporter_contact_invalid": N_("Enter a phone number or e-mail address where we can reach you."),
        "police_case_number_invalid": N_("The police case number is too long."),
        "description_invalid": N_("Say briefly what happened (at most 4,000 characters)."),
        "case_unknown": N_("There is no such case, or no such trade on it."),
        "case_closed": N_("This case is closed."),
        "nothing_to_hold": N_("The trade is refused, cancelled or reversed: nothing is left to hold."),
        "decide_in_review": N_("This trade waits in the review queue: approve or reject it there."),
        "trade_not_paid": N_("Only a paid trade is reversed through the issuer."),
        "issuer_did_not_charge_back": N_("The issuer did not charge the voucher back; the freeze stays."),
    }
)
