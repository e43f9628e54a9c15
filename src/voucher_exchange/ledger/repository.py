"""Ledger SQL: accounts and transfers. Totals move in the same statement batch as the row."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, case, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

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
_ACCOUNT_IDS: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str], int]] = weakref.WeakKeyDictionary()
# Account kinds never change either: id → kind, for the accounts this process has seen.
_KINDS: weakref.WeakKeyDictionary[Engine, dict[int, AccountKind]] = weakref.WeakKeyDictionary()
_CREATED = "vx_ledger_accounts_created"
_CREATED_IDS = "vx_ledger_account_ids_created"


@event.listens_for(Engine, "commit")
def _transaction_over(conn: Connection) -> None:
    conn.info.pop(_CREATED, None)
    conn.info.pop(_CREATED_IDS, None)


@event.listens_for(Engine, "rollback")
def _transaction_undone(conn: Connection) -> None:
    """Forget the kinds of accounts this transaction created: SQLite may hand their ids out again."""
    conn.info.pop(_CREATED, None)
    _forget_created_kinds(conn)


@event.listens_for(Engine, "rollback_savepoint")
def _savepoint_undone(conn: Connection, name: str, context: object) -> None:
    _forget_created_kinds(conn)  # more than the savepoint made, maybe: a kind is read again if needed


def _forget_created_kinds(conn: Connection) -> None:
    kinds = _KINDS.get(conn.engine, {})
    for acct in conn.info.pop(_CREATED_IDS, set()):
        kinds.pop(acct, None)


def account_id(conn: Connection, ref: AccountRef) -> int:
    """The account's id, creating the account on first use."""
    key = (ref.code, ref.currency)
    known = _ACCOUNT_IDS.setdefault(conn.engine, {})
    if key in known:
        return known[key]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    inserted = conn.execute(
        dialect.insert(ledger_accounts)
        .values(code=ref.code, currency=ref.currency, kind=ref.kind.value)
        .on_conflict_do_nothing(index_elements=["code", "currency"])
        .returning(ledger_accounts.c.id)
    ).scalar()
    created = inserted is not None
    if inserted is None:
        inserted = conn.execute(
            select(ledger_accounts.c.id).where(
                (ledger_accounts.c.code == ref.code) & (ledger_accounts.c.currency == ref.currency)
            )
        ).scalar_one()
    found = int(inserted)
    _KINDS.setdefault(conn.engine, {})[found] = ref.kind
    mine: set[tuple[str, str]] = conn.info.setdefault(_CREATED, set())
    if created:
        mine.add(key)
        conn.info.setdefault(_CREATED_IDS, set()).add(found)
    elif key not in mine:
        known[key] = found
    return found


def transfer_id(conn: Connection, key: str) -> int | None:
    """The id of the transfer written under `key`, or None."""
    found = conn.execute(select(ledger_transfers.c.id).where(ledger_transfers.c.key == key)).scalar()
    return None if found is None else int(found)


def _bump(conn: Connection, changes: list[tuple[int, str, int]], covered: int | None = None) -> bool:
    """Move the totals in one UPDATE; False (nothing to commit) if the `covered` account cannot hold
    its credit.

    The cover check is in the WHERE clause of the very UPDATE that reserves the amount, so it
    is atomic: check-then-act cannot race. One statement locks every row it changes, in the
    order the primary key index gives them.
    """
    a = ledger_accounts.c
    changes = [c for c in changes if not _derived(conn, c[0])]
    if not changes:
        return True
    by_column: dict[str, list[tuple[int, int]]] = {}
    for acct, column, delta in changes:
        by_column.setdefault(column, []).append((acct, delta))
    values = {
        column: a[column] + case(*((a.id == acct, delta) for acct, delta in moves), else_=0)
        for column, moves in by_column.items()
    }
    accounts = sorted({acct for acct, _, _ in changes})
    where: list[ColumnElement[bool]] = [a.id.in_(accounts)]
    if covered is not None:
        needed = sum(d for acct, column, d in changes if acct == covered and column.startswith("credits"))
        free = a.debits_posted - a.credits_posted - a.credits_pending
        where.append((a.id != covered) | (free >= needed))
    result = conn.execute(update(ledger_accounts).where(*where).values(values))
    return result.rowcount == len(accounts)


def _derived(conn: Connection, acct: int) -> bool:
    """Whether the account's totals are derived from its transfers (DERIVED_TOTALS), not stored."""
    kinds = _KINDS.setdefault(conn.engine, {})
    if acct not in kinds:
        kind = conn.execute(select(ledger_accounts.c.kind).where(ledger_accounts.c.id == acct)).scalar_one()
        kinds[acct] = AccountKind(kind)
        # Read inside this transaction: the row may be its own, so forget it if that rolls back.
        conn.info.setdefault(_CREATED_IDS, set()).add(acct)
    return kinds[acct] in DERIVED_TOTALS


def write(conn: Connection, intent: TransferIntent, now: datetime) -> int:
    """Write a single or pending transfer once; a repeated key returns the first id.

    With the account ids known, two statements: the insert (`ON CONFLICT (key) DO NOTHING
    RETURNING id`) and one UPDATE of both accounts' totals.
    """
    if intent.covered and intent.credit.kind in DERIVED_TOTALS:
        raise ValueError(f"{intent.credit.code}: a cover check needs stored totals")
    debit = account_id(conn, intent.debit)
    credit = account_id(conn, intent.credit)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    new_id = conn.execute(
        dialect.insert(ledger_transfers)
        .values(
            key=intent.key,
            reference=intent.reference,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=intent.amount,
            currency=intent.debit.currency,
            phase=intent.phase.value,
            memo=intent.memo,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(ledger_transfers.c.id)
    ).scalar()
    if new_id is None:
        existing = transfer_id(conn, intent.key)
        assert existing is not None
        return existing
    suffix = "pending" if intent.phase is Phase.PENDING else "posted"
    changes = [(debit, f"debits_{suffix}", intent.amount), (credit, f"credits_{suffix}", intent.amount)]
    if not _bump(conn, changes, covered=credit if intent.covered else None):
        # The transfer row was written above: the caller's transaction must roll back.
        raise InsufficientFunds(intent.credit, intent.amount)
    return int(new_id)


def settle(conn: Connection, pending_id: int, phase: Phase, now: datetime, memo: str) -> int:
    """Post or void a pending transfer, once; a second settle returns the first one's id."""
    if phase not in (Phase.POST, Phase.VOID):
        raise ValueError("settle takes POST or VOID")
    pending = conn.execute(select(ledger_transfers).where(ledger_transfers.c.id == pending_id)).one()
    already = conn.execute(
        select(ledger_transfers.c.id, ledger_transfers.c.phase).where(
            ledger_transfers.c.pending_id == pending_id
        )
    ).first()
    if already is not None:
        if already.phase != phase.value:
            raise RuntimeError(f"transfer {pending_id} was already settled as {already.phase}")
        return int(already.id)
    new_id = conn.execute(
        insert(ledger_transfers)
        .values(
            key=f"{pending.key}:{phase.value}",
            reference=pending.reference,
            debit_account_id=pending.debit_account_id,
            credit_account_id=pending.credit_account_id,
            amount=pending.amount,
            currency=pending.currency,
            phase=phase.value,
            pending_id=pending_id,
            memo=memo,
            created_at=now,
        )
        .returning(ledger_transfers.c.id)
    ).scalar_one()
    amount = int(pending.amount)
    changes = [
        (int(pending.debit_account_id), "debits_pending", -amount),
        (int(pending.credit_account_id), "credits_pending", -amount),
    ]
    if phase is Phase.POST:
        changes += [
            (int(pending.debit_account_id), "debits_posted", amount),
            (int(pending.credit_account_id), "credits_posted", amount),
        ]
    _bump(conn, changes)
    return int(new_id)


def account(conn: Connection, ref: AccountRef) -> Account | None:
    """The account with its totals, or None before first use."""
    row = conn.execute(
        select(ledger_accounts).where(
            (ledger_accounts.c.code == ref.code) & (ledger_accounts.c.currency == ref.currency)
        )
    ).first()
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
