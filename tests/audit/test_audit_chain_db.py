"""The audit log's hash chain on a real database of each backend: tampering is named, appends never fork.

Tampering is done the way an insider would: SQL straight at the table.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import delete, insert, select, update

from tests.conftest import database_url
from tests.support.cli import invoke_cli
from tests.support.core import Core
from voucher_exchange.audit import service as audit
from voucher_exchange.audit.chain import GENESIS, Break, canonical, link
from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import audit_chain_head, audit_log
from voucher_exchange.db.types import UTCDateTime

pytestmark = pytest.mark.both_backends


def _append(core: Core, n: int, actor: str = "op@example.com") -> list[int]:
    for i in range(n):
        with core.ctx.uow() as uow:
            audit.record(
                uow.conn,
                actor,
                "brand.status",
                f"brand-{i}",
                {"status": "paused", "n": i},
                core.ctx.clock.now(),
            )
            uow.commit()
    with core.ctx.uow(readonly=True) as uow:
        return [int(i) for i in uow.conn.execute(select(audit_log.c.id).order_by(audit_log.c.id)).scalars()]


def _verify(core: Core) -> list[tuple[int | None, Break]]:
    with core.ctx.uow(readonly=True) as uow:
        return [(f.entry_id, f.kind) for f in audit.verify(uow.conn).findings]


def _cli_verify(core: Core, tmp_path: Path) -> tuple[int, str]:
    env = {"VX_VAR_DIR": str(core.ctx.settings.var_dir)}
    done = invoke_cli(tmp_path, "audit", "verify", "--database-url", core.ctx.settings.database_url, env=env)
    return done.returncode, done.stdout + done.stderr


def _tamper(core: Core, statement: object) -> None:
    with core.ctx.engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_an_intact_log_verifies_and_prints_its_head(core: Core, tmp_path: Path) -> None:
    ids = _append(core, 4)
    with core.ctx.uow(readonly=True) as uow:
        head = uow.conn.execute(select(audit_log.c.hash).where(audit_log.c.id == ids[-1])).scalar_one()
        recorded = uow.conn.execute(select(audit_chain_head.c.last_id, audit_chain_head.c.hash)).one()
        first_prev = uow.conn.execute(
            select(audit_log.c.prev_hash).where(audit_log.c.id == ids[0])
        ).scalar_one()

    code, out = _cli_verify(core, tmp_path)

    assert code == 0, out
    assert f"audit verify: {len(ids)} entries intact" in out
    assert f"head {head} (entry {ids[-1]})" in out
    assert (int(recorded.last_id), recorded.hash) == (ids[-1], head)
    assert first_prev == GENESIS
    env = {"VX_VAR_DIR": str(core.ctx.settings.var_dir)}
    heads = invoke_cli(
        tmp_path, "audit", "heads", "--days", "2", "--database-url", core.ctx.settings.database_url, env=env
    )
    assert heads.returncode == 0, heads.stderr
    lines = [line.strip().strip("│") for line in heads.stdout.splitlines() if "│" in line]
    rows = [[cell.strip() for cell in line.split("│")] for line in lines]
    yesterday = (core.ctx.clock.now().date() - timedelta(days=1)).isoformat()
    before = (core.ctx.clock.now().date() - timedelta(days=2)).isoformat()
    # The days come from signed anchors (tests/audit/test_audit_anchors.py); none taken yet.
    assert rows == [
        ["now", "not yet", str(ids[-1]), head],
        [yesterday, "—", "—", "—"],
        [before, "—", "—", "—"],
    ]


def test_an_edited_entry_is_named(core: Core, tmp_path: Path) -> None:
    ids = _append(core, 5)
    edited = ids[2]
    _tamper(core, update(audit_log).where(audit_log.c.id == edited).values(actor="someone-else@example.com"))

    code, out = _cli_verify(core, tmp_path)

    assert _verify(core) == [(edited, Break.EDITED)]
    assert code == 1
    assert f"edited: entry {edited} was changed after it was written" in out
    assert "audit verify: 1 break(s) in the chain" in out


def test_a_deleted_entry_is_named(core: Core, tmp_path: Path) -> None:
    ids = _append(core, 5)
    gone = ids[2]
    _tamper(core, delete(audit_log).where(audit_log.c.id == gone))

    code, out = _cli_verify(core, tmp_path)

    assert _verify(core) == [(ids[3], Break.DELETED)]
    assert code == 1
    assert f"deleted: entry {gone} (between entry {ids[1]} and entry {ids[3]}) deleted" in out


def test_a_reordered_pair_is_named(core: Core) -> None:
    ids = _append(core, 5)
    a, b = ids[1], ids[2]
    columns = ("at", "actor", "action", "subject", "details", "prev_hash", "hash")
    with core.ctx.engine.begin() as conn:
        rows = {r.id: r for r in conn.execute(select(audit_log).where(audit_log.c.id.in_([a, b])))}
        for target, source in ((a, b), (b, a)):
            values = {c: getattr(rows[source], c) for c in columns}
            conn.execute(update(audit_log).where(audit_log.c.id == target).values(**values))

    with core.ctx.uow(readonly=True) as uow:
        findings = audit.verify(uow.conn).findings

    assert [(f.entry_id, f.kind, f.detail) for f in findings] == [
        (a, Break.REORDERED, f"entry {a} is out of order: it was written after entry {b}")
    ]


def test_deleting_the_newest_entry_is_caught_by_the_head(core: Core) -> None:
    ids = _append(core, 3)
    _tamper(core, delete(audit_log).where(audit_log.c.id == ids[-1]))

    assert _verify(core) == [(ids[-1], Break.TRUNCATED)]


def test_concurrent_appends_keep_one_chain(core: Core) -> None:
    writers, each = 6, 8
    before = len(_append(core, 1))
    start = threading.Barrier(writers)
    failures: list[BaseException] = []

    def write(w: int) -> None:
        try:
            start.wait()
            for i in range(each):
                with core.ctx.uow() as uow:
                    now = core.ctx.clock.now()
                    audit.record(uow.conn, f"writer-{w}", "staff.roles", f"user-{i}", {"roles": [w, i]}, now)
                    uow.commit()
        except BaseException as exc:  # reported below, with the thread's failure
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    with core.ctx.uow(readonly=True) as uow:
        verdict = audit.verify(uow.conn)
        hashes = list(uow.conn.execute(select(audit_log.c.prev_hash)).scalars())
    assert verdict.findings == () and verdict.checked == before + writers * each
    assert len(set(hashes)) == len(hashes)  # no two entries claim the same predecessor: no fork


# audit_log as it was before migration 0010: no hash columns.
LEGACY = sa.table(
    "audit_log",
    sa.column("at", UTCDateTime()),
    sa.column("actor", sa.String()),
    sa.column("action", sa.String()),
    sa.column("subject", sa.String()),
    sa.column("details", sa.JSON()),
)
OLD_ENTRIES = [
    ("op@example.com", "brand.status", "cultureland", {"status": "paused"}),
    ("op@example.com", "voucher.reveal", "t-1", {"last4": "1234"}),
    ("rev@example.com", "review.approve", "t-2", {"note": "확인함"}),
]


def test_the_migration_chains_existing_entries(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(database_url(request, backend, tmp_path, "vx_chain_backfill"))
    config = migrate._config()  # stop at the revision before the chain
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
        for i, (actor, action, subject, details) in enumerate(OLD_ENTRIES):
            at = datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC) + timedelta(minutes=i)
            conn.execute(
                insert(LEGACY).values(at=at, actor=actor, action=action, subject=subject, details=details)
            )

    migrate.upgrade(engine)

    with engine.connect() as conn:
        verdict = audit.verify(conn)
        recorded = conn.execute(select(audit_chain_head.c.last_id, audit_chain_head.c.hash)).one()
        first = conn.execute(select(audit_log).order_by(audit_log.c.id).limit(1)).one()
    engine.dispose()
    assert verdict.intact and verdict.checked == 3
    assert (int(recorded.last_id), recorded.hash) == (verdict.last_id, verdict.head)
    content = canonical("op@example.com", "brand.status", "cultureland", {"status": "paused"}, first.at)
    assert (first.prev_hash, first.hash) == (GENESIS, link(GENESIS, content))


def test_staff_actions_at_the_console_are_chained_too(core: Core, tmp_path: Path) -> None:
    env = {"VX_VAR_DIR": str(core.ctx.settings.var_dir)}
    url = core.ctx.settings.database_url

    made = invoke_cli(
        tmp_path, "users", "create", "--email", "new-reviewer@example.com", "--password", "long-enough-pass",
        "--role", "reviewer", "--database-url", url, env=env,
    )  # fmt: skip

    assert made.returncode == 0, made.stderr
    with core.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(select(audit_log.c.actor, audit_log.c.action, audit_log.c.details)).all()
    assert [(r.actor, r.action, r.details) for r in rows][-1] == (
        "cli",
        "staff.add",
        {"before": {"roles": []}, "after": {"roles": ["reviewer"]}, "role": "reviewer"},
    )
    assert _verify(core) == []


ESCAPED = '{"close_reason": "legitimate", "note": "\\uc601\\uc218\\uc99d \\ud655\\uc778"}'


def test_changes_record_before_and_after_korean_is_stored_as_written_and_old_rows_still_verify(
    core: Core,
) -> None:
    # An entry written before this change: JSON stored with \uXXXX escapes, no before/after.
    now = core.ctx.clock.now()
    old = {"close_reason": "legitimate", "note": "영수증 확인"}
    with core.ctx.engine.begin() as conn:
        prev = audit.current_head(conn)[1]
        old_hash = link(prev, canonical("rev@example.com", "review.approve", "t-1", old, now))
        conn.execute(
            sa.text(
                "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, hash) "
                "VALUES (:at, 'rev@example.com', 'review.approve', 't-1', :details, :prev, :hash)"
            ).bindparams(sa.bindparam("at", type_=UTCDateTime())),
            {"at": now, "details": ESCAPED, "prev": prev, "hash": old_hash},
        )
        last = conn.execute(select(sa.func.max(audit_log.c.id))).scalar_one()
        if conn.execute(select(audit_chain_head.c.id)).first() is None:
            conn.execute(insert(audit_chain_head).values(id=1, last_id=last, hash=old_hash))
        else:
            conn.execute(update(audit_chain_head).values(last_id=last, hash=old_hash))
    with core.ctx.uow() as uow:
        before, after = {"status": "active"}, {"status": "suspended"}
        audit.record_change(
            uow.conn, "op@example.com", "brand.status", "lotte", before, after, now, note="발행사 지급 불능"
        )
        uow.commit()

    assert _verify(core) == []
    with core.ctx.uow(readonly=True) as uow:
        rows = list(uow.conn.execute(select(audit_log.c.details).order_by(audit_log.c.id)).scalars())[-2:]
        stored = uow.conn.execute(
            sa.text("SELECT CAST(details AS TEXT) FROM audit_log ORDER BY id DESC LIMIT 1")
        ).scalar_one()
    assert rows == [
        old,
        {"before": {"status": "active"}, "after": {"status": "suspended"}, "note": "발행사 지급 불능"},
    ]
    assert "발행사 지급 불능" in stored and "\\u" not in stored
    # The values before and after are part of the hashed content: changing one is named.
    forged = {"before": {"status": "paused"}, "after": {"status": "suspended"}, "note": "발행사 지급 불능"}
    _tamper(core, update(audit_log).where(audit_log.c.action == "brand.status").values(details=forged))
    assert [kind for _, kind in _verify(core)] == [Break.EDITED]
