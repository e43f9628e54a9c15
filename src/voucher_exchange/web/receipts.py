"""Signed receipts on the site: the signed JSON to download, and a page where anyone verifies one."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import JSONResponse, Response

from voucher_exchange.errors import DomainError
from voucher_exchange.i18n import N_
from voucher_exchange.receipts import service as receipt_service
from voucher_exchange.receipts.models import (
    EVIDENCE_FIELD,
    KEYS_PATH,
    NOTICE_FIELD,
    DocumentRefused,
    SignedReceipt,
    Verdict,
    parse_document,
)
from voucher_exchange.web import forms
from voucher_exchange.web.render import page
from voucher_exchange.web.session import Page, Visitor, check_csrf

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
Pasted = Annotated[str, Form(max_length=20_000)]

# What the verify page says for each outcome (the CLI prints the English `Verdict.message`).
VERDICTS = {
    "valid": N_("Valid: this receipt was signed by this exchange and has not been changed."),
    "valid_reversal_notice": N_(
        "Valid: this reversal notice was signed by this exchange. The trade it names was reversed."
    ),
    "valid_record": N_("Valid: this evidence record was signed by this exchange and has not been changed."),
    "receipt_malformed": N_(
        "This is not a receipt. Paste the whole JSON file you downloaded from your receipt."
    ),
    "receipt_key_unknown": N_("Invalid: it names a signing key this exchange never used."),
    "receipt_signature_malformed": N_("Invalid: the signature is damaged."),
    "receipt_duplicate_key": N_(
        "Invalid: the document names the same field twice. A genuine receipt never does; "
        "someone may have added a forged value."
    ),
    "receipt_not_canonical": N_(
        "Invalid: a value is not written the way the exchange writes it. "
        "Paste the file exactly as you downloaded it."
    ),
    "receipt_signature_invalid": N_(
        "Invalid: the signature does not match. A field was changed after signing, "
        "or the signature was altered."
    ),
}


def signed_receipt(v: Visitor, trade_id: str) -> SignedReceipt:
    """The signed-in seller's receipt for a paid trade (issued on first view)."""
    return receipt_service.issue_own_receipt(v.ctx, v.seller(), trade_id[:64])


@router.get("/trades/{trade_id}/receipt.json")
def download(v: Page, trade_id: str) -> Response:
    """The signed receipt as a file: what `voucher-exchange receipt verify` and the verify page read."""
    signed = signed_receipt(v, trade_id)
    disposition = f'attachment; filename="receipt-{signed.trade_id}.json"'
    return JSONResponse(
        signed.document(), headers={"Content-Disposition": disposition, "Cache-Control": "no-store"}
    )


@router.get("/receipts/verify")
def verify_form(v: Page, number: str = "", amount: str = "") -> Response:
    """Check a receipt by its number and the amount paid (what is printed on it), or paste its JSON."""
    if not number:
        return page(
            v, "receipt_verify.html", pasted="", verdict=None, keys_url=KEYS_PATH, number="", amount=""
        )
    number, amount = number[:20], amount[:20]
    found = None
    try:
        paid = forms.parse_amount(amount, v.ctx.settings.currency)
    except DomainError:
        paid = None
    if paid is not None:
        with v.ctx.uow(readonly=True) as uow:
            found = receipt_service.find_by_number(uow.conn, number, paid)
    valid = found is not None and found[1].valid
    return page(
        v,
        "receipt_verify.html",
        status=200 if valid else 404,
        pasted="",
        verdict=None,
        by_number={"valid": valid, "receipt": found[0].receipt if found else None},
        number=number,
        amount=amount,
        keys_url=KEYS_PATH,
    )


@router.post("/receipts/verify")
def verify(v: Page, receipt: Pasted) -> Response:
    """Check a pasted receipt against this exchange's published keys."""
    document: Any
    refused: Verdict | None = None
    try:
        document = parse_document(receipt)
    except DocumentRefused as exc:  # a key twice, or a value not written plainly: never shown
        document, refused = None, Verdict(False, exc.code, exc.message)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        document = None
    reversal = None
    with v.ctx.uow(readonly=True) as uow:
        verdict: Verdict = refused or receipt_service.check(uow.conn, document)
        if verdict.valid and verdict.kind == "receipt":
            # A genuine receipt of a trade reversed since: say so, with the notice that proves it.
            trade_id = str(document["receipt"].get("trade_id", ""))[:64]
            reversal = receipt_service.reversal_of(uow.conn, v.ctx.settings.receipt_key_dir, trade_id)
    details = document[verdict.kind] if verdict.valid else None
    valid_notice = verdict.valid and verdict.kind == NOTICE_FIELD
    valid_record = verdict.valid and verdict.kind == EVIDENCE_FIELD
    return page(
        v,
        "receipt_verify.html",
        status=200 if verdict.valid else 422,
        pasted=receipt,
        verdict=verdict,
        message=VERDICTS[
            "valid_reversal_notice" if valid_notice else "valid_record" if valid_record else verdict.code
        ],
        details=details,
        reversal=reversal,
        notice_json=(
            json.dumps(reversal.signed.document(), ensure_ascii=False, indent=2)
            if reversal and reversal.signed
            else None
        ),
        keys_url=KEYS_PATH,
    )
