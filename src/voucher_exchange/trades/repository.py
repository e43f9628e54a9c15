"""Trade SQL: trades, their events, decisions, voucher claims and seller flags, as typed records.

Only `trades/lifecycle.py` calls `set_status`: every status change goes through it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Update,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql

from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.audit import chain
from voucher_exchange.catalog import repository as catalog_repo
from voucher_exchange.catalog.models import CodeFormat
from voucher_exchange.db import changes
from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.schema import (
    LEFT_REVIEW,
    decisions,
    payout_destinations,
    quotes,
    seller_flags,
    trade_batch_lines,
    trade_events,
    trades,
    users,
    voucher_claims,
)
from voucher_exchange.money import Money
from voucher_exchange.payouts import repository as payout_repo
from voucher_exchange.payouts.models import Destination
from voucher_exchange.quotes import repository as quote_repo
from voucher_exchange.quotes.models import Quote
from voucher_exchange.security.vault import Vault
from voucher_exchange.trades.models import (
    COUNTS_TOWARDS_LIMITS,
    TERMINAL,
    DecisionStage,
    StoredDecision,
    Trade,
    TradeEvent,
    TradeId,
    TradeStatus,
)
from voucher_exchange.webhooks import repository as webhook_repo


def _trade(row: Any) -> Trade:
    currency = row.currency
    return Trade(
        id=TradeId(row.id),
        user_id=row.user_id,
        quote_id=row.quote_id,
        brand_slug=row.brand_slug,
        face_value=Money(int(row.face_value), currency),
        rate_bps=int(row.rate_bps),
        fee=Money(int(row.fee), currency),
        payout=Money(int(row.payout), currency),
        status=TradeStatus(row.status),
        voucher_enc=bytes(row.voucher_enc),
        voucher_fingerprint=row.voucher_fingerprint,
        voucher_last4=row.voucher_last4,
        acquisition_method=row.acquisition_method,
        acquired_on=row.acquired_on,
        payout_destination_id=row.payout_destination_id,
        client_ip=row.client_ip,
        device_id=row.device_id,
        account_fingerprint=row.account_fingerprint,
        issued_at=row.issued_at,
        issuer_answer=row.issuer_answer,
        secured_at=row.secured_at,
        redemption_ref=row.redemption_ref,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def insert_trade(conn: Connection, trade: Trade) -> bool:
    """Store a new trade; whether its seller has a webhook endpoint (read by the same statement:
    without one, none of their events is wanted)."""
    listening = webhook_repo.has_endpoint(literal(trade.user_id, trades.c.user_id.type)).label("listening")
    return bool(
        conn.execute(
            insert(trades)
            .values(
                id=trade.id,
                user_id=trade.user_id,
                quote_id=trade.quote_id,
                brand_slug=trade.brand_slug,
                currency=trade.currency,
                face_value=trade.face_value.amount,
                rate_bps=trade.rate_bps,
                fee=trade.fee.amount,
                payout=trade.payout.amount,
                status=trade.status.value,
                voucher_enc=trade.voucher_enc,
                voucher_fingerprint=trade.voucher_fingerprint,
                voucher_last4=trade.voucher_last4,
                acquisition_method=trade.acquisition_method,
                acquired_on=trade.acquired_on,
                payout_destination_id=trade.payout_destination_id,
                client_ip=trade.client_ip,
                device_id=trade.device_id,
                account_fingerprint=trade.account_fingerprint,
                created_at=trade.created_at,
                updated_at=trade.updated_at,
            )
            .returning(listening)
        ).scalar_one()
    )


class ForSubmission(NamedTuple):
    """What a submission checks, read in one statement (`for_submission`)."""

    live: bool  # the seller's account is live (not erased nor closed); its row is now locked
    quote: Quote | None  # the quote named, if it exists (whoever's it is)
    code_format: CodeFormat | None  # its brand's code format (None: no quote, or no such brand)
    destination: Destination | None  # the bank account named, if it exists (whoever's it is)


def for_submission(conn: Connection, user_id: str, quote_id: str, destination_id: str) -> ForSubmission:
    """The seller's account, row-locked on PostgreSQL (serialising with its deletion), the quote,
    its brand's code format and the bank account a submission names: one statement.

    Only the account's row is locked (and read as it is now); the quote is taken by a
    conditional update (`quotes.repository.take`), never on the strength of this read.
    """
    params = {"user_id": user_id, "quote_id": quote_id, "destination_id": destination_id}
    row = conn.execute(_FOR_SUBMISSION, params).first()
    if row is None:
        return ForSubmission(False, None, None, None)
    quote = quote_repo.quote_from(row, "q_")
    destination = None if row.d_id is None else payout_repo.destination_from(row, "d_")
    return ForSubmission(account_repo.is_live(row), quote, catalog_repo.code_format_from(row), destination)


_FOR_SUBMISSION = (
    select(
        *account_repo.LIVE_COLUMNS,
        *quote_repo.quote_columns("q_"),
        catalog_repo.code_format_of(quotes.c.brand_slug),
        *payout_repo.destination_columns("d_"),
    )
    .select_from(
        users.outerjoin(quotes, quotes.c.id == bindparam("quote_id")).outerjoin(
            payout_destinations, payout_destinations.c.id == bindparam("destination_id")
        )
    )
    .where(users.c.id == bindparam("user_id"))
    .with_for_update(of=users)
)


def get(conn: Connection, trade_id: str) -> Trade | None:
    """A trade, or None."""
    row = conn.execute(_GET, {"id": trade_id}).first()
    return None if row is None else _trade(row)


# Built once, like the other statements each trade runs (SQLAlchemy then only binds values).
_GET = select(trades).where(trades.c.id == bindparam("id"))


def version(conn: Connection, trade_id: str) -> tuple[str, str, datetime, int] | None:
    """(owner, status, updated_at, newest decision id or 0) of one trade: what its view depends
    on, in one narrow read (the API's ETag, the web timeline's change check); None if unknown."""
    row = conn.execute(_VERSION, {"id": trade_id}).first()
    return None if row is None else (row.user_id, row.status, row.updated_at, row.decision or 0)


_VERSION = select(
    trades.c.user_id,
    trades.c.status,
    trades.c.updated_at,
    select(func.max(decisions.c.id))
    .where(decisions.c.trade_id == trades.c.id)
    .scalar_subquery()
    .label("decision"),
).where(trades.c.id == bindparam("id"))


def get_many(conn: Connection, trade_ids: list[str]) -> list[Trade]:
    """The trades that exist among `trade_ids` (in no particular order)."""
    return [_trade(r) for r in conn.execute(select(trades).where(trades.c.id.in_(trade_ids)))]


def for_work(conn: Connection, trade_ids: list[str]) -> list[tuple[Trade, bool]]:
    """The trades that exist among `trade_ids` (in no particular order), about to be moved on,
    each with whether it is a line of a batch (it is from its creation, or never).

    The newest event hash of each is read in the same statement and remembered (`add_event`'s
    guess), so a worker that did not write a trade's last event does not read it again.
    """
    rows = conn.execute(_FOR_WORK, {"ids": trade_ids}).all()
    for row in rows:
        if row.head is not None:
            _remember_head(conn, row.id, row.head)
    return [(_trade(r), bool(r.batched)) for r in rows]


_FOR_WORK = select(
    trades,
    select(trade_events.c.hash)
    .where(trade_events.c.trade_id == trades.c.id)
    .order_by(trade_events.c.id.desc())
    .limit(1)
    .scalar_subquery()
    .label("head"),
    exists().where(trade_batch_lines.c.trade_id == trades.c.id).label("batched"),
).where(trades.c.id.in_(bindparam("ids", expanding=True)))


def list_for_user(
    conn: Connection, user_id: str, limit: int, status: TradeStatus | None = None
) -> list[Trade]:
    """A seller's trades, newest first."""
    query = select(trades).where(trades.c.user_id == user_id)
    if status is not None:
        query = query.where(trades.c.status == status.value)
    rows = conn.execute(query.order_by(trades.c.created_at.desc(), trades.c.id).limit(limit))
    return [_trade(r) for r in rows]


def list_by_status(conn: Connection, status: TradeStatus, limit: int) -> list[Trade]:
    """Trades in one status, longest unchanged first (the review queue, failed trades)."""
    rows = conn.execute(
        select(trades)
        .where(trades.c.status == status.value)
        .order_by(trades.c.updated_at, trades.c.id)
        .limit(limit)
    )
    return [_trade(r) for r in rows]


def set_status(
    conn: Connection,
    trade_id: str,
    expected: TradeStatus,
    target: TradeStatus,
    now: datetime,
    *,
    history: tuple[str, str | None] | None = None,
    ask_listening: bool = False,
    ask_reviewed: bool = False,
    decided: tuple[Decided, ...] = (),
    via: TradeStatus | None = None,
    **values: Any,
) -> Moved | None:
    """`UPDATE … WHERE status = expected … RETURNING user_id`: what the change returned (`Moved`),
    or None if someone moved it first. Lifecycle only (which tells the seller's webhooks without
    reading the trade, and only if they have an endpoint).

    With `history` (actor, note) the change's event is appended to the trade's hash chain too
    (`add_event`), and the `decided` decisions the change rests on are stored with it, only if
    it moved. On PostgreSQL, when this process knows the chain's head (it wrote or read the
    newest event), all of it is one statement: a data-modifying CTE whose event INSERT checks
    the guessed head, as `add_event` does; SQLite has no such CTEs and runs one per row.
    `via`: a status passed through in the same transaction (no one else could see the trade
    in it): the history has both steps, `expected → via` (without a note) and `via → target`.

    The statements are built once per set of extra columns (a handful of shapes): building
    and cache-keying a new one per call cost ~100 µs of CPU, about five times the execution.
    """
    postgresql = conn.dialect.name == "postgresql"
    shape = _Shape(
        tuple(sorted(values)), postgresql, ask_listening, ask_reviewed, len(decided), via is not None
    )
    params = {f"new_{column}": value for column, value in values.items()}
    params |= {"trade_id": trade_id, "expected": expected.value, "target": target.value, "now": now}
    for i, decision in enumerate(decided):
        row = _decision_row(trade_id, decision, now)
        params |= {f"d{i}_{column}": value for column, value in row.items()}
    hops = [(expected, target)] if via is None else [(expected, via), (via, target)]
    moved = _set_status_and_event(conn, trade_id, hops, now, history, shape, params)
    if moved is None:
        return None
    # A page following the trade hears of it after the commit. On PostgreSQL the UPDATE told
    # other processes itself (`RETURNING …, pg_notify`).
    changes.mark(conn, trade_id, told=shape.postgresql)
    seller, listening, reviewed = moved
    return Moved(seller, bool(listening) if ask_listening else True, bool(reviewed))


class Moved(NamedTuple):
    """What a status change returned, in its own statement."""

    seller: str
    listening: bool
    """`ask_listening`: whether the seller has a webhook endpoint (otherwise True: ask them)."""
    reviewed: bool
    """`ask_reviewed`: whether the trade was ever held for review (otherwise False)."""


class _Shape(NamedTuple):
    """What a status change's statement is built for (one cached statement per shape)."""

    columns: tuple[str, ...]  # the extra columns it sets
    postgresql: bool  # `pg_notify` in its RETURNING, and with the event in one statement (`_move`)
    listening: bool  # whether the seller has a webhook endpoint, in its RETURNING
    reviewed: bool  # whether the trade was ever held for review, in its RETURNING
    decisions: int  # how many decisions are stored with it (in `_move`'s statement)
    via: bool  # two history events (a status passed through), not one


class Decided(NamedTuple):
    """A decision stored with the status change it leads to (`set_status`'s `decided`)."""

    stage: DecisionStage
    outcome: str
    reasons: list[str]
    ruleset_version: str
    evidence: dict[str, Any]
    decided_by: str
    note: str | None = None


def _set_status_and_event(
    conn: Connection,
    trade_id: str,
    hops: list[tuple[TradeStatus, TradeStatus]],
    now: datetime,
    history: tuple[str, str | None] | None,
    shape: _Shape,
    params: dict[str, Any],
) -> tuple[str, bool | None, bool | None] | None:
    """The change (and its history events, one per hop: the last one has the note), as
    `set_status` says: (seller, listening, reviewed) as the statement returned them (None where
    not asked), or None if someone moved it first."""
    guess = _guess_head(conn, trade_id) if history is not None else None
    if history is not None and guess is not None and shape.postgresql:
        actor, note = history
        head = guess
        for i, (from_status, to_status) in enumerate(hops):
            last = i == len(hops) - 1
            event, content = _event(trade_id, from_status, to_status, now, actor, note if last else None)
            linked = chain.link(head, content)
            params |= {_EVENT_BIND[i](c): v for c, v in {**event, "prev_hash": head, "hash": linked}.items()}
            head = linked
        move = _MOVE.get(shape)
        if move is None:
            move = _MOVE[shape] = _move(shape)
        row = conn.execute(move, params).one()
        if row.seller is None:
            return None
        assert row.decided == shape.decisions, "a moved trade's decisions are stored with the move"
        if row.event is not None:
            _remember_head(conn, trade_id, head)
        else:  # moved, but the guess was stale: link to the real head
            _add_events(conn, trade_id, hops, now, actor, note)
        return row.seller, row.listening, row.reviewed
    statement = _SET_STATUS.get(shape)
    if statement is None:
        statement = _SET_STATUS[shape] = _set_status(shape)
    found = conn.execute(statement, params).first()
    if found is None:
        return None
    if history is not None:
        _add_events(conn, trade_id, hops, now, *history)
    for i in range(shape.decisions):
        conn.execute(_INSERT_DECISION, {c: params[f"d{i}_{c}"] for c in _DECISION_COLUMNS})
    return (
        found.user_id,
        found.listening if shape.listening else None,
        found.reviewed if shape.reviewed else None,
    )


def _add_events(
    conn: Connection,
    trade_id: str,
    hops: list[tuple[TradeStatus, TradeStatus]],
    now: datetime,
    actor: str,
    note: str | None,
) -> None:
    for i, (from_status, to_status) in enumerate(hops):
        add_event(conn, trade_id, from_status, to_status, now, actor, note if i == len(hops) - 1 else None)


# The bind name of an event column in `_move`: the first event's are the columns' own names,
# the second's (after a status passed through) are prefixed; both name the same trade.
_EVENT_BIND: tuple[Callable[[str], str], ...] = (
    lambda c: c,
    lambda c: c if c == "trade_id" else f"next_{c}",
)


def _set_status(shape: _Shape) -> Update:
    """The UPDATE of one status change; on PostgreSQL it also notifies the change feed for the
    trade it moved (db/changes.py), so no `pg_notify` statement is needed."""
    told: list[ColumnElement[Any]] = (
        [changes.notify_sql(trades.c.id).label("told")] if shape.postgresql else []
    )
    if shape.listening:
        # Named in full: SQLAlchemy writes SQLite's RETURNING columns unqualified, and inside the
        # subquery a bare `user_id` would be the endpoint's own.
        told.append(webhook_repo.has_endpoint(literal_column("trades.user_id")).label("listening"))
    if shape.reviewed:
        told.append(_EVER_REVIEWED.label("reviewed"))
    # Bind names differ from column names: SQLAlchemy keeps those for its own VALUES binds.
    return (
        update(trades)
        .where((trades.c.id == bindparam("trade_id")) & (trades.c.status == bindparam("expected")))
        .values(
            status=bindparam("target"),
            updated_at=bindparam("now"),
            **{column: bindparam(f"new_{column}") for column in shape.columns},
        )
        .returning(trades.c.user_id, *told)
    )


_SET_STATUS: dict[_Shape, Update] = {}


def _move(shape: _Shape) -> Select[Any]:
    """`WITH moved AS (UPDATE trades … RETURNING user_id), added AS (INSERT INTO trade_events …
    SELECT … FROM moved WHERE <the newest event's hash> = :prev_hash RETURNING id), decided AS
    (INSERT INTO decisions … SELECT … FROM moved …) SELECT seller, event, decided`: the status
    change, its event (or two: `added_next … SELECT … FROM added`) and its decisions, one
    statement (PostgreSQL)."""
    moved = _set_status(shape).cte("moved")
    added = (
        insert(trade_events)
        .from_select(
            list(_EVENT_COLUMNS),
            select(*(bindparam(c, type_=trade_events.c[c].type).label(c) for c in _EVENT_COLUMNS))
            .select_from(moved)
            .where(_HEAD_IS_GUESS),
        )
        .returning(trade_events.c.id)
        .cte("added")
    )
    if shape.via:
        # The second event, linked to the first: written only if the first was (its id is later).
        bind = _EVENT_BIND[1]
        added = (
            insert(trade_events)
            .from_select(
                list(_EVENT_COLUMNS),
                select(
                    *(bindparam(bind(c), type_=trade_events.c[c].type).label(c) for c in _EVENT_COLUMNS)
                ).select_from(added),
            )
            .returning(trade_events.c.id)
            .cte("added_next")
        )

    def returned(name: str, asked: bool) -> Any:
        return (select(moved.c[name]).scalar_subquery() if asked else null()).label(name)

    stored: Any = literal(0)
    if shape.decisions:
        rows = [
            select(
                *(bindparam(f"d{i}_{c}", type_=decisions.c[c].type).label(c) for c in _DECISION_COLUMNS)
            ).select_from(moved)
            for i in range(shape.decisions)
        ]
        # One row per decision, in the order given (their ids keep it: the newest is the last).
        decided = (
            insert(decisions)
            .from_select(list(_DECISION_COLUMNS), union_all(*rows) if len(rows) > 1 else rows[0])
            .returning(decisions.c.id)
            .cte("decided")
        )
        stored = select(func.count()).select_from(decided).scalar_subquery()
    return select(
        select(moved.c.user_id).scalar_subquery().label("seller"),
        select(added.c.id).scalar_subquery().label("event"),
        returned("listening", shape.listening),
        returned("reviewed", shape.reviewed),
        stored.label("decided"),
    )


_MOVE: dict[_Shape, Select[Any]] = {}
# Whether the trade being changed ever entered review (an event into it; read before the change's own).
_EVER_REVIEWED = exists().where(
    (trade_events.c.trade_id == bindparam("trade_id"))
    & (trade_events.c.to_status == TradeStatus.IN_REVIEW.value)
)


# Built once: the statements every status change runs (SQLAlchemy then only binds values).
_LAST_EVENT_HASH = (
    select(trade_events.c.hash)
    .where(trade_events.c.trade_id == bindparam("trade_id"))
    .order_by(trade_events.c.id.desc())
    .limit(1)
)
_INSERT_EVENT = insert(trade_events)
_INSERT_DECISION = insert(decisions)
_HEAD_IS_GUESS = _LAST_EVENT_HASH.scalar_subquery() == bindparam("prev_hash", type_=trade_events.c.hash.type)
_EVENT_COLUMNS = ("trade_id", "at", "from_status", "to_status", "actor", "note", "prev_hash", "hash")
# The same event, written only if the trade's newest event is still the one guessed.
_INSERT_EVENT_AFTER = (
    insert(trade_events)
    .from_select(
        list(_EVENT_COLUMNS),
        select(*(bindparam(c, type_=trade_events.c[c].type).label(c) for c in _EVENT_COLUMNS)).where(
            _HEAD_IS_GUESS
        ),
    )
    .returning(trade_events.c.id)
)

# The newest event hash this process wrote, per trade (a bounded memo, per database). Only a
# guess: it may be from a transaction that rolled back or have been overtaken by another
# process, so it is used only in `_INSERT_EVENT_AFTER`, which checks it in the same statement.
_HEADS: weakref.WeakKeyDictionary[Engine, OrderedDict[str, str]] = weakref.WeakKeyDictionary()
_HEADS_KEPT = 4096
_heads_lock = threading.Lock()


def _guess_head(conn: Connection, trade_id: str) -> str | None:
    with _heads_lock:
        heads = _HEADS.get(conn.engine)
        return None if heads is None else heads.get(trade_id)


def _remember_head(conn: Connection, trade_id: str, head: str) -> None:
    with _heads_lock:
        heads = _HEADS.setdefault(conn.engine, OrderedDict())
        heads[trade_id] = head
        heads.move_to_end(trade_id)
        if len(heads) > _HEADS_KEPT:
            heads.popitem(last=False)


def add_event(
    conn: Connection,
    trade_id: str,
    from_status: TradeStatus | None,
    to_status: TradeStatus,
    now: datetime,
    actor: str,
    note: str | None,
    *,
    first: bool = False,
) -> None:
    """Append to the trade's history, linked into the trade's hash chain.

    Every step that appends also changes the trade (or a row tied to it) conditionally in
    the same transaction, so one trade's events are written one at a time: no fork.
    When this process wrote the trade's last event, the link is written in one statement
    that checks that guess (one round trip, not two); a wrong guess falls back to reading.
    `first`: the trade was stored in this transaction, so its chain starts here (no read).
    """
    event, content = _event(trade_id, from_status, to_status, now, actor, note)
    guess = _guess_head(conn, trade_id)
    if guess is not None and not first:
        head = chain.link(guess, content)
        if conn.execute(_INSERT_EVENT_AFTER, {**event, "prev_hash": guess, "hash": head}).first() is not None:
            _remember_head(conn, trade_id, head)
            return
    prev_hash = chain.GENESIS if first else conn.execute(_LAST_EVENT_HASH, {"trade_id": trade_id}).scalar()
    prev_hash = prev_hash or chain.GENESIS
    head = chain.link(prev_hash, content)
    conn.execute(_INSERT_EVENT, {**event, "prev_hash": prev_hash, "hash": head})
    _remember_head(conn, trade_id, head)


def _event(
    trade_id: str,
    from_status: TradeStatus | None,
    to_status: TradeStatus,
    now: datetime,
    actor: str,
    note: str | None,
) -> tuple[dict[str, Any], str]:
    """An event's columns (without its links) and the content its hash covers."""
    from_value = from_status.value if from_status else None
    content = chain.canonical(actor, _action(from_value, to_status.value), trade_id, {"note": note}, now)
    event = {
        "trade_id": trade_id,
        "at": now,
        "from_status": from_value,
        "to_status": to_status.value,
        "actor": actor,
        "note": note,
    }
    return event, content


def _action(from_status: str | None, to_status: str) -> str:
    return f"{from_status or ''}->{to_status}"


def chained_histories(conn: Connection) -> Iterator[tuple[str, str, list[chain.Entry]]]:
    """Every trade's events as hash-chain entries, with the trade's current status; trade by trade."""
    e = trade_events.c
    statuses = {r.id: r.status for r in conn.execute(select(trades.c.id, trades.c.status))}
    current: str | None = None
    batch: list[chain.Entry] = []
    for r in conn.execute(select(trade_events).order_by(e.trade_id, e.id)):
        if r.trade_id != current:
            if current is not None:
                yield current, statuses.get(current, ""), batch
            current, batch = r.trade_id, []
        batch.append(
            chain.Entry(
                id=int(r.id),
                at=r.at,
                actor=r.actor,
                action=_action(r.from_status, r.to_status),
                subject=r.trade_id,
                details={"note": r.note},
                prev_hash=r.prev_hash or "",
                hash=r.hash or "",
            )
        )
    if current is not None:
        yield current, statuses.get(current, ""), batch


def events(conn: Connection, trade_id: str) -> list[TradeEvent]:
    """The trade's history, oldest first."""
    rows = conn.execute(
        select(trade_events).where(trade_events.c.trade_id == trade_id).order_by(trade_events.c.id)
    )
    return [
        TradeEvent(
            r.at,
            TradeStatus(r.from_status) if r.from_status else None,
            TradeStatus(r.to_status),
            r.actor,
            r.note,
        )
        for r in rows
    ]


def came_from(conn: Connection, trade_id: str, status: TradeStatus) -> TradeStatus | None:
    """The status the trade was in when it last entered `status` (e.g. where it was held from)."""
    row = conn.execute(_CAME_FROM, {"trade": trade_id, "into": status.value}).first()
    return TradeStatus(row.from_status) if row is not None and row.from_status else None


_CAME_FROM = (  # built once: every secured trade asks
    select(trade_events.c.from_status)
    .where((trade_events.c.trade_id == bindparam("trade")) & (trade_events.c.to_status == bindparam("into")))
    .order_by(trade_events.c.id.desc())
    .limit(1)
)


def came_from_report(conn: Connection, trade_id: str) -> bool:
    """Whether the trade's last move into review was a fraud report's hold."""
    row = conn.execute(
        select(trade_events.c.actor)
        .where(
            (trade_events.c.trade_id == trade_id) & (trade_events.c.to_status == TradeStatus.IN_REVIEW.value)
        )
        .order_by(trade_events.c.id.desc())
        .limit(1)
    ).first()
    return row is not None and row.actor == "fraud_report"


def with_fingerprints(conn: Connection, fingerprints: list[str]) -> list[Trade]:
    """Every trade of a voucher with one of these keyed fingerprints, oldest first."""
    if not fingerprints:
        return []
    rows = conn.execute(
        select(trades).where(trades.c.voucher_fingerprint.in_(fingerprints)).order_by(trades.c.created_at)
    )
    return [_trade(r) for r in rows]


def add_decision(
    conn: Connection,
    trade_id: str,
    stage: DecisionStage,
    outcome: str,
    reasons: list[str],
    ruleset_version: str,
    evidence: dict[str, Any],
    decided_by: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """Store a decision with the facts it saw (one a status change rests on: `set_status`)."""
    decision = Decided(stage, outcome, reasons, ruleset_version, evidence, decided_by, note)
    conn.execute(_INSERT_DECISION, _decision_row(trade_id, decision, now))


_DECISION_COLUMNS = (
    "trade_id",
    "stage",
    "outcome",
    "reasons",
    "ruleset_version",
    "evidence",
    "decided_by",
    "note",
    "created_at",
)


def _decision_row(trade_id: str, decision: Decided, now: datetime) -> dict[str, Any]:
    return {
        "trade_id": trade_id,
        "stage": decision.stage.value,
        "outcome": decision.outcome,
        "reasons": decision.reasons,
        "ruleset_version": decision.ruleset_version,
        "evidence": decision.evidence,
        "decided_by": decision.decided_by,
        "note": decision.note,
        "created_at": now,
    }


def _decision(row: Any) -> StoredDecision:
    return StoredDecision(
        id=int(row.id),
        stage=DecisionStage(row.stage),
        outcome=row.outcome,
        reasons=list(row.reasons),
        ruleset_version=row.ruleset_version,
        evidence=dict(row.evidence or {}),
        decided_by=row.decided_by,
        note=row.note,
        created_at=row.created_at,
    )


def latest_decision(
    conn: Connection, trade_id: str, stage: DecisionStage | None = None, skip: DecisionStage | None = None
) -> StoredDecision | None:
    """The newest enforced decision on a trade (of one stage, or not of another); never a shadow one."""
    where = (decisions.c.trade_id == trade_id) & (decisions.c.stage != DecisionStage.SHADOW.value)
    if stage is not None:
        where = where & (decisions.c.stage == stage.value)
    if skip is not None:
        where = where & (decisions.c.stage != skip.value)
    row = conn.execute(select(decisions).where(where).order_by(decisions.c.id.desc()).limit(1)).first()
    return None if row is None else _decision(row)


def all_decisions(conn: Connection, trade_id: str) -> list[StoredDecision]:
    """Every decision on a trade, oldest first."""
    rows = conn.execute(select(decisions).where(decisions.c.trade_id == trade_id).order_by(decisions.c.id))
    return [_decision(r) for r in rows]


def used_since(conn: Connection, user_id: str, since: datetime, exclude: str) -> int:
    """Face value the seller has sold (or is selling) since `since`, minus one trade."""
    total = conn.execute(
        select(func.coalesce(func.sum(trades.c.face_value), 0)).where(
            (trades.c.user_id == user_id)
            & (trades.c.created_at >= since)
            & trades.c.status.in_([s.value for s in COUNTS_TOWARDS_LIMITS])
            & (trades.c.id != exclude)
        )
    ).scalar_one()
    return int(total)


def used_in_periods(
    conn: Connection, user_id: str, day_start: datetime, month_start: datetime, exclude: str
) -> tuple[int, int]:
    """`used_since` for the day and the month at once (one query): (today, this month)."""
    start = min(day_start, month_start)
    params = {"user_id": user_id, "day": day_start, "month": month_start, "start": start, "exclude": exclude}
    row = conn.execute(_USED_IN_PERIODS, params).one()
    return int(row[0]), int(row[1])


def _used_in_periods() -> Any:
    t = trades.c
    at = t.created_at.type
    return select(
        func.coalesce(func.sum(t.face_value).filter(t.created_at >= bindparam("day", type_=at)), 0),
        func.coalesce(func.sum(t.face_value).filter(t.created_at >= bindparam("month", type_=at)), 0),
    ).where(
        (t.user_id == bindparam("user_id"))
        & (t.created_at >= bindparam("start", type_=at))
        & t.status.in_(sorted(s.value for s in COUNTS_TOWARDS_LIMITS))
        & (t.id != bindparam("exclude"))
    )


_USED_IN_PERIODS = _used_in_periods()


def claim_voucher(conn: Connection, fingerprint: str, trade_id: str, now: datetime) -> str:
    """Claim a voucher code for a trade, once ever; returns the trade that holds the claim.

    PostgreSQL: one statement, the claim and, if it was taken, its holder. A claim committed by
    another transaction while that statement ran is not in its snapshot: then the holder is
    read again (the SQLite path, where the database's one writer rules that race out).
    """
    values = {"fingerprint": fingerprint, "trade_id": trade_id, "created_at": now}
    if conn.dialect.name == "postgresql":
        owner: str | None = conn.execute(_CLAIM, values).scalar()
        if owner is not None:
            return owner
    insert_ignore(conn, voucher_claims, values, ["fingerprint"])
    held: str = conn.execute(_CLAIM_OWNER, {"fingerprint": fingerprint}).scalar_one()
    return held


_CLAIM_OWNER = select(voucher_claims.c.trade_id).where(
    voucher_claims.c.fingerprint == bindparam("fingerprint")
)
_CLAIMED = (
    postgresql.insert(voucher_claims)
    .values({c: bindparam(c) for c in ("fingerprint", "trade_id", "created_at")})
    .on_conflict_do_nothing(index_elements=["fingerprint"])
    .returning(voucher_claims.c.trade_id)
    .cte("claimed")
)
# `WITH claimed AS (INSERT … ON CONFLICT DO NOTHING RETURNING trade_id)`: this trade, or the holder.
_CLAIM = union_all(select(_CLAIMED.c.trade_id), _CLAIM_OWNER).limit(1)


def release_claim(conn: Connection, trade_id: str) -> None:
    """Let the voucher a trade claimed be sold again."""
    conn.execute(voucher_claims.delete().where(voucher_claims.c.trade_id == trade_id))


def flag_seller(
    conn: Connection, user_id: str, trade_id: str, kind: str, details: dict[str, Any], now: datetime
) -> None:
    """Record something against a seller (e.g. a false acquisition declaration)."""
    conn.execute(
        insert(seller_flags).values(
            user_id=user_id, trade_id=trade_id, kind=kind, details=details, created_at=now
        )
    )


def flags_for(conn: Connection, user_id: str) -> list[tuple[str, datetime]]:
    """Everything recorded against a seller: (kind, when), oldest first."""
    rows = conn.execute(
        select(seller_flags.c.kind, seller_flags.c.created_at)
        .where(seller_flags.c.user_id == user_id)
        .order_by(seller_flags.c.id)
    )
    return [(r.kind, r.created_at) for r in rows]


def paid_at(conn: Connection, trade_id: str) -> datetime | None:
    """When the trade became paid."""
    row = conn.execute(
        select(trade_events.c.at).where(
            (trade_events.c.trade_id == trade_id) & (trade_events.c.to_status == TradeStatus.PAID.value)
        )
    ).first()
    return row.at if row else None


def held(
    conn: Connection,
    status: TradeStatus,
    min_face: int | None,
    max_face: int | None,
    updated_before: datetime | None,
) -> list[Trade]:
    """Trades in one status within a face-value range, longest waiting first (the review queue)."""
    t = trades.c
    query = select(trades).where(t.status == status.value)
    if min_face is not None:
        query = query.where(t.face_value >= min_face)
    if max_face is not None:
        query = query.where(t.face_value <= max_face)
    if updated_before is not None:
        query = query.where(t.updated_at <= updated_before)
    return [_trade(r) for r in conn.execute(query.order_by(t.updated_at, t.id))]


def recent_review_seconds(conn: Connection, limit: int = 50) -> list[float]:
    """How long the latest `limit` reviews took, from being held to a decision (or a withdrawal)."""
    e = trade_events.c
    left = conn.execute(
        # The partial index's own condition, as text: a bound value would not prove it applies.
        select(e.trade_id, e.at).where(text(LEFT_REVIEW)).order_by(e.id.desc()).limit(limit)
    ).all()
    if not left:
        return []
    entered: dict[str, list[datetime]] = {}
    for row in conn.execute(
        select(e.trade_id, e.at).where(
            (e.to_status == TradeStatus.IN_REVIEW.value) & e.trade_id.in_([r.trade_id for r in left])
        )
    ):
        entered.setdefault(row.trade_id, []).append(row.at)
    waits = []
    for row in left:
        before = [at for at in entered.get(row.trade_id, []) if at <= row.at]
        if before:
            waits.append((row.at - max(before)).total_seconds())
    return waits


def open_trades_paying_to(conn: Connection, destination_id: str) -> int:
    """How many trades not yet at rest will pay into this destination (a refused payout goes elsewhere)."""
    resting = [*(s.value for s in TERMINAL), TradeStatus.FAILED.value]
    found = conn.execute(
        select(func.count())
        .select_from(trades)
        .where((trades.c.payout_destination_id == destination_id) & trades.c.status.not_in(resting))
    ).scalar_one()
    return int(found)


def addresses_of(conn: Connection, user_id: str) -> set[str]:
    """Every client address a user sold from."""
    rows = conn.execute(
        select(trades.c.client_ip)
        .distinct()
        .where((trades.c.user_id == user_id) & trades.c.client_ip.is_not(None))
    )
    return {r[0] for r in rows}


def devices_of(conn: Connection, user_id: str) -> set[str]:
    """Every device id a user sold from."""
    rows = conn.execute(
        select(trades.c.device_id)
        .distinct()
        .where((trades.c.user_id == user_id) & trades.c.device_id.is_not(None))
    )
    return {r[0] for r in rows}


def open_count_for_brand(conn: Connection, brand_slug: str) -> int:
    """How many of a brand's trades are not finished yet (what suspending it would refuse or hold)."""
    done = [s.value for s in TERMINAL]
    return int(
        conn.execute(
            select(func.count())
            .select_from(trades)
            .where((trades.c.brand_slug == brand_slug) & trades.c.status.not_in(done))
        ).scalar_one()
    )


def sharing(conn: Connection, trade: Trade, limit: int = 50) -> dict[str, list[Trade]]:
    """Other trades that share this one's device, bank account or voucher code (by keyed fingerprint)."""
    keys = {
        "device": (trades.c.device_id, trade.device_id),
        "payout_account": (trades.c.account_fingerprint, trade.account_fingerprint),
        "voucher": (trades.c.voucher_fingerprint, trade.voucher_fingerprint),
    }
    found: dict[str, list[Trade]] = {}
    for name, (column, value) in keys.items():
        if not value:
            found[name] = []
            continue
        rows = conn.execute(
            select(trades)
            .where((column == value) & (trades.c.id != trade.id))
            .order_by(trades.c.created_at.desc(), trades.c.id)
            .limit(limit)
        )
        found[name] = [_trade(r) for r in rows]
    return found


def of_users(conn: Connection, user_ids: set[str], limit: int = 50) -> list[Trade]:
    """The newest trades of some sellers (people who share one identity)."""
    if not user_ids:
        return []
    rows = conn.execute(
        select(trades)
        .where(trades.c.user_id.in_(user_ids))
        .order_by(trades.c.created_at.desc(), trades.c.id)
        .limit(limit)
    )
    return [_trade(r) for r in rows]


def count_all(conn: Connection) -> int:
    """How many trades there are (each holds an encrypted voucher)."""
    return int(conn.execute(select(func.count()).select_from(trades)).scalar_one())


def reencrypt_vouchers(conn: Connection, old: Vault, new: Vault, step: Callable[[], None]) -> tuple[int, int]:
    """Key rotation: every voucher re-encrypted with `new`, its fingerprint (and its claim's)
    recomputed; `step` is called once per trade. (trades, claims) rewritten."""
    rows = conn.execute(select(trades.c.id, trades.c.brand_slug, trades.c.voucher_enc)).all()
    claims = 0
    for row in rows:
        secret = old.decrypt_json(row.voucher_enc, row.id)
        fingerprint = new.fingerprint(f"voucher:{row.brand_slug}", str(secret["code"]))
        conn.execute(
            update(trades)
            .where(trades.c.id == row.id)
            .values(voucher_enc=new.encrypt_json(secret, row.id), voucher_fingerprint=fingerprint)
        )
        claims += conn.execute(
            update(voucher_claims).where(voucher_claims.c.trade_id == row.id).values(fingerprint=fingerprint)
        ).rowcount
        step()
    return len(rows), claims
