"""The audit log's hash chain, as pure functions: what verification names for each kind of tampering."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from voucher_exchange.audit.chain import GENESIS, Break, Entry, canonical, entry_hash, link, verify

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def chain_of(n: int) -> list[Entry]:
    entries, prev = [], GENESIS
    for i in range(1, n + 1):
        draft = Entry(
            i, T0 + timedelta(minutes=i), "op@x", "brand.status", f"b{i}", {"status": "paused"}, prev, ""
        )
        entry = replace(draft, hash=entry_hash(draft))
        entries.append(entry)
        prev = entry.hash
    return entries


def found(
    entries: list[Entry], recorded: tuple[int | None, str] | None = None
) -> list[tuple[int | None, str]]:
    return [(f.entry_id, f.kind.value) for f in verify(entries, recorded).findings]


def test_the_hash_is_sha256_over_the_previous_hash_and_sorted_key_json() -> None:
    content = canonical("op@x", "voucher.reveal", "t-1", {"last4": "1234", "a": 1}, T0)

    assert content == (
        '{"action":"voucher.reveal","actor":"op@x","details":{"a":1,"last4":"1234"},'
        '"subject":"t-1","time":"2026-11-27T09:00:00.000000+00:00"}'
    )
    assert link(GENESIS, content) == hashlib.sha256(f"{GENESIS}\n{content}".encode()).hexdigest()


def test_an_intact_chain_verifies_and_gives_its_head() -> None:
    entries = chain_of(4)

    verdict = verify(entries, (4, entries[-1].hash))

    assert verdict.intact and verdict.checked == 4
    assert (verdict.head, verdict.last_id) == (entries[-1].hash, 4)
    assert verify([]).head == GENESIS


def test_an_edited_entry_is_named() -> None:
    entries = chain_of(5)
    entries[2] = replace(entries[2], details={"status": "active"})

    assert found(entries) == [(3, "edited")]


def test_an_edit_that_recomputes_the_hash_breaks_the_next_link() -> None:
    entries = chain_of(5)
    entries[2] = replace(entries[2], actor="someone@else")
    entries[2] = replace(entries[2], hash=entry_hash(entries[2]))

    verdict = verify(entries)

    assert [(f.entry_id, f.kind) for f in verdict.findings] == [(4, Break.DELETED)]
    assert verdict.findings[0].detail == (
        "the chain breaks between entry 3 and entry 4: an entry was deleted, or entry 3 was rewritten"
    )


def test_a_deleted_entry_is_named_by_its_id() -> None:
    entries = chain_of(5)
    del entries[2]

    verdict = verify(entries)

    assert [(f.entry_id, f.kind, f.detail) for f in verdict.findings] == [
        (4, Break.DELETED, "entry 3 (between entry 2 and entry 4) deleted")
    ]


def test_a_reordered_pair_is_named() -> None:
    entries = chain_of(5)
    second, third = entries[1], entries[2]
    # Swap the two rows' contents (and hashes) under their ids, as an UPDATE would.
    entries[1] = replace(third, id=2)
    entries[2] = replace(second, id=3)

    verdict = verify(entries)

    assert [(f.entry_id, f.kind, f.detail) for f in verdict.findings] == [
        (2, Break.REORDERED, "entry 2 is out of order: it was written after entry 3")
    ]


def test_deleting_the_newest_entries_is_caught_by_the_recorded_head() -> None:
    entries = chain_of(5)

    assert found(entries[:3], (5, entries[-1].hash)) == [(5, "truncated")]
    assert verify(entries[:3], (5, entries[-1].hash)).findings[0].detail == (
        "entries 4 to 5 deleted: the chain ends before the recorded head"
    )
    assert found(entries[:3]) == []  # without the head, a shorter chain is a valid chain


def test_rewriting_the_newest_entry_is_caught_by_the_recorded_head() -> None:
    entries = chain_of(3)
    entries[2] = replace(entries[2], subject="other")
    entries[2] = replace(entries[2], hash=entry_hash(entries[2]))

    assert found(entries, (3, chain_of(3)[-1].hash)) == [(3, "edited")]
