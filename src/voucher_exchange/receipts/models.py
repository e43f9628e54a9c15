"""What a receipt says, the exact bytes that are signed, and how a receipt is checked.

Pure: the signing key and the facts come in as arguments. docs/api.md (receipts): the signed
bytes are the receipt's JSON with sorted keys, no spaces, UTF-8; `signature` and
`public_key` are base64url (no padding) of the raw Ed25519 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from voucher_exchange.errors import Conflict
from voucher_exchange.money import Money

ALG = "Ed25519"
RECEIPT_VERSION = 1
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
KEYS_PATH = "/.well-known/voucher-exchange/keys"


class ReceiptNotReady(Conflict):
    """Only a paid trade has a receipt."""

    def __init__(self) -> None:
        super().__init__("receipt_not_ready", "A receipt is ready once the trade is paid.")


def b64url(raw: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """The bytes of base64url text, padded or not; ValueError when it is not base64url."""
    cleaned = text.strip().rstrip("=")
    if not cleaned or any(c not in _B64URL for c in cleaned):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def key_id_for(public_key: bytes) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its raw public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def canonical(receipt: Mapping[str, Any]) -> bytes:
    """The signed bytes: JSON, keys sorted at every level, no spaces, UTF-8 (not \\u-escaped)."""
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class DocumentRefused(ValueError):
    """A pasted document that is not plain JSON of its values (see `parse_document`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise DocumentRefused(
                "receipt_duplicate_key",
                f"The document names {key[:40]!r} twice. A reader may see the first and a checker "
                "the last: a genuine receipt never does this.",
            )
        found[key] = value
    return found


def _not_json(name: str) -> Any:
    raise DocumentRefused("receipt_not_canonical", f"{name} is not a JSON value.")


def _no_fraction(text: str) -> Any:
    # A receipt holds integers only (amounts in minor units): no float can change in transit.
    raise DocumentRefused("receipt_not_canonical", f"{text[:20]} is not a whole number; receipts hold none.")


def _compact(text: str) -> str:
    """`text` without the whitespace between JSON tokens (strings are kept as written)."""
    out, in_string, escaped = [], False, False
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif char not in " \t\r\n":
            out.append(char)
    return "".join(out)


def parse_document(text: str) -> Any:
    """A pasted receipt (or notice) as JSON, refused unless every value is written plainly.

    Refused (`DocumentRefused`): a key named twice in one object (`receipt_duplicate_key`),
    and any value not written as the signer writes it (`receipt_not_canonical`): escapes
    such as `\\u0070ayout` for ASCII, numbers as `9e3` or `9000.0`, NaN. Whitespace, key order
    and `\\u` escapes of non-ASCII characters (as `json.dumps` writes by default) are allowed:
    the text re-serialised compactly, in its own key order, must equal it byte for byte.
    `ValueError` (or `RecursionError`) when it is not JSON at all.
    """
    document = json.loads(
        text, object_pairs_hook=_no_duplicates, parse_constant=_not_json, parse_float=_no_fraction
    )
    compact = _compact(text.strip().lstrip("\ufeff"))
    plain = {
        json.dumps(document, ensure_ascii=ascii_only, separators=(",", ":")) for ascii_only in (False, True)
    }
    if compact not in plain:
        raise DocumentRefused(
            "receipt_not_canonical",
            "A value is not written the way the exchange writes it (an escape such as \\u0070, or a "
            "number such as 9e3 or 9000.0). Paste the file exactly as you downloaded it.",
        )
    return document


def utc_iso(at: datetime) -> str:
    """`2026-11-27T12:43:04.123456Z`: an instant in UTC, as receipts write it."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class ReceiptFacts:
    """What a paid trade's receipt is made from (the voucher only as its keyed fingerprint)."""

    trade_id: str
    brand: str
    face_value: Money
    rate_bps: int
    fee: Money
    payout: Money
    submitted_at: datetime
    secured_at: datetime
    paid_at: datetime
    voucher_fingerprint: str
    issuer_answer: Mapping[str, Any]
    liability_window_days: int
    operator_name: str | None
    # Who issued it (trust/: the business profile when signed); receipts signed before had none.
    issuer: Mapping[str, Any] | None = None
    # Added to the payout when it went to the bank later than promised (promises/); None otherwise.
    compensation: Money | None = None
    promise_due_at: datetime | None = None


def build_receipt(facts: ReceiptFacts, issued_at: datetime) -> dict[str, Any]:
    """The receipt's fields, as signed. Integers and strings only: no float can change in transit."""
    answer = facts.issuer_answer
    balance = answer.get("issuer_balance")
    receipt: dict[str, Any] = {
        "version": RECEIPT_VERSION,
        "trade_id": facts.trade_id,
        "brand": facts.brand,
        "face_value": facts.face_value.as_json(),
        "rate_bps": facts.rate_bps,
        "fee": facts.fee.as_json(),
        "payout": facts.payout.as_json(),
        "submitted_at": utc_iso(facts.submitted_at),
        "secured_at": utc_iso(facts.secured_at),
        "paid_at": utc_iso(facts.paid_at),
        "voucher_fingerprint": facts.voucher_fingerprint,
        "issuer_verification": {
            "state": answer.get("issuer_state"),
            "balance": (
                Money(int(balance), facts.face_value.currency).as_json() if balance is not None else None
            ),
            "channel": answer.get("issuer_channel"),
        },
        "liability_window_days": facts.liability_window_days,
        "liability_ends_at": utc_iso(facts.paid_at + timedelta(days=facts.liability_window_days)),
        "issued_at": utc_iso(issued_at),
    }
    if facts.operator_name:
        receipt["operator"] = facts.operator_name
    if facts.issuer:
        receipt["issuer"] = dict(facts.issuer)
    if facts.compensation is not None:
        # The bank transfer was payout + compensation: the promised time was missed.
        receipt["compensation"] = facts.compensation.as_json()
        if facts.promise_due_at is not None:
            receipt["promise_due_at"] = utc_iso(facts.promise_due_at)
    return receipt


NOTICE_FIELD = "reversal_notice"
NOTICE_VERSION = 1


@dataclass(frozen=True)
class ReversalFacts:
    """What a reversal notice states: the issuer took the voucher back after the trade was paid."""

    trade_id: str
    reversed_at: datetime
    reported_at: datetime
    reason: str
    seller_liable: bool
    owed: Money


def build_reversal_notice(facts: ReversalFacts) -> dict[str, Any]:
    """The notice's fields, as signed: only facts fixed at the reversal, so its signature never changes.

    Ed25519 is deterministic: the same facts and key always give the same signature, so the
    notice is signed when asked for and need not be stored.
    """
    return {
        "notice": "reversal",
        "version": NOTICE_VERSION,
        "trade_id": facts.trade_id,
        "reversed_at": utc_iso(facts.reversed_at),
        "reported_at": utc_iso(facts.reported_at),
        "reason": facts.reason,
        "seller_liable": facts.seller_liable,
        "owed": facts.owed.as_json(),
    }


EVIDENCE_FIELD = "record"
EVIDENCE_VERSION = 1


@dataclass(frozen=True)
class SignedRecord:
    """A signed evidence record of a refused or reversed trade (disputes/ builds the record)."""

    record: dict[str, Any]
    signature: str
    key_id: str

    def document(self) -> dict[str, Any]:
        """`{record, signature, key_id}`: verified like a receipt (the verify page, `receipt verify`)."""
        return {EVIDENCE_FIELD: self.record, "signature": self.signature, "key_id": self.key_id}


@dataclass(frozen=True)
class SignedNotice:
    """A signed reversal notice."""

    notice: dict[str, Any]
    signature: str
    key_id: str

    def document(self) -> dict[str, Any]:
        """`{reversal_notice, signature, key_id}`: the verify page and `receipt verify` check it."""
        return {NOTICE_FIELD: self.notice, "signature": self.signature, "key_id": self.key_id}


def sign(receipt: Mapping[str, Any], private_key: Ed25519PrivateKey) -> str:
    """The base64url Ed25519 signature over the receipt's canonical bytes."""
    return b64url(private_key.sign(canonical(receipt)))


@dataclass(frozen=True)
class SignedReceipt:
    """An issued receipt: its fields, their signature and the key that made it."""

    trade_id: str
    receipt: dict[str, Any]
    signature: str
    key_id: str
    issued_at: datetime

    def document(self) -> dict[str, Any]:
        """What the API returns and what `receipt verify` reads."""
        return {"receipt": self.receipt, "signature": self.signature, "key_id": self.key_id}


@dataclass(frozen=True)
class ReceiptKey:
    """A published receipt-signing public key."""

    key_id: str
    public_key: str
    created_at: datetime
    retired_at: datetime | None

    def published(self) -> dict[str, str]:
        """One entry of the well-known keys document."""
        return {"key_id": self.key_id, "alg": ALG, "public_key": self.public_key}


def keys_document(keys: list[ReceiptKey]) -> dict[str, list[dict[str, str]]]:
    """`{keys:[{key_id, alg, public_key}]}`, every key ever used, oldest first."""
    return {"keys": [k.published() for k in keys]}


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking a receipt: `code` is "valid" or says what is wrong."""

    valid: bool
    code: str
    message: str
    key_id: str | None = None
    kind: str = "receipt"
    """What was checked: "receipt", "reversal_notice" or "record" (an evidence record)."""


def parse_keys(document: Any) -> dict[str, bytes]:
    """key_id → raw public key from a keys document; ValueError when it is not one."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError('not a keys document: expected {"keys": [...]}')
    found: dict[str, bytes] = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("alg") != ALG:
            continue
        key_id, public_key = entry.get("key_id"), entry.get("public_key")
        if isinstance(key_id, str) and isinstance(public_key, str):
            raw = from_b64url(public_key)
            if len(raw) == PUBLIC_KEY_BYTES:
                found[key_id] = raw
    return found


def _signed_part(document: Any) -> tuple[str, Mapping[str, Any]] | None:
    """("receipt" | "reversal_notice" | "record", the signed object), or None when it is none of them.

    A notice's object says `"notice": "reversal"`, an evidence record's `"notice": "evidence"`,
    and a receipt's never has `notice`: one signed object cannot be passed off as another.
    """
    if not isinstance(document, dict):
        return None
    receipt, notice, record = (document.get(k) for k in ("receipt", NOTICE_FIELD, EVIDENCE_FIELD))
    if [receipt, notice, record].count(None) != 2:
        return None
    if isinstance(receipt, dict) and "notice" not in receipt:
        return "receipt", receipt
    if isinstance(notice, dict) and notice.get("notice") == "reversal":
        return NOTICE_FIELD, notice
    if isinstance(record, dict) and record.get("notice") == "evidence":
        return EVIDENCE_FIELD, record
    return None


def verify(document: Any, public_keys: Mapping[str, bytes]) -> Verdict:
    """Check a `{receipt, signature, key_id}` (or `{reversal_notice, …}`) document against known keys."""
    part = _signed_part(document)
    if part is None:
        return Verdict(False, "receipt_malformed", 'This is not a receipt: expected {"receipt": {...}, ...}.')
    kind, signed = part
    key_id, signature = document.get("key_id"), document.get("signature")
    if not isinstance(key_id, str) or not isinstance(signature, str):
        return Verdict(False, "receipt_malformed", "The receipt has no signature or no key_id.")
    public_key = public_keys.get(key_id)
    if public_key is None:
        return Verdict(
            False,
            "receipt_key_unknown",
            f"Unknown key {key_id[:40]!r}: this exchange never signed with it.",
            key_id[:40],
            kind,
        )
    try:
        raw_signature = from_b64url(signature)
    except ValueError:
        raw_signature = b""
    if len(raw_signature) != SIGNATURE_BYTES:
        return Verdict(
            False,
            "receipt_signature_malformed",
            "The signature is not a base64url Ed25519 signature.",
            key_id,
            kind,
        )
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw_signature, canonical(signed))
    except InvalidSignature:
        return Verdict(
            False,
            "receipt_signature_invalid",
            "The signature does not match the receipt: a field was changed after signing, "
            "or the signature was altered.",
            key_id,
            kind,
        )
    what = {NOTICE_FIELD: "reversal notice", EVIDENCE_FIELD: "evidence record"}.get(kind, "receipt")
    return Verdict(True, "valid", f"Valid {what}: signed by key {key_id}.", key_id, kind)
