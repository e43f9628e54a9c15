"""Signed anchors of the audit chain catch what the chain alone cannot: a rewrite by whoever can write the DB.

Each tampering is done with database access only (SQL straight at the tables, the chain
re-hashed with the published algorithm and the recorded head moved), on a real SQLite file;
before anchors, `audit verify` called every one of these logs intact. Anchors are taken and
the log verified the way an operator does, with the CLI.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, delete, select, update

from tests.support.cli import invoke_cli
from tests.support.core import Core
from voucher_exchange.audit import anchoring
from voucher_exchange.audit import service as audit
from voucher_exchange.audit.anchors import Anchor, b64url, key_id_for, sign
from voucher_exchange.audit.chain import GENESIS, canonical, link
from voucher_exchange.db.schema import audit_chain_head, audit_log
from voucher_exchange.worker.runner import HANDLERS


def _append(core: Core, n: int) -> list[int]:
    """`n` more entries; every entry id of the log, oldest first."""
    for i in range(n):
        with core.ctx.uow() as uow:
            audit.record(
                uow.conn, "op@example.com", "brand.status", f"brand-{i}", {"n": i}, core.ctx.clock.now()
            )
            uow.commit()
    with core.ctx.uow(readonly=True) as uow:
        return [int(i) for i in uow.conn.execute(select(audit_log.c.id).order_by(audit_log.c.id)).scalars()]


def _cli(core: Core, tmp_path: Path, *args: str, **env: str) -> tuple[int, list[str]]:
    done = invoke_cli(
        tmp_path,
        "audit",
        *args,
        "--database-url",
        core.ctx.settings.database_url,
        env={"VX_VAR_DIR": str(core.ctx.settings.var_dir), **env},
    )
    # On success stderr holds nothing of the command's (tests/support/cli.py puts the runner's exit there).
    text = done.stdout if done.returncode == 0 else done.stdout + done.stderr
    return done.returncode, [line.rstrip() for line in text.splitlines()]


def _anchor(core: Core, tmp_path: Path) -> Anchor:
    code, out = _cli(core, tmp_path, "anchor")
    assert code == 0, out
    anchors = _anchors(core)
    newest = anchors[-1]
    assert out == [
        f"audit anchor: {newest.label} signed entry {newest.last_id} ({newest.count} entries), "
        f"head {newest.head}",
        f"wrote {core.ctx.settings.audit_anchor_path}/anchor-{newest.seq:08d}.json",
    ]
    return newest


def _anchors(core: Core) -> list[Anchor]:
    listed = anchoring.list_anchors(core.ctx.anchors, anchoring.trusted_keys(core.ctx.settings))
    return [x.anchor for x in listed if x.anchor is not None]


def _rechain(conn: Connection) -> None:
    """Re-hash every entry from the first and move the recorded head: what an insider does after an edit."""
    prev = GENESIS
    for row in conn.execute(select(audit_log).order_by(audit_log.c.id)).all():
        digest = link(prev, canonical(row.actor, row.action, row.subject, row.details, row.at))
        conn.execute(update(audit_log).where(audit_log.c.id == row.id).values(prev_hash=prev, hash=digest))
        prev, last = digest, row.id
    conn.execute(update(audit_chain_head).values(last_id=last, hash=prev))


def _head(core: Core) -> str:
    with core.ctx.uow(readonly=True) as uow:
        return audit.current_head(uow.conn)[1]


def _chain_alone_says_intact(core: Core) -> None:
    with core.ctx.uow(readonly=True) as uow:
        assert audit.verify(uow.conn).findings == ()


@pytest.fixture
def anchored(core: Core, tmp_path: Path) -> tuple[list[int], Anchor, Anchor]:
    """A log anchored twice (after the 3rd and the 5th entry) and one entry more, not yet anchored."""
    _append(core, 3)
    first = _anchor(core, tmp_path)
    _append(core, 2)
    second = _anchor(core, tmp_path)
    ids = _append(core, 1)
    assert (first.last_id, first.count, second.last_id, second.count) == (ids[2], 3, ids[4], 5)
    return ids, first, second


def test_an_intact_anchored_log_verifies_and_the_anchors_are_listed(
    core: Core, tmp_path: Path, anchored: tuple[list[int], Anchor, Anchor]
) -> None:
    ids, first, second = anchored
    code, out = _cli(core, tmp_path, "verify")

    assert code == 0, out
    assert out[-5:] == [
        f"audit verify: {len(ids)} entries intact",
        f"head {_head(core)} (entry {ids[-1]})",
        f"anchors: intact up to {second.label}, entry {ids[4]}",
        f"not yet anchored: entry {ids[5]}",
        "trade histories: 0 events of 0 trades intact",
    ]

    code, out = _cli(core, tmp_path, "anchors")
    key = anchoring.trusted_keys(core.ctx.settings)[first.key_id]
    assert code == 0, out
    assert out[:3] == [
        f"anchor store: {core.ctx.settings.audit_anchor_path}",
        f"signing key: {first.key_id} (public key {b64url(key.public_bytes_raw())})",
        f"trusted keys: {first.key_id}",
    ]
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in out if line.startswith("│")]
    assert rows == [
        [
            str(a.seq),
            a.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            str(a.last_id),
            str(a.count),
            a.head,
            a.key_id,
            "ok",
        ]
        for a in (first, second)
    ]
    assert out[-1] == "audit anchors: 2 anchor(s), all signed by a trusted key"

    # Nothing new: no new anchor. One entry more: anchor 3 covers it, and verify says so.
    _anchor(core, tmp_path)
    code, out = _cli(core, tmp_path, "anchor")
    assert (code, out) == (
        0,
        [f"audit anchor: nothing new since {_anchors(core)[-1].label}, entry {ids[-1]}"],
    )
    assert _cli(core, tmp_path, "verify")[1][-3:-1] == [
        f"anchors: intact up to {_anchors(core)[-1].label}, entry {ids[-1]}",
        "not yet anchored: nothing",
    ]


def test_anchor_files_and_the_signing_key_are_owner_only(
    core: Core, anchored: tuple[list[int], Anchor, Anchor]
) -> None:
    directory = core.ctx.settings.audit_anchor_path
    assert directory.stat().st_mode & 0o777 == 0o700
    assert sorted(p.name for p in directory.iterdir()) == ["anchor-00000001.json", "anchor-00000002.json"]
    assert {p.stat().st_mode & 0o777 for p in directory.iterdir()} == {0o600}
    assert core.ctx.settings.audit_anchor_key_path.stat().st_mode & 0o777 == 0o600


def test_deleting_anchored_entries_and_moving_the_head_is_caught(
    core: Core, tmp_path: Path, anchored: tuple[list[int], Anchor, Anchor]
) -> None:
    ids, _, second = anchored
    with core.ctx.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id >= ids[4]))
        new_head = conn.execute(select(audit_log.c.hash).where(audit_log.c.id == ids[3])).scalar_one()
        conn.execute(update(audit_chain_head).values(last_id=ids[3], hash=new_head))
    _chain_alone_says_intact(core)

    code, out = _cli(core, tmp_path, "verify")

    assert code == 1
    assert out[-2:] == [
        f"truncated: {second.label} covers 5 entries up to entry {ids[4]}, "
        f"but the log ends at entry {ids[3]}",
        "audit verify: 1 break(s) in the chains",
    ]


def test_an_edited_entry_re_chained_after_it_is_caught_and_placed_between_two_anchors(
    core: Core, tmp_path: Path, anchored: tuple[list[int], Anchor, Anchor]
) -> None:
    ids, first, second = anchored
    with core.ctx.engine.begin() as conn:
        conn.execute(
            update(audit_log).where(audit_log.c.id == ids[3]).values(actor="someone-else@example.com")
        )
        _rechain(conn)
    _chain_alone_says_intact(core)

    code, out = _cli(core, tmp_path, "verify")

    assert code == 1
    assert out[-2:] == [
        f"rewritten: {second.label} does not match the log: entry {ids[4]} no longer has the hash it signed: "
        f"entries were edited and the chain re-hashed; {first.label} still holds, so the change lies in "
        f"entries {ids[3]} to {ids[4]}",
        "audit verify: 1 break(s) in the chains",
    ]
    # The worker's next anchor would vouch for the rewrite: it refuses, and writes nothing.
    code, out = _cli(core, tmp_path, "anchor")
    assert code == 1
    assert out[-1] == "audit anchor: refused: the log or its anchors are broken"
    HANDLERS[anchoring.ANCHOR_AUDIT].run(core.ctx, "default")  # logged as an error, not raised
    assert [a.seq for a in _anchors(core)] == [1, 2]


def test_a_middle_entry_removed_and_the_chain_re_hashed_is_caught(
    core: Core, tmp_path: Path, anchored: tuple[list[int], Anchor, Anchor]
) -> None:
    ids, first, _ = anchored
    with core.ctx.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id == ids[1]))
        _rechain(conn)
    _chain_alone_says_intact(core)

    code, out = _cli(core, tmp_path, "verify")

    assert code == 1
    assert out[-2:] == [
        f"rewritten: {first.label} does not match the log: it counted 3 entries up to entry {ids[2]}, "
        "the log now holds 2: entries were deleted and the chain re-hashed",
        "audit verify: 1 break(s) in the chains",
    ]


def test_an_edited_anchor_file_or_one_signed_with_another_key_fails(
    core: Core, tmp_path: Path, anchored: tuple[list[int], Anchor, Anchor]
) -> None:
    ids, first, second = anchored
    directory = core.ctx.settings.audit_anchor_path
    # An insider who also reaches the anchor store "fixes" anchor 2 to match a rewritten log...
    edited = directory / "anchor-00000002.json"
    document = json.loads(edited.read_text())
    document["anchor"]["head"] = "f" * 64
    edited.write_text(json.dumps(document))
    # ...and signs an anchor 3 with a key of their own.
    stranger = Ed25519PrivateKey.generate()
    forged = Anchor(3, ids[-1], "e" * 64, len(ids), second.at, key_id_for(stranger.public_key()))
    (directory / "anchor-00000003.json").write_bytes(sign(forged, stranger))

    code, out = _cli(core, tmp_path, "verify")

    assert code == 1
    assert out[-3:] == [
        f"bad anchor: anchor-00000002.json does not match its signature (key {first.key_id}): it was edited",
        f"bad anchor: anchor-00000003.json is signed by key {forged.key_id}, "
        "which this verifier does not trust",
        "audit verify: 2 break(s) in the chains",
    ]
    code, out = _cli(core, tmp_path, "anchors")
    assert code == 1
    assert out[-1] == "audit anchors: 2 of 3 fail their check"

    # A verifier that pins only the stranger's key trusts none of the real anchors either.
    pinned = b64url(stranger.public_key().public_bytes_raw())
    code, out = _cli(core, tmp_path, "verify", VX_AUDIT_ANCHOR_PUBLIC_KEYS=pinned)
    assert code == 1
    assert (
        f"bad anchor: anchor-00000001.json is signed by key {first.key_id}, "
        "which this verifier does not trust" in out
    )


def test_a_missing_anchor_file_is_named(
    core: Core, tmp_path: Path, anchored: tuple[list[int], Anchor, Anchor]
) -> None:
    (core.ctx.settings.audit_anchor_path / "anchor-00000001.json").unlink()

    code, out = _cli(core, tmp_path, "verify")

    assert code == 1
    assert out[-2:] == [
        "missing anchor: anchor 1 is not in the anchor store",
        "audit verify: 1 break(s) in the chains",
    ]


def test_old_entries_with_no_anchor_fail_so_deleting_the_anchor_directory_is_caught(
    core: Core, tmp_path: Path
) -> None:
    core.ctx.clock.offset = -timedelta(hours=1)  # type: ignore[attr-defined]
    ids = _append(core, 2)
    core.ctx.clock.offset = timedelta(0)  # type: ignore[attr-defined]
    with core.ctx.uow(readonly=True) as uow:
        oldest = uow.conn.execute(select(audit_log.c.at).where(audit_log.c.id == ids[0])).scalar_one()
    _anchor(core, tmp_path)
    assert _cli(core, tmp_path, "verify")[0] == 0
    shutil.rmtree(core.ctx.settings.audit_anchor_path)

    code, out = _cli(core, tmp_path, "verify")

    assert code == 1
    assert out[-2:] == [
        f"not anchored: entries {ids[0]} to {ids[-1]} are not anchored, the oldest written at "
        f"{oldest.strftime('%Y-%m-%dT%H:%M:%SZ')}, though anchors are taken every 15 min: anchor files were "
        "deleted, or nothing is anchoring (the worker does; or run voucher-exchange audit anchor)",
        "audit verify: 1 break(s) in the chains",
    ]


def test_the_worker_anchors_on_its_own_and_the_published_heads_come_from_anchors(
    core: Core, tmp_path: Path
) -> None:
    assert HANDLERS[anchoring.ANCHOR_AUDIT].every == "audit_anchor_seconds"
    ids = _append(core, 2)
    core.ctx.clock.offset = -timedelta(days=1)  # type: ignore[attr-defined]
    HANDLERS[anchoring.ANCHOR_AUDIT].run(core.ctx, "default")
    core.ctx.clock.offset = timedelta(0)  # type: ignore[attr-defined]
    [yesterdays] = _anchors(core)
    assert (yesterdays.seq, yesterdays.last_id, yesterdays.count) == (1, ids[-1], len(ids))
    # An insider rewrites the log and its head; the published head of yesterday does not move.
    with core.ctx.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == ids[0]).values(subject="nothing-to-see"))
        _rechain(conn)
        new_head = conn.execute(select(audit_chain_head.c.hash)).scalar_one()

    code, out = _cli(core, tmp_path, "heads", "--days", "2")

    assert code == 0, out
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in out if line.startswith("│")]
    today = core.ctx.clock.now().date()
    assert rows == [
        ["now", f"≠ {yesterdays.seq}", str(ids[-1]), new_head],
        [(today - timedelta(days=1)).isoformat(), "1", str(ids[-1]), yesterdays.head],
        [(today - timedelta(days=2)).isoformat(), "—", "—", "—"],
    ]
    assert yesterdays.head != new_head
