"""Audit anchoring use cases: sign the chain's head into the anchor store; check the log against it.

The database alone cannot prove its own history: whoever can write it can rewrite the chain
and the recorded head together. An anchor is signed with a key the database does not hold
and written where the database is not (ctx.anchors), so `verify` catches a log cut back past
an anchor, or edited, or with an entry removed and re-chained, below the newest anchor.
Entries written after the newest anchor are covered only by the chain and the recorded head.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection

from voucher_exchange import logs
from voucher_exchange.audit import chain
from voucher_exchange.audit import repository as audit_repo
from voucher_exchange.audit.anchor_files import load_signing_key
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
    public_key_from,
    sign,
)
from voucher_exchange.config import Settings
from voucher_exchange.context import Context
from voucher_exchange.ports.anchors import AnchorStore, AnchorTaken, StoredAnchor

ANCHOR_AUDIT = "audit.anchor"
_APPEND_TRIES = 3
log = logs.get(__name__)


class AnchorRefused(Exception):
    """The log or its anchors are broken: signing the head now would vouch for a tampered log."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Listed:
    """One stored anchor: the anchor when it is valid, otherwise what is wrong with it."""

    stored: StoredAnchor
    anchor: Anchor | None
    problem: str | None


@dataclass(frozen=True)
class Report:
    """The chain's verdict, what the anchors prove wrong, and how far the anchors reach."""

    verdict: chain.Verdict
    anchors: tuple[Anchor, ...]
    problems: tuple[Problem, ...]

    @property
    def intact(self) -> bool:
        """True when neither the chain nor any anchor found a break."""
        return self.verdict.intact and not self.problems

    @property
    def newest(self) -> Anchor | None:
        """The newest valid anchor (all of them hold when the report is intact)."""
        return self.anchors[-1] if self.anchors else None

    @property
    def unanchored(self) -> tuple[int, int] | None:
        """(first id after the newest anchor, last id), or None when the newest entry is anchored."""
        last_id = self.verdict.last_id
        newest = self.newest
        if last_id is None or (newest is not None and newest.last_id >= last_id):
            return None
        return (newest.last_id + 1 if newest is not None else 1), last_id


@dataclass(frozen=True)
class Taken:
    """What `take` did: the anchor that now covers the head (None for an empty log), and whether it is new."""

    anchor: Anchor | None
    new: bool
    where: str


def trusted_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """The keys anchors must be signed with: the pinned public keys, else this host's signing key."""
    if settings.audit_anchor_public_keys:
        keys = [public_key_from(text) for text in settings.audit_anchor_public_keys]
    else:
        local = load_signing_key(settings.audit_anchor_key_path, create=False)
        keys = [] if local is None else [local.public_key()]
    return {key_id_for(key): key for key in keys}


def _check(store: AnchorStore, stored: StoredAnchor, trusted: dict[str, Ed25519PublicKey]) -> Listed:
    try:
        return Listed(stored, parse(store.read(stored.name), stored.seq, trusted), None)
    except BadAnchor as exc:
        return Listed(stored, None, str(exc))
    except OSError as exc:
        return Listed(stored, None, f"cannot be read ({type(exc).__name__})")


def list_anchors(store: AnchorStore, trusted: dict[str, Ed25519PublicKey]) -> list[Listed]:
    """Every stored anchor by number, each checked against its signature and the trusted keys."""
    return [_check(store, stored, trusted) for stored in store.list()]


def _file_problems(listed: list[Listed]) -> list[Problem]:
    bad = [Problem("bad anchor", x.stored.seq, f"{x.stored.name} {x.problem}") for x in listed if x.problem]
    valid = [x.anchor for x in listed if x.anchor is not None]
    return bad + check_sequence(valid, [x.stored.seq for x in listed])


@dataclass
class _Walk:
    """What walking the log saw besides the chain's verdict."""

    seen: dict[int, Seen]
    # The first entry after the newest anchor, and the oldest time of any entry after it.
    first_unanchored: tuple[int, datetime] | None = None


def _walk(
    conn: Connection,
    anchors: list[Anchor],
    upto: int | None,
    recorded: tuple[int | None, str] | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[chain.Verdict, _Walk]:
    wanted = {a.last_id for a in anchors}
    boundary = anchors[-1].last_id if anchors else 0
    walk = _Walk({})

    def observed() -> Iterator[chain.Entry]:
        for n, entry in enumerate(audit_repo.entries(conn, upto), start=1):
            if entry.id in wanted:
                walk.seen[entry.id] = Seen(n, entry.hash)
            if entry.id > boundary:
                first = walk.first_unanchored
                walk.first_unanchored = (
                    (entry.id, entry.at) if first is None else (first[0], min(first[1], entry.at))
                )
            if progress is not None and n % 500 == 0:
                progress(n)
            yield entry

    return chain.verify(observed(), recorded), walk


def verify(ctx: Context, progress: Callable[[int, int], None] | None = None) -> Report:
    """Walk the whole chain (read-only) and check it against every anchor; `progress(done, total)`."""
    listed = list_anchors(ctx.anchors, trusted_keys(ctx.settings))
    anchors = [x.anchor for x in listed if x.anchor is not None]
    problems = _file_problems(listed)
    with ctx.uow(readonly=True) as uow:
        total = audit_repo.count(uow.conn)
        verdict, walk = _walk(
            uow.conn,
            anchors,
            None,
            audit_repo.recorded_head(uow.conn),
            None if progress is None else lambda done: progress(done, total),
        )
    broken = check_chain(anchors, walk.seen, verdict.last_id)
    every = timedelta(seconds=ctx.settings.audit_anchor_seconds)
    stale = check_fresh(walk.first_unanchored, verdict.last_id, ctx.clock.now(), every)
    problems += [p for p in (broken, stale) if p is not None]
    return Report(verdict, tuple(anchors), tuple(problems))


def take(ctx: Context) -> Taken:
    """Sign the chain's current head into the anchor store, after checking the log against the anchors.

    Nothing new since the newest anchor: nothing is written. AnchorRefused when the chain or
    an anchor is broken (or the signing key is not one the verifier trusts): then an anchor
    would vouch for a tampered log.
    """
    settings = ctx.settings
    key = load_signing_key(settings.audit_anchor_key_path, create=True)
    assert key is not None  # made when missing
    key_id = key_id_for(key.public_key())
    trusted = trusted_keys(settings)
    if key_id not in trusted:
        raise AnchorRefused(
            [
                f"the signing key {key_id} ({settings.audit_anchor_key_path}) is not among "
                "VX_AUDIT_ANCHOR_PUBLIC_KEYS: the anchors it signs would not verify"
            ]
        )
    for _ in range(_APPEND_TRIES):
        listed = list_anchors(ctx.anchors, trusted)
        anchors = [x.anchor for x in listed if x.anchor is not None]
        problems = _file_problems(listed)
        with ctx.uow(readonly=True) as uow:
            recorded = audit_repo.recorded_head(uow.conn)
            upto = None if recorded is None else recorded[0]
            verdict, walk = _walk(uow.conn, anchors, upto, recorded)
        broken = check_chain(anchors, walk.seen, verdict.last_id)
        lines = [f"{f.kind.value}: {f.detail}" for f in verdict.findings]
        lines += [f"{p.kind}: {p.detail}" for p in [*problems, *([broken] if broken else [])]]
        if lines:
            raise AnchorRefused(lines)
        newest = anchors[-1] if anchors else None
        if verdict.last_id is None or (newest is not None and newest.last_id == verdict.last_id):
            return Taken(newest, False, ctx.anchors.where)
        seq = max((x.stored.seq for x in listed), default=0) + 1
        anchor = Anchor(seq, verdict.last_id, verdict.head, verdict.checked, ctx.clock.now(), key_id)
        try:
            name = ctx.anchors.append(seq, sign(anchor, key))
        except AnchorTaken:
            continue  # another process anchored at the same moment: look again
        return Taken(anchor, True, f"{ctx.anchors.where}/{name}")
    raise AnchorRefused([f"other processes kept taking the next anchor number in {ctx.anchors.where}"])


def anchor_job(ctx: Context, _ref: str) -> None:
    """The recurring job: anchor the head; a refusal or an unwritable store is logged, and tried next time.

    The job never fails: a failed recurring job would back off and be given up, and anchoring
    would stop until the next restart. `audit verify` reports entries left unanchored.
    """
    try:
        taken = take(ctx)
    except AnchorRefused as exc:
        log.error("audit_anchor_refused", problems=exc.problems)
        return
    except (OSError, ValueError) as exc:  # the store or the key: unreachable, exposed, malformed
        log.error("audit_anchor_failed", error=f"{type(exc).__name__}: {exc}")
        return
    if taken.new and taken.anchor is not None:
        log.info(
            "audit_anchored", seq=taken.anchor.seq, last_id=taken.anchor.last_id, count=taken.anchor.count
        )


@dataclass(frozen=True)
class Heads:
    """What the operator publishes: the log's head now, the newest anchor, and the anchor backing each day."""

    now: tuple[int | None, str]
    newest: Anchor | None
    days: list[tuple[date, Anchor | None]]


def published_heads(ctx: Context, today: date, days: int = 7) -> Heads:
    """The head now, and the newest valid anchor at the end of each of the last `days` UTC days, newest first.

    The days come from the signed anchors, not from the log, so rewriting the database does
    not move them; "now" is the log's recorded head, anchored or not yet.
    """
    trusted = trusted_keys(ctx.settings)
    oldest_end = datetime.combine(today - timedelta(days=days - 1), time(0), tzinfo=UTC)
    recent: list[Anchor] = []  # valid anchors, newest first, back to the first one before the window
    for stored in reversed(ctx.anchors.list()):
        anchor = _check(ctx.anchors, stored, trusted).anchor
        if anchor is not None:
            recent.append(anchor)
            if anchor.at < oldest_end:
                break  # every day in the window ends after it: older anchors back no day
    with ctx.uow(readonly=True) as uow:
        now = audit_repo.recorded_head(uow.conn) or (None, chain.GENESIS)
    backing = []
    for day in (today - timedelta(days=n) for n in range(1, days + 1)):
        end = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(days=1)
        backing.append((day, max((a for a in recent if a.at < end), key=lambda a: a.seq, default=None)))
    return Heads(now, recent[0] if recent else None, backing)
