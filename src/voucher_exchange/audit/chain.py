"""The audit log's hash chain: pure functions, no database.

Each entry carries `prev_hash` (the hash of the entry before it; `GENESIS` for the
first) and `hash` = SHA-256 over `prev_hash` and the entry's canonical content: the
JSON of actor, action, subject, details and time with sorted keys, no spaces, ASCII
escapes. Editing an entry changes its hash; deleting or reordering entries breaks the
link from one entry to the next. Deleting the newest entries leaves a shorter chain
that is itself valid: the stored chain head catches that. Whoever can write the database
can re-hash the chain and move the head too: the signed anchors outside it (anchors.py)
catch that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    """One stored audit entry, as the chain sees it."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


def canonical(actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime) -> str:
    """The entry's content as the bytes-stable JSON that is hashed."""
    content = {
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
        "time": at.astimezone(UTC).isoformat(timespec="microseconds"),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def link(prev_hash: str, content: str) -> str:
    """SHA-256 (hex) over the previous hash and the canonical content."""
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def entry_hash(entry: Entry) -> str:
    """The hash `entry` must carry given its content and its `prev_hash`."""
    return link(entry.prev_hash, canonical(entry.actor, entry.action, entry.subject, entry.details, entry.at))


class Break(StrEnum):
    """How the chain is broken at an entry."""

    EDITED = "edited"
    """The entry's content (or its hash) was changed after it was written."""
    DELETED = "deleted"
    """The entry before this one is missing."""
    REORDERED = "reordered"
    """This entry points at an entry that comes after it."""
    TRUNCATED = "truncated"
    """The newest entries are missing: the chain ends before the recorded head."""


@dataclass(frozen=True)
class Finding:
    """One break in the chain, at an entry (by id)."""

    entry_id: int | None
    kind: Break
    detail: str


@dataclass(frozen=True)
class Verdict:
    """What walking the chain found; `head` is the hash of the last entry."""

    checked: int
    head: str
    last_id: int | None
    findings: tuple[Finding, ...]

    @property
    def intact(self) -> bool:
        """True when nothing was edited, deleted or reordered."""
        return not self.findings


def verify(entries: Iterable[Entry], recorded: tuple[int | None, str] | None = None) -> Verdict:
    """Walk the entries in id order; every edited, deleted or reordered entry is named.

    `recorded` is the chain head the log recorded with its last append (last id, hash):
    a chain that ends elsewhere lost, or re-hashed, its newest entries.
    """
    findings: list[Finding] = []
    position: dict[str, int] = {}  # hash → id of every entry, to tell reorders from deletions
    links: list[tuple[int, int | None, str, str]] = []  # (id, previous id, its prev_hash, expected)
    expected_prev = GENESIS
    last_id: int | None = None
    for entry in entries:
        if entry_hash(entry) != entry.hash:
            findings.append(
                Finding(entry.id, Break.EDITED, f"entry {entry.id} was changed after it was written")
            )
        links.append((entry.id, last_id, entry.prev_hash, expected_prev))
        position[entry.hash] = entry.id
        expected_prev, last_id = entry.hash, entry.id
    findings += _broken_links(links, position)
    if recorded is not None and recorded[1] != expected_prev:
        findings.append(_head_finding(recorded, last_id))
    return Verdict(len(links), expected_prev, last_id, tuple(findings))


def _broken_links(links: list[tuple[int, int | None, str, str]], position: dict[str, int]) -> list[Finding]:
    found: list[Finding] = []
    moved: set[int] = set()
    for entry_id, previous, prev_hash, expected in links:
        if prev_hash == expected:
            continue
        points_at = position.get(prev_hash)
        if points_at is None:
            found.append(Finding(entry_id, Break.DELETED, _gap(previous, entry_id)))
        elif entry_id not in moved and points_at not in moved:
            moved |= {entry_id, points_at}
            found.append(
                Finding(
                    entry_id,
                    Break.REORDERED,
                    f"entry {entry_id} is out of order: it was written after entry {points_at}",
                )
            )
    return found


def _gap(previous: int | None, entry_id: int) -> str:
    after = f"entry {previous}" if previous is not None else "the start"
    if previous is not None and entry_id - previous > 1:
        missing = (
            f"entry {previous + 1}"
            if entry_id - previous == 2  # exactly one id between them
            else f"entries {previous + 1} to {entry_id - 1}"
        )
        return f"{missing} (between {after} and entry {entry_id}) deleted"
    return (
        f"the chain breaks between {after} and entry {entry_id}: "
        f"an entry was deleted, or {after} was rewritten"
    )


def _head_finding(recorded: tuple[int | None, str], last_id: int | None) -> Finding:
    head_id = recorded[0]
    if head_id is not None and (last_id is None or head_id > last_id):
        first = 1 if last_id is None else last_id + 1
        span = f"entry {head_id}" if first == head_id else f"entries {first} to {head_id}"
        return Finding(head_id, Break.TRUNCATED, f"{span} deleted: the chain ends before the recorded head")
    return Finding(
        last_id, Break.EDITED, f"entry {last_id} was rewritten: it does not match the recorded chain head"
    )
