"""Receipt use cases: issue a paid trade's signed receipt, publish the keys, rotate, verify."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine

from voucher_exchange.accounts.models import User
from voucher_exchange.config import Settings
from voucher_exchange.context import Context
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.errors import DomainError, NotFound
from voucher_exchange.money import Money
from voucher_exchange.promises import service as promise_service
from voucher_exchange.receipts import keyfiles
from voucher_exchange.receipts import repository as receipt_repo
from voucher_exchange.receipts.models import (
    ReceiptFacts,
    ReceiptKey,
    ReceiptNotReady,
    ReversalFacts,
    SignedNotice,
    SignedReceipt,
    SignedRecord,
    Verdict,
    b64url,
    build_receipt,
    build_reversal_notice,
    canonical,
    from_b64url,
    keys_document,
    sign,
    verify,
)
from voucher_exchange.reversals import repository as chargeback_repo
from voucher_exchange.reversals.models import ChargebackOutcome
from voucher_exchange.trades import repository as trade_repo
from voucher_exchange.trades import service as trade_service
from voucher_exchange.trades.models import Trade, TradeStatus
from voucher_exchange.trust import service as trust


class SigningKeyMissing(DomainError):
    """The database names a signing key whose private file this host does not hold."""

    status = 503

    def __init__(self) -> None:
        super().__init__(
            "receipt_key_missing",
            "This server cannot sign receipts yet: its receipt key is missing. Please try again later.",
        )


def issue_own_receipt(ctx: Context, user: User, trade_id: str) -> SignedReceipt:
    """Use case: the seller's signed receipt for their paid trade (issued and stored on first request)."""
    with ctx.uow() as uow:
        signed = own_receipt(uow.conn, ctx.settings, ctx.clock.now(), user, trade_id)
        uow.commit()
    return signed


def own_document(ctx: Context, user: User, trade_id: str) -> dict[str, Any]:
    """Use case: the seller's signed receipt document, with `reversed` once the trade was reversed.

    `reversed` is the signed reversal notice (`reversal_of`); the receipt itself never changes.
    """
    signed = issue_own_receipt(ctx, user, trade_id)
    document = signed.document()
    with ctx.uow(readonly=True) as uow:
        reversal = reversal_of(uow.conn, ctx.settings.receipt_key_dir, signed.trade_id)
    if reversal is not None and reversal.signed is not None:
        document["reversed"] = reversal.signed.document()
    return document


def own_receipt(
    conn: Connection, settings: Settings, now: datetime, user: User, trade_id: str
) -> SignedReceipt:
    """The seller's signed receipt for one of their paid trades, issued on first request, then unchanged."""
    trade = trade_repo.get(conn, trade_id)
    if trade is None or trade.user_id != user.id:
        raise NotFound("trade_unknown", "There is no such trade.")
    return _issued(conn, settings, now, trade)


def _issued(conn: Connection, settings: Settings, now: datetime, trade: Trade) -> SignedReceipt:
    stored = receipt_repo.get(conn, trade.id)
    if stored is not None:
        return stored
    paid_at = trade_service.paid_at(conn, trade.id)
    if trade.status is not TradeStatus.PAID or paid_at is None or trade.secured_at is None:
        raise ReceiptNotReady()
    promise = promise_service.promise_of(conn, trade.id)
    compensation = promise.compensation if promise is not None else None
    facts = ReceiptFacts(
        trade_id=trade.id,
        brand=trade.brand_slug,
        face_value=trade.face_value,
        rate_bps=trade.rate_bps,
        fee=trade.fee,
        payout=trade.payout,
        submitted_at=trade.created_at,
        secured_at=trade.secured_at,
        paid_at=paid_at,
        voucher_fingerprint=trade.voucher_fingerprint,
        issuer_answer=trade.issuer_answer or {},
        liability_window_days=settings.liability_window_days,
        operator_name=settings.operator_name,
        issuer=trust.profile(conn).issuer_block(),
        compensation=compensation,
        promise_due_at=promise.due_at if compensation is not None and promise is not None else None,
    )
    receipt = build_receipt(facts, now)
    key_id, private_key = _signer(conn, settings.receipt_key_dir, now)
    receipt_repo.add(conn, trade.id, canonical(receipt), sign(receipt, private_key), key_id, now)
    # Two first requests at once: both signed, the first stored wins, both answer with it.
    issued = receipt_repo.get(conn, trade.id)
    assert issued is not None  # stored just above or by the concurrent winner
    return issued


def sign_record(conn: Connection, key_dir: Path, now: datetime, record: dict[str, Any]) -> SignedRecord:
    """An evidence record signed with the receipt keys (same keys, same canonical JSON).

    Not stored: Ed25519 is deterministic, so the same record and key give the same signature;
    a record that changed (an appeal, an answer) gets a new one.
    """
    key_id, private_key = _signer(conn, key_dir, now)
    return SignedRecord(record, sign(record, private_key), key_id)


def _signer(conn: Connection, key_dir: Path, now: datetime) -> tuple[str, Ed25519PrivateKey]:
    """The newest signing key this host holds; the very first key is made on first use."""
    candidates = receipt_repo.signing_keys(conn)
    if not candidates and not receipt_repo.all_keys(conn):
        _new_key(conn, key_dir, now)
        candidates = receipt_repo.signing_keys(conn)
    for key in candidates:
        private_key = keyfiles.load(key_dir, key.key_id)
        if private_key is not None:
            return key.key_id, private_key
    raise SigningKeyMissing


def _new_key(conn: Connection, key_dir: Path, now: datetime) -> str:
    key_id, public_key = keyfiles.create(key_dir)
    receipt_repo.add_key(conn, key_id, b64url(public_key), now)
    return key_id


@dataclass(frozen=True)
class Rotation:
    """A new signing key, and the keys it retired (still published, no longer signing)."""

    key_id: str
    retired: list[str]


def rotate_signing_key(engine: Engine, key_dir: Path, now: datetime) -> tuple[Rotation, int]:
    """Use case: a new signing key, committed; then the retired keys' private files are deleted.

    Returns the rotation and how many private key files were deleted here. Takes the engine,
    not a context: the command runs on a host without the rest of the exchange's collaborators.
    """
    with UnitOfWork(engine) as uow:
        rotation = rotate(uow.conn, key_dir, now)
        uow.commit()
    return rotation, forget_retired(key_dir, rotation)


def rotate(conn: Connection, key_dir: Path, now: datetime) -> Rotation:
    """Make a new signing key and retire the others; receipts they signed stay valid.

    The caller deletes the retired private key files after commit (`forget_retired`).
    """
    key_id = _new_key(conn, key_dir, now)
    return Rotation(key_id, receipt_repo.retire_all_but(conn, key_id, now))


def forget_retired(key_dir: Path, rotation: Rotation) -> int:
    """Delete the private files of keys retired by a committed rotation; how many were here."""
    return sum(keyfiles.remove(key_dir, key_id) for key_id in rotation.retired)


def published_keys(conn: Connection) -> list[ReceiptKey]:
    """Every key receipts were ever signed with, oldest first."""
    return receipt_repo.all_keys(conn)


def published(conn: Connection) -> dict[str, list[dict[str, str]]]:
    """The well-known keys document."""
    return keys_document(receipt_repo.all_keys(conn))


def find_by_number(conn: Connection, number: str, payout: Money) -> tuple[SignedReceipt, Verdict] | None:
    """A receipt checked by its short number (the trade id's first 8 hex digits, as printed) and the
    amount paid, both read off the paper: the pair, not the number alone, finds it."""
    digits = "".join(c for c in number.lower() if c in "0123456789abcdef")
    if len(digits) != 8:
        return None
    for found in receipt_repo.by_number(conn, digits):
        if found.receipt.get("payout") == payout.as_json():
            return found, check(conn, found.document())
    return None


def check(conn: Connection, document: Any) -> Verdict:
    """Check a receipt document against this exchange's published keys."""
    keys = {k.key_id: from_b64url(k.public_key) for k in receipt_repo.all_keys(conn)}
    return verify(document, keys)


@dataclass(frozen=True)
class Reversal:
    """A reversed trade, and its signed notice (None when this host holds no signing key)."""

    facts: ReversalFacts
    signed: SignedNotice | None


def reversal_of(conn: Connection, key_dir: Path, trade_id: str) -> Reversal | None:
    """The trade's reversal, if the issuer took its voucher back, with a notice signed now.

    Read-only: the notice is not stored (its fields are fixed and Ed25519 is deterministic).
    """
    report = chargeback_repo.applied_for(conn, trade_id)
    if report is None or report.processed_at is None:
        return None
    facts = ReversalFacts(
        trade_id=trade_id,
        reversed_at=report.processed_at,
        reported_at=report.reported_at,
        reason=report.reason,
        seller_liable=report.outcome is ChargebackOutcome.REVERSED,
        owed=report.receivable,
    )
    notice = build_reversal_notice(facts)
    for key in receipt_repo.signing_keys(conn):
        private_key = keyfiles.load(key_dir, key.key_id)
        if private_key is not None:
            return Reversal(facts, SignedNotice(notice, sign(notice, private_key), key.key_id))
    return Reversal(facts, None)
