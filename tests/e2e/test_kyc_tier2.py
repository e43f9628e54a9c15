"""KYC tier 2: upload an ID document → a reviewer approves → tier 2's limits apply at once.

The document is an encrypted file outside the database, shown only to reviewers (each view
audited), deleted after the operator's retention period; a reviewer never decides their own.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.assertions import assert_no_money_for, assert_voucher_untouched, reason_codes
from tests.support.exchange import Api, Exchange, Seller, make_seller, new_account_number
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import Role
from voucher_exchange.db.schema import audit_log, identity_documents
from voucher_exchange.identity import documents
from voucher_exchange.identity.document_models import PURGE_DOCUMENTS
from voucher_exchange.privacy import service as privacy
from voucher_exchange.worker.runner import HANDLERS

pytestmark = pytest.mark.both_backends

# A real (tiny) JPEG's first bytes and enough body to look for on disk.
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"ID-CARD-PIXELS" * 300
    + b"\xff\xd9"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"passport-scan" * 100
MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"%PDF-", b"JFIF")


def _upload(
    api: Api, data: bytes, kind: str = "id_card", name: str = "id.jpg", sent_type: str = "image/jpeg"
) -> Any:
    return api.http.post(
        "/me/identity/documents", data={"kind": kind}, files={"document": (name, data, sent_type)}
    )


def _reviewer(exchange: Exchange, legal_name: str | None = None, birth_date: str = "1985-03-03") -> Api:
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    with exchange.ctx.uow() as uow:
        account_service.create_staff(
            uow.conn, email, "correct-horse-battery", Role.REVIEWER, exchange.ctx.clock.now()
        )
        uow.commit()
    token = exchange.client().post("/sessions", {"email": email, "password": "correct-horse-battery"}).json()
    api = exchange.client(token["token"])
    person = {
        "legal_name": legal_name or f"Lee Staff {uuid.uuid4().hex[:6]}",
        "birth_date": birth_date,
        "phone": "010-5555-0000",
    }
    assert api.post("/me/identity", person).status_code == 200
    return api


def _stored(exchange: Exchange) -> tuple[int, set[str]]:
    """Rows of identity_documents and the files under var/identity-documents/."""
    with exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(select(func.count()).select_from(identity_documents)).scalar_one()
    folder = exchange.ctx.settings.identity_document_dir
    return int(rows), {p.name for p in folder.iterdir()} if folder.exists() else set()


def _audit(exchange: Exchange, action: str, subject: str) -> list[dict[str, Any]]:
    with exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(audit_log.c.actor, audit_log.c.details)
            .where((audit_log.c.action == action) & (audit_log.c.subject == subject))
            .order_by(audit_log.c.id)
        )
        return [{"actor": r.actor, "details": r.details} for r in rows]


def _sell_500k(exchange: Exchange, seller: Seller) -> tuple[dict[str, Any], dict[str, Any]]:
    voucher = exchange.mint("shinsegae", 500000, issued_at="2026-09-01T00:00:00+00:00")
    trade = seller.api.wait_for(seller.sell(voucher, "shinsegae", 500000))
    return trade, voucher


def test_upload_review_and_tier_two_limits_apply_at_once(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    me = seller.api.get("/me").json()
    assert (me["kyc_tier"], me["identity_document"]) == (1, {"status": "none"})
    assert me["limits"]["daily_remaining"] == {"amount": 1_000_000, "currency": "KRW"}

    # At tier 1 the day's ₩1,000,000 is used up by two ₩500,000 vouchers; a third is refused.
    for _ in range(2):
        assert _sell_500k(exchange, seller)[0]["status"] == "paid"
    refused, voucher = _sell_500k(exchange, seller)
    assert (refused["status"], reason_codes(refused)) == ("rejected", ["limit_exceeded"])
    assert_no_money_for(exchange, refused["id"])
    assert_voucher_untouched(exchange, voucher, 500000)

    # The header says PDF; the bytes are a JPEG, and the bytes decide.
    uploaded = _upload(seller.api, JPEG, sent_type="application/pdf")
    assert uploaded.status_code == 202, uploaded.text
    doc_id = uploaded.json()["id"]
    assert uploaded.json() == {"id": doc_id, "kind": "id_card", "status": "pending"}
    assert seller.api.get("/me").json()["identity_document"] == {"status": "pending"}
    stored = _stored(exchange)
    again = _upload(seller.api, JPEG)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "identity_document_pending")
    assert _stored(exchange) == stored  # no second row, no second file

    # At rest: an encrypted file, no image bytes, no magic numbers; the row holds metadata only.
    on_disk = (exchange.ctx.settings.identity_document_dir / f"{doc_id}.enc").read_bytes()
    assert b"ID-CARD-PIXELS" not in on_disk
    assert not any(magic in on_disk for magic in MAGIC)
    assert len(on_disk) == 1 + 12 + len(JPEG) + 16  # version, nonce, ciphertext, tag
    with exchange.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(select(identity_documents).where(identity_documents.c.id == doc_id)).one()
    assert (row.content_type, row.size_bytes, row.sha256, row.file_name) == (
        "image/jpeg",
        len(JPEG),
        hashlib.sha256(JPEG).hexdigest(),
        f"{doc_id}.enc",
    )

    # Sellers and the seller themself never get the image back; reviewers do, audited, not cached.
    assert seller.api.get(f"/review/identity-documents/{doc_id}/file").status_code == 403
    reviewer = _reviewer(exchange)
    queue = reviewer.get("/review/identity-documents").json()["documents"]
    assert [d["id"] for d in queue if d["seller_email"] == seller.email] == [doc_id]
    shown = reviewer.get(f"/review/identity-documents/{doc_id}/file")
    assert (shown.status_code, shown.content, shown.headers["content-type"]) == (200, JPEG, "image/jpeg")
    assert shown.headers["cache-control"] == "no-store"
    viewed = _audit(exchange, "identity.document_viewed", doc_id)
    assert len(viewed) == 1 and viewed[0]["actor"].startswith("staff-")

    bad = reviewer.post(
        f"/review/identity-documents/{doc_id}/decision", {"outcome": "reject", "reason": "ugly"}
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "reason_invalid")
    approved = reviewer.post(f"/review/identity-documents/{doc_id}/decision", {"outcome": "approve"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"

    me = seller.api.get("/me").json()
    assert (me["kyc_tier"], me["identity_document"]) == (2, {"status": "approved"})
    # Tier 2: ₩5,000,000 a day, ₩20,000,000 a month, less the ₩1,000,000 already paid.
    assert me["limits"] == {
        "daily_remaining": {"amount": 4_000_000, "currency": "KRW"},
        "monthly_remaining": {"amount": 19_000_000, "currency": "KRW"},
    }
    over_tier_one, _ = _sell_500k(exchange, seller)
    assert over_tier_one["status"] == "paid", over_tier_one
    decisions_before = _audit(exchange, "identity.document_approved", doc_id)
    assert len(decisions_before) == 1
    limits_before = seller.api.get("/me").json()["limits"]
    again_decided = reviewer.post(
        f"/review/identity-documents/{doc_id}/decision", {"outcome": "reject", "reason": "expired"}
    )
    assert (again_decided.status_code, again_decided.json()["error"]["code"]) == (
        409,
        "identity_document_decided",
    )
    assert seller.api.get("/me").json()["limits"] == limits_before  # still tier 2
    assert _audit(exchange, "identity.document_approved", doc_id) == decisions_before


def test_a_reviewer_cannot_decide_their_own_document_or_their_identitys(exchange: Exchange) -> None:
    # A reviewer who is also a tier-1 seller (own bank account) uploads their own ID.
    name = f"Choi Review {uuid.uuid4().hex[:6]}"
    reviewer = _reviewer(exchange, name, "1990-05-17")
    account = new_account_number()
    exchange.sandbox(
        "POST", "/rail/accounts", {"bank_code": "004", "account_number": account, "holder_name": name}
    )
    added = reviewer.post(
        "/me/payout-destinations",
        {"kind": "bank_account", "bank_code": "004", "account_number": account, "holder_name": name},
    )
    assert added.json()["status"] == "verified"
    own = _upload(reviewer, PNG, kind="passport", name="p.png", sent_type="image/png")
    assert own.status_code == 202, own.text
    refused = reviewer.post(f"/review/identity-documents/{own.json()['id']}/decision", {"outcome": "approve"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "reviewer_conflict")
    assert "your own document" in refused.json()["error"]["message"]

    # The same person's seller account (same name and birth date) is theirs too.
    seller = make_seller(exchange, legal_name=name, birth_date="1990-05-17")
    doc_id = _upload(seller.api, JPEG).json()["id"]
    refused = reviewer.post(f"/review/identity-documents/{doc_id}/decision", {"outcome": "approve"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "reviewer_conflict")
    me = seller.api.get("/me").json()
    assert (me["kyc_tier"], me["identity_document"]) == (1, {"status": "pending"})
    assert _audit(exchange, "identity.document_approved", doc_id) == []

    # Another reviewer rejects it with a reason the seller sees.
    other = _reviewer(exchange)
    rejected = other.post(
        f"/review/identity-documents/{doc_id}/decision",
        {"outcome": "reject", "reason": "shows_resident_number", "note": "뒷자리가 보임"},
    )
    assert rejected.status_code == 200, rejected.text
    me = seller.api.get("/me").json()
    assert (me["kyc_tier"], me["identity_document"]) == (
        1,
        {"status": "rejected", "reason": "shows_resident_number"},
    )


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"GIF89a" + b"\x00" * 100, 415, "document_type_unsupported"),
        (b"<html><script>alert(1)</script>", 415, "document_type_unsupported"),
        (b"", 422, "document_empty"),
        (b"\xff\xd8\xff" + b"\x00" * (1024 * 1024), 413, "document_too_large"),
    ],
    ids=["gif", "html", "empty", "over-limit"],
)
def test_bad_type_or_size_is_refused_and_nothing_is_stored(
    exchange: Exchange, data: bytes, status: int, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seller = make_seller(exchange)
    # A 1 MiB limit keeps the test small; the default is 5 MiB.
    monkeypatch.setattr(
        exchange.ctx,
        "settings",
        exchange.ctx.settings.with_overrides(identity_document_max_bytes=1024 * 1024),
    )
    before = _stored(exchange)
    refused = _upload(seller.api, data, sent_type="image/jpeg")
    assert (refused.status_code, refused.json()["error"]["code"]) == (status, code)
    assert _stored(exchange) == before
    assert seller.api.get("/me").json()["identity_document"] == {"status": "none"}


def test_only_a_tier_one_seller_may_upload(exchange: Exchange) -> None:
    api = exchange.client(
        exchange.client()
        .post(
            "/accounts",
            {"email": f"t0-{uuid.uuid4().hex[:8]}@example.com", "password": "correct-horse-battery"},
        )
        .json()["token"]
    )
    before = _stored(exchange)
    refused = _upload(api, JPEG)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "kyc_tier1_required")
    assert _stored(exchange) == before


def test_the_file_is_deleted_after_the_retention_period_and_the_decision_kept(exchange: Exchange) -> None:
    # The worker runs the purge as a recurring duty; here it is called with the clock moved on.
    assert HANDLERS[PURGE_DOCUMENTS].every == "identity_document_purge_seconds"
    seller = make_seller(exchange)
    doc_id = _upload(seller.api, JPEG).json()["id"]
    folder: Path = exchange.ctx.settings.identity_document_dir
    assert (
        _reviewer(exchange)
        .post(f"/review/identity-documents/{doc_id}/decision", {"outcome": "reject", "reason": "unreadable"})
        .status_code
        == 200
    )
    retention = exchange.ctx.settings.identity_document_retention_days
    try:
        exchange.clock.offset = timedelta(days=retention) - timedelta(minutes=5)
        documents.purge_expired(exchange.ctx)
        assert (folder / f"{doc_id}.enc").exists()
        exchange.clock.offset = timedelta(days=retention, minutes=1)
        documents.purge_expired(exchange.ctx)
    finally:
        exchange.reset_clock()
    assert not (folder / f"{doc_id}.enc").exists()
    with exchange.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(select(identity_documents).where(identity_documents.c.id == doc_id)).one()
    assert (row.status, row.reason, row.file_name) == ("rejected", "unreadable", None)
    assert row.file_deleted_at is not None
    assert seller.api.get("/me").json()["identity_document"] == {"status": "rejected", "reason": "unreadable"}
    gone = _reviewer(exchange).get(f"/review/identity-documents/{doc_id}/file")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "identity_document_deleted")
    assert [e["details"] for e in _audit(exchange, "identity.document_deleted", doc_id)] == [
        {"why": "retention"}
    ]


def test_erasing_the_account_deletes_the_file(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    doc_id = _upload(seller.api, JPEG).json()["id"]
    folder: Path = exchange.ctx.settings.identity_document_dir
    assert (folder / f"{doc_id}.enc").exists()
    with exchange.ctx.uow(readonly=True) as uow:
        found = account_repo.by_email(uow.conn, seller.email)
    assert found is not None
    erased = privacy.erase_account(exchange.ctx, found[0], "correct-horse-battery")
    assert erased["identity_documents"] == 1
    assert not (folder / f"{doc_id}.enc").exists()
    with exchange.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(select(identity_documents).where(identity_documents.c.id == doc_id)).one()
    assert (row.status, row.file_name) == ("rejected", None)


def test_a_body_far_beyond_the_limit_is_cut_off_before_it_is_read(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    before = _stored(exchange)
    limit = exchange.ctx.settings.identity_document_max_bytes
    refused = _upload(seller.api, b"\xff\xd8\xff" + bytes(limit + 128 * 1024))
    assert (refused.status_code, refused.json()["error"]["code"]) == (413, "payload_too_large")
    assert _stored(exchange) == before
    assert seller.api.get("/me").json()["identity_document"] == {"status": "none"}
