"""The anchor rules without a database: documents, signatures, the sequence, the chain against the anchors.

And the contract every AnchorStore implementation keeps (today the directory of files).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voucher_exchange.audit.anchor_files import AnchorDirectory, load_signing_key
from voucher_exchange.audit.anchors import (
    Anchor,
    BadAnchor,
    Problem,
    Seen,
    check_chain,
    check_fresh,
    check_sequence,
    key_id_for,
    parse,
    sign,
)
from voucher_exchange.ports.anchors import AnchorStore, AnchorTaken

KEY = Ed25519PrivateKey.generate()
KEY_ID = key_id_for(KEY.public_key())
TRUSTED = {KEY_ID: KEY.public_key()}
AT = datetime(2026, 12, 7, 5, 0, 0, 123456, tzinfo=UTC)


def _anchor(seq: int, last_id: int, count: int, head: str = "a" * 64) -> Anchor:
    return Anchor(seq, last_id, head, count, AT + timedelta(minutes=15 * seq), KEY_ID)


def test_a_signed_anchor_reads_back_exactly() -> None:
    anchor = _anchor(1, 7, 7)
    assert parse(sign(anchor, KEY), 1, TRUSTED) == anchor
    assert anchor.label == "anchor 1 (2026-12-07T05:15:00Z)"


@pytest.mark.parametrize(
    ("document", "seq", "problem"),
    [
        (b"{not json", 1, "is not an anchor document"),
        (b'{"anchor": {"seq": 1}}', 1, "is not an anchor document"),
        (sign(_anchor(1, 7, 7), KEY), 3, "says it is anchor 1: anchors were renamed or copied"),
        (
            sign(_anchor(1, 7, 7), KEY).replace(b'"count": 7', b'"count": 6'),
            1,
            f"does not match its signature (key {KEY_ID}): it was edited",
        ),
    ],
    # The key is made per run: ids that do not name it keep collection the same on every xdist worker.
    ids=["not-json", "not-an-anchor", "renamed", "edited"],
)
def test_a_document_that_is_not_a_valid_anchor_is_refused(document: bytes, seq: int, problem: str) -> None:
    with pytest.raises(BadAnchor) as refused:
        parse(document, seq, TRUSTED)
    assert str(refused.value) == problem


def test_an_anchor_signed_by_an_untrusted_key_is_refused_even_if_it_claims_a_trusted_id() -> None:
    stranger = Ed25519PrivateKey.generate()
    honest = _anchor(1, 7, 7)
    claimed = json.loads(sign(Anchor(1, 7, "b" * 64, 7, AT, key_id_for(stranger.public_key())), stranger))
    claimed["anchor"]["key_id"] = KEY_ID  # the stranger's signature under the trusted key's name
    with pytest.raises(BadAnchor, match="does not match its signature"):
        parse(json.dumps(claimed).encode(), 1, TRUSTED)
    with pytest.raises(ValueError, match="another key"):
        sign(honest, stranger)


def test_the_sequence_must_be_whole_and_never_go_back() -> None:
    one, two = _anchor(1, 5, 5), _anchor(2, 4, 4)
    assert check_sequence([one, two], [1, 2, 4]) == [
        Problem("missing anchor", 3, "anchor 3 is not in the anchor store"),
        Problem(
            "anchors disagree",
            2,
            f"{two.label} covers 4 entries up to entry 4, fewer than {one.label} (5 up to entry 5)",
        ),
    ]
    assert check_sequence([], []) == []


def test_the_first_broken_anchor_is_named_with_what_changed() -> None:
    one, two = _anchor(1, 3, 3, "1" * 64), _anchor(2, 6, 6, "2" * 64)
    intact = {3: Seen(3, "1" * 64), 6: Seen(6, "2" * 64)}
    assert check_chain([one, two], intact, 8) is None
    inserted = check_chain([one, two], {3: Seen(3, "1" * 64), 6: Seen(7, "9" * 64)}, 8)
    assert inserted == Problem(
        "rewritten",
        2,
        f"{two.label} does not match the log: it counted 6 entries up to entry 6, the log now holds 7: "
        f"entries were inserted and the chain re-hashed; {one.label} still holds, so the change lies in "
        "entries 4 to 6",
    )
    gone = check_chain([one, two], {3: Seen(3, "1" * 64)}, 8)
    assert gone == Problem(
        "deleted",
        2,
        f"entry 6, the head {two.label} signed, is missing; {one.label} still holds, so the change lies in "
        "entries 4 to 6",
    )
    assert check_chain([one], {}, None) == Problem(
        "truncated", 1, f"{one.label} covers 3 entries up to entry 3, but the log is empty"
    )


def test_entries_unanchored_for_two_intervals_are_named() -> None:
    every = timedelta(minutes=15)
    now = AT + timedelta(hours=1)
    assert check_fresh((4, now - timedelta(minutes=30)), 9, now, every) is None
    assert check_fresh(None, 9, now, every) is None
    late = check_fresh((4, now - timedelta(minutes=31)), 4, now, every)
    assert late is not None
    assert late.detail.startswith("entry 4 is not anchored, the oldest written at 2026-12-07T05:29:00Z")


STORES: list[Callable[[Path], AnchorStore]] = [lambda tmp: AnchorDirectory(tmp / "anchors")]


@pytest.mark.parametrize("make_store", STORES, ids=["directory"])
def test_every_anchor_store_appends_once_per_number_and_lists_in_order(
    make_store: Callable[[Path], AnchorStore], tmp_path: Path
) -> None:
    store = make_store(tmp_path)
    assert list(store.list()) == []
    store.append(2, b"second")
    store.append(1, b"first")
    with pytest.raises(AnchorTaken):
        store.append(2, b"rewritten")
    assert [(s.seq, store.read(s.name)) for s in store.list()] == [(1, b"first"), (2, b"second")]


def test_the_directory_store_keeps_owner_only_files_and_numbers_stray_names_zero(tmp_path: Path) -> None:
    store = AnchorDirectory(tmp_path / "anchors")
    assert store.append(1, b"first") == "anchor-00000001.json"
    (tmp_path / "anchors" / "anchor-copy.json").write_bytes(b"stray")
    assert [(s.name, s.seq) for s in store.list()] == [("anchor-copy.json", 0), ("anchor-00000001.json", 1)]
    assert [p.name for p in (tmp_path / "anchors").iterdir() if p.name.endswith(".tmp")] == []
    with pytest.raises(ValueError, match="not an anchor's name"):
        store.read("sub/audit-anchor.key")
    assert (tmp_path / "anchors").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "anchors" / "anchor-00000001.json").stat().st_mode & 0o777 == 0o600


def test_the_signing_key_is_made_once_owner_only_and_refused_when_exposed(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-anchor.key"
    assert load_signing_key(path, create=False) is None
    made = load_signing_key(path, create=True)
    again = load_signing_key(path, create=True)
    assert made is not None and again is not None
    assert key_id_for(made.public_key()) == key_id_for(again.public_key())
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(Exception, match="readable by other users"):
        load_signing_key(path, create=False)
