"""Ledger SQL: accounts and transfers. A transfer's row and its accounts' totals move together:
one statement on PostgreSQL, two in one transaction on SQLite."""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, bindparam, case, event, func, select
from sqlalchemy.exc import NoResultFound

from voucher_exchange.db.schema import ledger_accounts, ledger_transfers
from voucher_exchange.ledger.models import (
    DERIVED_TOTALS,
    Account,
    AccountKind,
    AccountRef,
    InsufficientFunds,
    Phase,
    Transfer,
    TransferIntent,
)
from voucher_exchange.money import Money

_TOTALS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def _account(row: Any) -> Account:
    return Account(
        id=int(row.id),
        code=row.code,
        currency=row.currency,
        kind=AccountKind(row.kind),
        **{column: int(getattr(row, column)) for column in _TOTALS},
    )


# Account ids never change once committed, so each process keeps them per engine. An id is
# cached only when the account was found already there, made by a transaction that
# committed: never one this transaction created (it could still roll back). PostgreSQL's
# ON CONFLICT waits for a concurrent creator to finish; SQLite has one writer at a time.
# Every seller has accounts of their own, so the cache keeps only the most recently used:
# unbounded, it grew with every seller who ever traded (the soak, issue 27).
ACCOUNT_IDS_KEPT = 4096


class _RecentIds:
    """The ids of the most recently used accounts of one database, at most ACCOUNT_IDS_KEPT."""

    def __init__(self) -> None:
        self._ids: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> int | None:
        """The id, if kept; it is then the most recently used."""
        with self._lock:
            found = self._ids.get(key)
            if found is not None:
                self._ids.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], account: int) -> None:
        """Keep the id, forgetting the least recently used beyond the bound."""
        with self._lock:
            self._ids[key] = account
            self._ids.move_to_end(key)
            while len(self._ids) > ACCOUNT_IDS_KEPT:
                self._ids.popitem(last=False)

    def keys(self) -> list[tuple[str, str]]:
        """The kept keys, least recently used first."""
        with self._lock:
            return list(self._ids)


_ACCOUNT_IDS: weakref.WeakKeyDictionary[Engine, _RecentIds] = weakref.WeakKeyDictionary()
_account_ids_lock = threading.Lock()


def kept_account_ids(engine: Engine) -> list[tuple[str, str]]:
    """(code, currency) of the accounts whose ids this process keeps for `engine`, oldest use first."""
    with _account_ids_lock:
        known = _ACCOUNT_IDS.get(engine)
    return [] if known is None else known.keys()


# Accounts this transaction created: never kept for other transactions before it commits, and
# their ids reused within it (a trade's first credit and its payout's reservation) until a
# savepoint rolls back, which may have taken one away.
_CREATED = "vx_ledger_accounts_created"
_CREATED_IDS = "vx_ledger_account_ids_created"


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _transaction_over(conn: Connection) -> None:
    # A connection lost mid-transaction has no info to clear (a new one starts empty), and
    # asking for it would raise PendingRollbackError from inside the rollback, hiding the loss.
    if not conn.invalidated:
        conn.info.pop(_CREATED, None)
        conn.info.pop(_CREATED_IDS, None)


@event.listens_for(Engine, "rollback_savepoint")
def _savepoint_undone(conn: Connection, _name: str, _context: object) -> None:
    if not conn.invalidated:
        conn.info.pop(_CREATED_IDS, None)


# The money path's statements are SQL text built once per shape and run with
# `exec_driver_sql`: nothing to build, compile or cache-key per call (that was most of a
# transfer's client CPU), and psycopg prepares a statement once it has run it five times.
# They are written with `:name` parameters, turned into psycopg's `%(name)s` for PostgreSQL.
_STORED = "kind NOT IN ({})".format(", ".join(f"'{k.value}'" for k in sorted(DERIVED_TOTALS)))
"""Accounts that keep stored totals: the UPDATEs leave DERIVED_TOTALS rows alone, by the row's own kind."""

_NEW_ACCOUNT = (
    "INSERT INTO ledger_accounts (code, currency, kind) VALUES (:code, :currency, :kind)"
    " ON CONFLICT (code, currency) DO NOTHING RETURNING id"
)
_FIND_ACCOUNT = "SELECT id FROM ledger_accounts WHERE code = :code AND currency = :currency"
# One round trip on PostgreSQL: the second branch sees an account committed before the
# statement began (not one inserted by the first branch, nor one whose creator committed
# while ON CONFLICT waited for it: the plain find is for that race).
_NEW_OR_FOUND_ACCOUNT = (
    f"WITH i AS ({_NEW_ACCOUNT}) SELECT id, true AS created FROM i"  # noqa: S608  # constants only
    " UNION ALL SELECT id, false FROM ledger_accounts WHERE code = :code AND currency = :currency"
)
_FIND_TRANSFER = "SELECT id FROM ledger_transfers WHERE key = :key"
_NEW_TRANSFER = (
    "INSERT INTO ledger_transfers"
    " (key, reference, debit_account_id, credit_account_id, amount, currency, phase, memo, created_at)"
    " VALUES (:key, :reference, :debit, :credit, :amount, :currency, :phase, :memo, :now)"
    " ON CONFLICT (key) DO NOTHING RETURNING id"
)
_SETTLEMENT = (
    "SELECT p.key, p.reference, p.debit_account_id, p.credit_account_id, p.amount, p.currency,"
    " s.id, s.phase FROM ledger_transfers p LEFT JOIN ledger_transfers s ON s.pending_id = p.id"
    " WHERE p.id = :pending"
)
_NEW_SETTLEMENT = (
    "INSERT INTO ledger_transfers"
    " (key, reference, debit_account_id, credit_account_id, amount, currency, phase, pending_id, memo,"
    " created_at)"
    " VALUES (:settle_key, :reference, :debit, :credit, :amount, :currency, :phase, :pending, :memo, :now)"
    " RETURNING id"
)


def _for(conn: Connection, sql: str) -> str:
    """`sql` in the connection's driver's parameter style."""
    return sql if conn.dialect.name == "sqlite" else _pyformat(sql)


@cache
def _pyformat(sql: str) -> str:
    return re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)


def _moves(columns: dict[str, str], debit: str, credit: str, amount: str) -> str:
    """SET clauses: each `total: sign` moves the debited (debits_*) or credited (credits_*) account."""
    return ", ".join(
        f"{total} = {total} {sign} CASE WHEN id = {debit if total.startswith('debits') else credit}"
        f" THEN {amount} ELSE 0 END"
        for total, sign in columns.items()
    )


@cache
def _write_sql(pg: bool, suffix: str, covered: bool) -> tuple[str, str]:
    """The transfer's INSERT and the UPDATE of its accounts' stored totals, in the driver's style.

    The cover check is in the WHERE clause of the very UPDATE that reserves the amount, so
    it is atomic: check-then-act cannot race. One statement locks every row it changes, in
    the order the primary key index gives them. On PostgreSQL both are one statement, a
    data-modifying CTE whose UPDATE runs only if the INSERT wrote a row (the second string is
    then empty); it answers the new id and whether the covered account moved.
    """
    moves = _moves({f"debits_{suffix}": "+", f"credits_{suffix}": "+"}, ":debit", ":credit", ":amount")
    # Every part of these statements is a constant of this module (S608): values are parameters.
    update = f"UPDATE ledger_accounts SET {moves} WHERE id IN (:debit, :credit) AND {_STORED}"  # noqa: S608
    if covered:
        update += " AND (id <> :credit OR debits_posted - credits_posted - credits_pending >= :amount)"
    if not pg:
        return _NEW_TRANSFER, f"{update} RETURNING id"
    moved = "(SELECT count(*) FROM u WHERE id = :credit)" if covered else "1"
    one = (
        f"WITH t AS ({_NEW_TRANSFER}), u AS ({update} AND EXISTS (SELECT 1 FROM t) RETURNING id)"  # noqa: S608
        f" SELECT id, {moved} FROM t"
    )
    return _pyformat(one), ""


@cache
def _settle_sql(phase: Phase) -> tuple[str, str]:
    """The UPDATE that moves a settled transfer's totals, and on PostgreSQL the whole settle
    as one statement: it reads the pending transfer and any settlement of it; the INSERT writes
    only when there is none yet (`ON CONFLICT DO NOTHING`: a settle racing it waits on the
    unique index, then writes nothing), and the UPDATE moves only what the INSERT wrote."""
    columns = {"debits_pending": "-", "credits_pending": "-"}
    if phase is Phase.POST:
        columns |= {"debits_posted": "+", "credits_posted": "+"}
    moves = _moves(columns, ":debit", ":credit", ":amount")
    update = f"UPDATE ledger_accounts SET {moves} WHERE id IN (:debit, :credit) AND {_STORED}"  # noqa: S608
    one = (
        "WITH p AS (SELECT id, key, reference, debit_account_id, credit_account_id, amount, currency"  # noqa: S608
        " FROM ledger_transfers WHERE id = :pending),"
        " s AS (SELECT id, phase FROM ledger_transfers WHERE pending_id = :pending),"
        " t AS (INSERT INTO ledger_transfers (key, reference, debit_account_id, credit_account_id, amount,"
        " currency, phase, pending_id, memo, created_at)"
        " SELECT key || :suffix, reference, debit_account_id, credit_account_id, amount, currency,"
        " :phase, id, :memo, :now FROM p WHERE NOT EXISTS (SELECT 1 FROM s) ON CONFLICT DO NOTHING"
        " RETURNING id AS settled, debit_account_id AS debit, credit_account_id AS credit, amount),"
        f" u AS (UPDATE ledger_accounts SET {_moves(columns, 't.debit', 't.credit', 't.amount')} FROM t"
        f" WHERE id IN (t.debit, t.credit) AND {_STORED})"
        " SELECT (SELECT id FROM p), (SELECT settled FROM t), (SELECT id FROM s), (SELECT phase FROM s)"
    )
    return update, _pyformat(one)


def account_id(conn: Connection, ref: AccountRef) -> int:
    """The account's id, creating the account on first use."""
    key = (ref.code, ref.currency)
    known = _ACCOUNT_IDS.get(conn.engine)
    if known is None:
        with _account_ids_lock:
            known = _ACCOUNT_IDS.setdefault(conn.engine, _RecentIds())
    cached = known.get(key)
    if cached is None:
        cached = conn.info.get(_CREATED_IDS, {}).get(key)
    if cached is not None:
        return cached
    params = {"code": ref.code, "currency": ref.currency, "kind": ref.kind.value}
    row: tuple[Any, ...] | None
    if conn.dialect.name == "postgresql":
        row = conn.exec_driver_sql(_pyformat(_NEW_OR_FOUND_ACCOUNT), params).first()
    else:
        new = conn.exec_driver_sql(_NEW_ACCOUNT, params).scalar()
        row = None if new is None else (new, True)
    if row is None:
        row = (conn.exec_driver_sql(_for(conn, _FIND_ACCOUNT), params).scalar_one(), False)
    found, created = int(row[0]), bool(row[1])
    mine: set[tuple[str, str]] = conn.info.setdefault(_CREATED, set())
    if created:
        mine.add(key)
        conn.info.setdefault(_CREATED_IDS, {})[key] = found
    elif key not in mine:
        known.put(key, found)
    return found


def transfer_id(conn: Connection, key: str) -> int | None:
    """The id of the transfer written under `key`, or None."""
    found = conn.exec_driver_sql(_for(conn, _FIND_TRANSFER), {"key": key}).scalar()
    return None if found is None else int(found)


def _now(conn: Connection, now: datetime) -> Any:
    """`now` as the driver takes it for a created_at column (naive UTC; text on SQLite)."""
    bind = _BIND_NOW.get(conn.dialect)
    if bind is None:
        processor = ledger_transfers.c.created_at.type.bind_processor(conn.dialect)
        assert processor is not None  # UTCDateTime always has one (it drops the time zone)
        bind = _BIND_NOW[conn.dialect] = processor
    return bind(now)


_BIND_NOW: weakref.WeakKeyDictionary[Dialect, Callable[[Any], Any]] = weakref.WeakKeyDictionary()


def write(conn: Connection, intent: TransferIntent, now: datetime) -> int:
    """Write a single or pending transfer once; a repeated key returns the first id.

    With the account ids known, one round trip on PostgreSQL: `INSERT … ON CONFLICT (key) DO
    NOTHING RETURNING id` and, only if it wrote, one UPDATE of the accounts that keep stored
    totals (not DERIVED_TOTALS), with the cover check in its WHERE. SQLite runs the same two
    statements one after the other. InsufficientFunds leaves the transfer row written: the
    caller's transaction must roll back.
    """
    if intent.covered and intent.credit.kind in DERIVED_TOTALS:
        raise ValueError(f"{intent.credit.code}: a cover check needs stored totals")
    params = {
        "key": intent.key,
        "reference": intent.reference,
        "debit": account_id(conn, intent.debit),
        "credit": account_id(conn, intent.credit),
        "amount": intent.amount,
        "currency": intent.debit.currency,
        "phase": intent.phase.value,
        "memo": intent.memo,
        "now": _now(conn, now),
    }
    suffix = "pending" if intent.phase is Phase.PENDING else "posted"
    insert, update = _write_sql(conn.dialect.name == "postgresql", suffix, intent.covered)
    row = conn.exec_driver_sql(insert, params).first()
    if row is None:
        existing = transfer_id(conn, intent.key)
        assert existing is not None
        return existing
    if update:
        moved = [r[0] for r in conn.exec_driver_sql(update, params)]
        covered = params["credit"] in moved
    else:
        covered = bool(row[1])
    if intent.covered and not covered:
        # The transfer row was written above: the caller's transaction must roll back.
        raise InsufficientFunds(intent.credit, intent.amount)
    return int(row[0])


def settle(conn: Connection, pending_id: int, phase: Phase, now: datetime, memo: str) -> int:
    """Post or void a pending transfer, once; a second settle returns the first one's id.

    One round trip on PostgreSQL, three on SQLite: the settlement's row, and the totals of
    its two accounts that keep them. Settling again the other way raises RuntimeError.
    """
    if phase not in (Phase.POST, Phase.VOID):
        raise ValueError("settle takes POST or VOID")
    update, one = _settle_sql(phase)
    params: dict[str, Any] = {
        "pending": pending_id,
        "phase": phase.value,
        "suffix": f":{phase.value}",
        "memo": memo,
        "now": _now(conn, now),
    }
    if conn.dialect.name == "postgresql":
        found, new_id, already, already_phase = conn.exec_driver_sql(one, params).one()
        if found is None:
            raise NoResultFound(f"no transfer {pending_id}")
        if new_id is None and already is None:
            # Another transaction settled it while this statement waited on the unique index
            # (two workers on one payout): read what it wrote, with a fresh snapshot.
            _, _, _, _, _, _, already, already_phase = conn.exec_driver_sql(
                _pyformat(_SETTLEMENT), params
            ).one()
            if already is None:
                raise RuntimeError(f"transfer {pending_id}: its settlement vanished")
    else:
        pending = conn.exec_driver_sql(_SETTLEMENT, params).one()
        new_id, already, already_phase = None, pending[6], pending[7]
    if already is not None:
        if already_phase != phase.value:
            raise RuntimeError(f"transfer {pending_id} was already settled as {already_phase}")
        return int(already)
    if new_id is None:
        params |= {
            "settle_key": f"{pending[0]}:{phase.value}",
            "reference": pending[1],
            "debit": pending[2],
            "credit": pending[3],
            "amount": pending[4],
            "currency": pending[5],
        }
        new_id = conn.exec_driver_sql(_NEW_SETTLEMENT, params).scalar_one()
        conn.exec_driver_sql(update, params)
    return int(new_id)


# Built once (the payout path reads the treasury and a seller's receivable per trade).
_ACCOUNT_BY_CODE = select(ledger_accounts).where(
    (ledger_accounts.c.code == bindparam("code")) & (ledger_accounts.c.currency == bindparam("currency"))
)


def owed_column() -> Any:
    """What an account with stored totals (bound to `owed_code` and `owed_currency`) still owes,
    0 before its first use: `owed`, a column for a caller's own SELECT (its debit balance less
    the credits reserved against it)."""
    a = ledger_accounts.c
    balance = a.debits_posted - a.credits_posted - a.credits_pending
    found = (
        select(balance)
        .where((a.code == bindparam("owed_code")) & (a.currency == bindparam("owed_currency")))
        .scalar_subquery()
    )
    return func.coalesce(found, 0).label("owed")


def account(conn: Connection, ref: AccountRef) -> Account | None:
    """The account with its totals, or None before first use."""
    row = conn.execute(_ACCOUNT_BY_CODE, {"code": ref.code, "currency": ref.currency}).first()
    if row is None:
        return None
    derived = _derived_totals(conn, [int(row.id)]) if AccountKind(row.kind) in DERIVED_TOTALS else {}
    return _with_totals(row, derived)


def all_accounts(conn: Connection) -> list[Account]:
    """Every account with its totals."""
    rows = conn.execute(
        select(ledger_accounts).order_by(ledger_accounts.c.currency, ledger_accounts.c.code)
    ).all()
    derived_ids = [int(r.id) for r in rows if AccountKind(r.kind) in DERIVED_TOTALS]
    derived = _derived_totals(conn, derived_ids) if derived_ids else {}
    return [_with_totals(r, derived) for r in rows]


def _with_totals(row: Any, derived: dict[int, dict[str, int]]) -> Account:
    if AccountKind(row.kind) not in DERIVED_TOTALS:
        return _account(row)
    totals = derived.get(int(row.id), dict.fromkeys(_TOTALS, 0))
    return Account(id=int(row.id), code=row.code, currency=row.currency, kind=AccountKind(row.kind), **totals)


def _derived_totals(conn: Connection, ids: list[int]) -> dict[int, dict[str, int]]:
    """Totals of some accounts summed from their transfers (a pending one counts until posted or voided)."""
    t = ledger_transfers.c
    settled = ledger_transfers.alias("settled")
    state = case(
        ((t.phase == Phase.SINGLE.value) | (settled.c.phase == Phase.POST.value), "posted"),
        (settled.c.phase.is_(None), "pending"),
        else_="void",
    )
    base = ledger_transfers.outerjoin(settled, settled.c.pending_id == t.id)
    live = t.phase.in_([Phase.SINGLE.value, Phase.PENDING.value])
    totals: dict[int, dict[str, int]] = {}
    for side, column in (("debits", t.debit_account_id), ("credits", t.credit_account_id)):
        rows = conn.execute(
            select(column.label("acct"), state.label("state"), func.sum(t.amount).label("total"))
            .select_from(base)
            .where(live & column.in_(ids))
            .group_by(column, state)
        )
        for r in rows:
            if r.state != "void":
                totals.setdefault(int(r.acct), dict.fromkeys(_TOTALS, 0))[f"{side}_{r.state}"] += int(r.total)
    return totals


def recomputed_totals(conn: Connection) -> dict[int, dict[str, int]]:
    """Per account, totals recomputed from the transfers themselves (for verification)."""
    totals: dict[int, dict[str, int]] = {}

    def add(acct: int, column: str, amount: int) -> None:
        row = totals.setdefault(acct, dict.fromkeys(_TOTALS, 0))
        row[column] += amount

    settled = {
        r.pending_id: r.phase
        for r in conn.execute(
            select(ledger_transfers.c.pending_id, ledger_transfers.c.phase).where(
                ledger_transfers.c.pending_id.is_not(None)
            )
        )
    }
    rows = conn.execute(
        select(
            ledger_transfers.c.id,
            ledger_transfers.c.debit_account_id,
            ledger_transfers.c.credit_account_id,
            ledger_transfers.c.amount,
            ledger_transfers.c.phase,
        ).where(ledger_transfers.c.phase.in_([Phase.SINGLE.value, Phase.PENDING.value]))
    )
    for r in rows:
        state = "posted" if r.phase == Phase.SINGLE.value else None
        if r.phase == Phase.PENDING.value:
            outcome = settled.get(r.id)
            state = "posted" if outcome == Phase.POST.value else ("pending" if outcome is None else None)
        if state:
            add(int(r.debit_account_id), f"debits_{state}", int(r.amount))
            add(int(r.credit_account_id), f"credits_{state}", int(r.amount))
    return totals


def count_transfers(conn: Connection) -> int:
    """How many transfers exist."""
    return int(conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one())


def count_malformed(conn: Connection) -> int:
    """Transfers that are not a positive amount between two different accounts (constraints forbid them)."""
    t = ledger_transfers.c
    return int(
        conn.execute(
            select(func.count())
            .select_from(ledger_transfers)
            .where((t.amount <= 0) | (t.debit_account_id == t.credit_account_id))
        ).scalar_one()
    )


def amounts_by_reference(conn: Connection, key_suffix: str) -> dict[str, int]:
    """reference → total amount of the transfers whose key ends with `key_suffix` (e.g. ":netting")."""
    t = ledger_transfers.c
    rows = conn.execute(
        select(t.reference, func.sum(t.amount))
        .where(t.key.endswith(key_suffix, autoescape=True))
        .group_by(t.reference)
    )
    return {r[0]: int(r[1]) for r in rows}


def posted_references(conn: Connection, prefix: str) -> set[str]:
    """References (starting with `prefix`) that have a posted settlement of a pending transfer."""
    t = ledger_transfers.c
    rows = conn.execute(
        select(t.reference).where(
            (t.phase == Phase.POST.value) & t.reference.startswith(prefix, autoescape=True)
        )
    )
    return {r.reference for r in rows}


def transfers(
    conn: Connection, references: Sequence[str] = (), key_prefix: str | None = None, limit: int = 500
) -> list[Transfer]:
    """Transfers made for any of `references`, or whose key starts with a prefix; oldest first."""
    if not references and not key_prefix:
        return []
    debit = ledger_accounts.alias("debit")
    credit = ledger_accounts.alias("credit")
    t = ledger_transfers.c
    query = (
        select(ledger_transfers, debit.c.code.label("debit_code"), credit.c.code.label("credit_code"))
        .join(debit, debit.c.id == t.debit_account_id)
        .join(credit, credit.c.id == t.credit_account_id)
        .order_by(t.id)
        .limit(limit)
    )
    if references:
        query = query.where(t.reference.in_(list(references)))
    if key_prefix:
        query = query.where(t.key.startswith(key_prefix, autoescape=True))
    return [
        Transfer(
            id=int(r.id),
            key=r.key,
            reference=r.reference,
            debit=r.debit_code,
            credit=r.credit_code,
            amount=Money(int(r.amount), r.currency),
            phase=Phase(r.phase),
            pending_id=None if r.pending_id is None else int(r.pending_id),
            memo=r.memo,
            created_at=r.created_at,
        )
        for r in conn.execute(query)
    ]


def lock(conn: Connection, refs: Sequence[AccountRef]) -> None:
    """Hold these accounts' rows (PostgreSQL `FOR UPDATE`, in id order) until the transaction ends.

    A batch that will move several accounts takes the shared ones first, so two batches
    cannot each hold a row the other waits for. SQLite has one writer at a time: nothing to do.
    """
    if conn.dialect.name != "postgresql" or not refs:
        return
    ids = sorted({account_id(conn, ref) for ref in refs})
    conn.execute(
        select(ledger_accounts.c.id)
        .where(ledger_accounts.c.id.in_(ids))
        .order_by(ledger_accounts.c.id)
        .with_for_update()
    ).all()


def first_debit_after(conn: Connection, refs: Sequence[AccountRef], after: datetime) -> datetime | None:
    """When the first posted transfer into any of these accounts at or after `after` was made, or None."""
    codes = [ref.code for ref in refs]
    if not codes:
        return None
    t = ledger_transfers.c
    query = (
        select(func.min(t.created_at))
        .join_from(ledger_transfers, ledger_accounts, ledger_accounts.c.id == t.debit_account_id)
        .where(
            ledger_accounts.c.code.in_(codes),
            ledger_accounts.c.currency.in_({ref.currency for ref in refs}),
            t.phase.in_([Phase.SINGLE.value, Phase.POST.value]),
            t.created_at >= after,
        )
    )
    found: datetime | None = conn.execute(query).scalar()
    return found
