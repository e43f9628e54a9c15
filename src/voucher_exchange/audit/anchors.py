"""Anchors of the audit chain: signed checkpoints of its head, kept outside the database.

Pure: keys, documents and what the chain shows come in as arguments. An anchor says "at
this time the log held `count` entries and entry `last_id` had hash `head`". Its document is
JSON `{"alg": "Ed25519", "anchor": {...}, "signature": ...}`; the signature (base64url, no
padding) is over SIGNED_PREFIX plus the anchor's JSON with sorted keys and no spaces, and the
anchor names the key (`key_id`: the first 16 hex digits of the SHA-256 of the raw public key).
Whoever can write the database cannot sign, so a chain rewritten and re-hashed under an
anchor no longer gives the hash the anchor signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "Ed25519"
VERSION = 1
SIGNED_PREFIX = b"voucher-exchange audit anchor v1\n"
PUBLIC_KEY_BYTES = 32


@dataclass(frozen=True)
class Anchor:
    """A signed checkpoint: anchor `seq` says the log held `count` entries, the last `last_id` with `head`."""

    seq: int
    last_id: int
    head: str
    count: int
    at: datetime
    key_id: str

    @property
    def label(self) -> str:
        """`anchor 3 (2026-12-07T05:30:00Z)`, as messages name it."""
        return f"anchor {self.seq} ({when(self.at)})"


@dataclass(frozen=True)
class Problem:
    """Something the anchors prove wrong; `seq` is the anchor it concerns, when there is one."""

    kind: str
    seq: int | None
    detail: str


@dataclass(frozen=True)
class Seen:
    """What the chain shows at an anchored entry: its 1-based position in id order, and its hash."""

    position: int
    hash: str


class BadAnchor(Exception):
    """A stored document that is not a validly signed anchor from a trusted key."""


def when(at: datetime) -> str:
    """A time as messages print it: ISO 8601 UTC to the second, `Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(raw: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """The bytes of base64url text; ValueError when it is not."""
    cleaned = text.strip().rstrip("=")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its raw public key."""
    return hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


def public_key_from(text: str) -> Ed25519PublicKey:
    """A trusted public key as configured (base64url of the raw 32 bytes); ValueError when it is not one."""
    raw = from_b64url(text)
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"{text!r} is not a base64url Ed25519 public key (32 bytes)")
    return Ed25519PublicKey.from_public_bytes(raw)


def _body(anchor: Anchor) -> dict[str, Any]:
    return {
        "v": VERSION,
        "seq": anchor.seq,
        "last_id": anchor.last_id,
        "head": anchor.head,
        "count": anchor.count,
        "at": anchor.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "key_id": anchor.key_id,
    }


def _signed_bytes(body: Mapping[str, Any]) -> bytes:
    return SIGNED_PREFIX + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign(anchor: Anchor, key: Ed25519PrivateKey) -> bytes:
    """The anchor's document, signed with `key` (whose id the anchor must carry)."""
    if key_id_for(key.public_key()) != anchor.key_id:
        raise ValueError("the anchor names another key than the one signing it")
    body = _body(anchor)
    document = {"alg": ALG, "anchor": body, "signature": b64url(key.sign(_signed_bytes(body)))}
    return (json.dumps(document, sort_keys=True, indent=2) + "\n").encode()


def parse(document: bytes, seq: int, trusted: Mapping[str, Ed25519PublicKey]) -> Anchor:
    """The anchor stored as `seq`; BadAnchor when it is not one, not signed by a trusted key, or edited."""
    try:
        outer = json.loads(document)
        body = outer["anchor"]
        signature = from_b64url(outer["signature"])
        anchor = Anchor(
            seq=int(body["seq"]),
            last_id=int(body["last_id"]),
            head=str(body["head"]),
            count=int(body["count"]),
            at=datetime.fromisoformat(body["at"]).astimezone(UTC),
            key_id=str(body["key_id"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadAnchor("is not an anchor document") from exc
    if outer.get("alg") != ALG or body.get("v") != VERSION:
        raise BadAnchor(f"is not a version {VERSION} {ALG} anchor")
    key = trusted.get(anchor.key_id)
    if key is None:
        raise BadAnchor(f"is signed by key {anchor.key_id}, which this verifier does not trust")
    try:
        key.verify(signature, _signed_bytes(body))
    except InvalidSignature as exc:
        raise BadAnchor(f"does not match its signature (key {anchor.key_id}): it was edited") from exc
    if anchor.seq != seq:
        raise BadAnchor(f"says it is anchor {anchor.seq}: anchors were renamed or copied")
    return anchor


def check_sequence(anchors: Sequence[Anchor], stored: Sequence[int]) -> list[Problem]:
    """Anchors 1..n are all stored, and each goes no further back than the one before."""
    problems = []
    present = set(stored)
    for seq in range(1, max(present, default=0) + 1):
        if seq not in present:
            problems.append(Problem("missing anchor", seq, f"anchor {seq} is not in the anchor store"))
    for before, after in itertools.pairwise(anchors):
        if after.last_id < before.last_id or after.count < before.count:
            problems.append(
                Problem(
                    "anchors disagree",
                    after.seq,
                    f"{after.label} covers {after.count} entries up to entry {after.last_id}, "
                    f"fewer than {before.label} ({before.count} up to entry {before.last_id})",
                )
            )
    return problems


def check_chain(anchors: Sequence[Anchor], seen: Mapping[int, Seen], last_id: int | None) -> Problem | None:
    """The first anchor (by seq) the chain no longer matches, or None when every anchor holds.

    `seen` holds, for each anchored entry id still in the log, its position and hash; `last_id`
    is the log's newest entry. Every later anchor covers the same change, so only the first is named.
    """
    holding: Anchor | None = None
    for anchor in anchors:
        problem = _against(anchor, seen.get(anchor.last_id), last_id, holding)
        if problem is not None:
            return problem
        holding = anchor
    return None


def _against(
    anchor: Anchor, seen: Seen | None, last_id: int | None, holding: Anchor | None
) -> Problem | None:
    where = ""
    if holding is not None and holding.last_id < anchor.last_id:
        where = (
            f"; {holding.label} still holds, so the change lies in entries "
            f"{holding.last_id + 1} to {anchor.last_id}"
        )
    if seen is None:
        if last_id is None or last_id < anchor.last_id:
            ends = "the log is empty" if last_id is None else f"the log ends at entry {last_id}"
            return Problem(
                "truncated",
                anchor.seq,
                f"{anchor.label} covers {anchor.count} entries up to entry {anchor.last_id}, but {ends}",
            )
        missing = f"entry {anchor.last_id}, the head {anchor.label} signed, is missing{where}"
        return Problem("deleted", anchor.seq, missing)
    if seen.hash == anchor.head and seen.position == anchor.count:
        return None
    if seen.position < anchor.count:
        what = "entries were deleted and the chain re-hashed"
    elif seen.position > anchor.count:
        what = "entries were inserted and the chain re-hashed"
    else:
        what = "entries were edited and the chain re-hashed"
    counted = (
        f"it counted {anchor.count} entries up to entry {anchor.last_id}, the log now holds {seen.position}"
        if seen.position != anchor.count
        else f"entry {anchor.last_id} no longer has the hash it signed"
    )
    detail = f"{anchor.label} does not match the log: {counted}: {what}{where}"
    return Problem("rewritten", anchor.seq, detail)


def check_fresh(
    first_unanchored: tuple[int, datetime] | None, last_id: int | None, now: datetime, every: timedelta
) -> Problem | None:
    """Entries older than two anchor intervals that no anchor covers: anchors went missing or stopped.

    `first_unanchored` is (the first entry id after the newest anchor, the oldest time of those entries).
    """
    if first_unanchored is None or last_id is None:
        return None
    first_id, written = first_unanchored
    if now - written <= 2 * every:
        return None
    span = f"entry {first_id} is" if first_id == last_id else f"entries {first_id} to {last_id} are"
    minutes = round(every.total_seconds() / 60)
    return Problem(
        "not anchored",
        None,
        f"{span} not anchored, the oldest written at {when(written)}, though anchors are taken every "
        f"{minutes} min: anchor files were deleted, or nothing is anchoring "
        "(the worker does; or run voucher-exchange audit anchor)",
    )
