"""Payout SQL: the `payouts` and `payout_destinations` tables, as typed records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Label, Select, bindparam, delete, exists, func, insert, select, update

from voucher_exchange.db.dialect import insert_ignore
from voucher_exchange.db.rows import Prefixed
from voucher_exchange.db.schema import payout_destinations, payouts
from voucher_exchange.money import Money
from voucher_exchange.payouts.models import (
    Destination,
    DestinationStatus,
    NewPayout,
    Payout,
    PayoutPurpose,
    PayoutStatus,
)
from voucher_exchange.security.vault import Vault


def _payout(row: Any) -> Payout:
    return Payout(
        id=row.id,
        trade_id=row.trade_id,
        attempt=int(row.attempt),
        user_id=row.user_id,
        destination_id=row.destination_id,
        amount=Money(int(row.amount), row.currency),
        status=PayoutStatus(row.status),
        idempotency_key=row.idempotency_key,
        rail_reference=row.rail_reference,
        pending_transfer_id=None if row.pending_transfer_id is None else int(row.pending_transfer_id),
        created_at=row.created_at,
        sent_at=row.sent_at,
        settled_at=row.settled_at,
        purpose=PayoutPurpose(row.purpose),
    )


def destination_columns(prefix: str) -> list[Label[Any]]:
    """The `payout_destinations` columns, each named `prefix` + its name, to read a destination
    beside another table's row (`destination_from`)."""
    return [column.label(prefix + column.name) for column in payout_destinations.c]


def destination_from(row: Any, prefix: str) -> Destination:
    """The destination read by `destination_columns(prefix)`."""
    return _destination(Prefixed(row, prefix))


def _destination(row: Any) -> Destination:
    return Destination(
        id=row.id,
        user_id=row.user_id,
        bank_code=row.bank_code,
        account_number_enc=bytes(row.account_number_enc),
        account_fingerprint=row.account_fingerprint,
        account_last4=row.account_last4,
        holder_name=row.holder_name,
        status=DestinationStatus(row.status),
        created_at=row.created_at,
        is_default=bool(row.is_default),
        removed_at=row.removed_at,
    )


def insert_payout(conn: Connection, payout_id: str, new: NewPayout, now: datetime) -> Payout | None:
    """Store a payout and return it; None if that attempt for the trade exists (unique trade_id + attempt)."""
    payout = Payout(
        id=payout_id,
        trade_id=new.trade_id,
        attempt=new.attempt,
        user_id=new.user_id,
        destination_id=new.destination_id,
        amount=new.amount,
        status=PayoutStatus.CREATED,
        idempotency_key=f"vx-payout-{payout_id}",
        rail_reference=None,
        pending_transfer_id=None,
        created_at=now,
        sent_at=None,
        settled_at=None,
        purpose=new.purpose,
    )
    inserted = insert_ignore(
        conn,
        payouts,
        {
            "id": payout.id,
            "trade_id": payout.trade_id,
            "attempt": payout.attempt,
            "purpose": payout.purpose.value,
            "user_id": payout.user_id,
            "destination_id": payout.destination_id,
            "amount": payout.amount.amount,
            "currency": payout.amount.currency,
            "status": payout.status.value,
            "idempotency_key": payout.idempotency_key,
            "created_at": now,
        },
        ["trade_id", "attempt"],
    )
    return payout if inserted else None


def add_to_amount(conn: Connection, payout_id: str, extra: int) -> bool:
    """Raise a payout not yet reserved by `extra` (a compensation); False if it was reserved already."""
    done = conn.execute(
        update(payouts)
        .where((payouts.c.id == payout_id) & (payouts.c.status == PayoutStatus.CREATED.value))
        .values(amount=payouts.c.amount + extra)
    )
    return done.rowcount == 1


def get(conn: Connection, payout_id: str) -> Payout | None:
    """One payout, or None."""
    row = conn.execute(select(payouts).where(payouts.c.id == payout_id)).first()
    return None if row is None else _payout(row)


def for_trade(conn: Connection, trade_id: str) -> Payout | None:
    """The trade's latest payout attempt (what the trade pays, not a compensation), or None."""
    return _latest(conn, trade_id, PayoutPurpose.TRADE)


def compensation_for_trade(conn: Connection, trade_id: str) -> Payout | None:
    """The compensation sent on its own after the trade's late payout, or None."""
    return _latest(conn, trade_id, PayoutPurpose.COMPENSATION)


def _latest(conn: Connection, trade_id: str, purpose: PayoutPurpose) -> Payout | None:
    row = conn.execute(
        select(payouts)
        .where((payouts.c.trade_id == trade_id) & (payouts.c.purpose == purpose.value))
        .order_by(payouts.c.attempt.desc())
        .limit(1)
    ).first()
    return None if row is None else _payout(row)


def next_attempt(conn: Connection, trade_id: str) -> int:
    """The attempt number a new payout of the trade takes (attempts count every purpose)."""
    last = conn.execute(select(func.max(payouts.c.attempt)).where(payouts.c.trade_id == trade_id)).scalar()
    return 1 if last is None else int(last) + 1


def all_for_trade(conn: Connection, trade_id: str) -> list[Payout]:
    """Every payout attempt of a trade, first first."""
    rows = conn.execute(select(payouts).where(payouts.c.trade_id == trade_id).order_by(payouts.c.attempt))
    return [_payout(r) for r in rows]


def statuses_for_trades(conn: Connection, trade_ids: Sequence[str]) -> dict[str, PayoutStatus]:
    """trade id → its latest payout's status, for the trades that have one."""
    if not trade_ids:
        return {}
    rows = conn.execute(
        select(payouts.c.trade_id, payouts.c.status)
        .where(payouts.c.trade_id.in_(list(trade_ids)) & (payouts.c.purpose == PayoutPurpose.TRADE.value))
        .order_by(payouts.c.attempt)
    )
    return {r.trade_id: PayoutStatus(r.status) for r in rows}


def mark_sending(conn: Connection, payout_id: str, pending_transfer_id: int, now: datetime) -> bool:
    """`created → sending` with its pending ledger transfer; False if it was not `created`."""
    result = conn.execute(_MARK_SENDING, {"payout": payout_id, "transfer": pending_transfer_id, "at": now})
    return bool(result.rowcount)


# Built once, as every payout runs them (bind names differ from column names: SQLAlchemy keeps
# those for its own SET binds).
_MARK_SENDING = (
    update(payouts)
    .where((payouts.c.id == bindparam("payout")) & (payouts.c.status == PayoutStatus.CREATED.value))
    .values(
        status=PayoutStatus.SENDING.value, pending_transfer_id=bindparam("transfer"), sent_at=bindparam("at")
    )
)
_MARK_SETTLED = (
    update(payouts)
    .where((payouts.c.id == bindparam("payout")) & (payouts.c.status == PayoutStatus.SENDING.value))
    .values(status=bindparam("to_status"), rail_reference=bindparam("reference"), settled_at=bindparam("at"))
)


def mark_settled(
    conn: Connection, payout_id: str, status: PayoutStatus, rail_reference: str | None, now: datetime
) -> bool:
    """`sending → executed | rejected`; False if it was not `sending`."""
    values = {"payout": payout_id, "to_status": status.value, "reference": rail_reference, "at": now}
    result = conn.execute(_MARK_SETTLED, values)
    return bool(result.rowcount)


def in_flight(conn: Connection, limit: int = 500) -> list[Payout]:
    """Payouts created or sent but not yet answered by the rail, oldest first."""
    rows = conn.execute(
        select(payouts)
        .where(payouts.c.status.in_([PayoutStatus.CREATED.value, PayoutStatus.SENDING.value]))
        .order_by(payouts.c.created_at)
        .limit(limit)
    )
    return [_payout(r) for r in rows]


def insert_destination(
    conn: Connection,
    destination_id: str,
    user_id: str,
    bank_code: str,
    account_number_enc: bytes,
    account_fingerprint: str,
    account_last4: str,
    holder_name: str,
    status: DestinationStatus,
    now: datetime,
) -> None:
    """Store a seller's bank account (the number encrypted, its fingerprint keyed)."""
    conn.execute(
        insert(payout_destinations).values(
            id=destination_id,
            user_id=user_id,
            kind="bank_account",
            bank_code=bank_code,
            account_number_enc=account_number_enc,
            account_fingerprint=account_fingerprint,
            account_last4=account_last4,
            holder_name=holder_name,
            status=status.value,
            created_at=now,
        )
    )


def destination(conn: Connection, destination_id: str) -> Destination | None:
    """One destination, or None."""
    row = conn.execute(_DESTINATION, {"id": destination_id}).first()
    return None if row is None else _destination(row)


# Built once: every trade reads its destination (SQLAlchemy then only binds values).
_DESTINATION = select(payout_destinations).where(payout_destinations.c.id == bindparam("id"))


def destinations_of(conn: Connection, user_id: str) -> list[Destination]:
    """A seller's destinations (not those they removed): the default first, then newest first."""
    d = payout_destinations.c
    rows = conn.execute(
        select(payout_destinations)
        .where((d.user_id == user_id) & d.removed_at.is_(None))
        .order_by(d.is_default.desc(), d.created_at.desc(), d.id)
    )
    return [_destination(r) for r in rows]


def set_default(conn: Connection, user_id: str, destination_id: str) -> bool:
    """Make one verified, kept destination the seller's default (and no other); False if none such."""
    d = payout_destinations.c
    eligible = (
        (d.id == destination_id)
        & (d.user_id == user_id)
        & d.removed_at.is_(None)
        & (d.status == DestinationStatus.VERIFIED.value)
    )
    if conn.execute(select(d.id).where(eligible)).first() is None:
        return False
    # One statement sets every row of the seller: never two defaults, whatever runs concurrently.
    conn.execute(
        update(payout_destinations)
        .where(d.user_id == user_id)
        .values(is_default=(d.id == destination_id) & d.removed_at.is_(None))
    )
    return True


def remove(conn: Connection, user_id: str, destination_id: str, now: datetime) -> bool:
    """Mark a destination removed (it stays for the trades that used it); False if not the seller's."""
    d = payout_destinations.c
    done = conn.execute(
        update(payout_destinations)
        .where((d.id == destination_id) & (d.user_id == user_id) & d.removed_at.is_(None))
        .values(removed_at=now, is_default=False)
    )
    return done.rowcount == 1


def has_payout_in_flight(conn: Connection, destination_id: str) -> bool:
    """True while a payout to this destination is decided or sent but not settled."""
    row = conn.execute(
        select(payouts.c.id)
        .where(
            (payouts.c.destination_id == destination_id)
            & payouts.c.status.in_([PayoutStatus.CREATED.value, PayoutStatus.SENDING.value])
        )
        .limit(1)
    ).first()
    return row is not None


def set_destination_status(conn: Connection, destination_id: str, status: DestinationStatus) -> None:
    """Change whether money may go to a destination (after the owner's legal name changed)."""
    conn.execute(
        update(payout_destinations)
        .where(payout_destinations.c.id == destination_id)
        .values(status=status.value)
    )


def mark_refused(conn: Connection, destination_id: str) -> None:
    """The bank refused a transfer to this account: `refused`, and no longer the default."""
    d = payout_destinations.c
    conn.execute(
        update(payout_destinations)
        .where((d.id == destination_id) & (d.status == DestinationStatus.VERIFIED.value))
        .values(status=DestinationStatus.REFUSED.value, is_default=False)
    )


def has_verified_destination(conn: Connection, user_id: str) -> bool:
    """True when the seller has at least one verified bank account they have not removed."""
    row = conn.execute(
        select(payout_destinations.c.id)
        .where(
            (payout_destinations.c.user_id == user_id)
            & (payout_destinations.c.status == DestinationStatus.VERIFIED.value)
            & payout_destinations.c.removed_at.is_(None)
        )
        .limit(1)
    ).first()
    return row is not None


def not_yet_reserved(conn: Connection, currency: str) -> tuple[int, int]:
    """(count, total minor units) of payouts created but not yet reserved against the treasury."""
    row = conn.execute(
        select(func.count(), func.coalesce(func.sum(payouts.c.amount), 0)).where(
            (payouts.c.status == PayoutStatus.CREATED.value) & (payouts.c.currency == currency)
        )
    ).one()
    return int(row[0]), int(row[1])


def account_fingerprints_of(conn: Connection, user_id: str) -> set[str]:
    """The keyed fingerprints of every bank account a user registered."""
    rows = conn.execute(
        select(payout_destinations.c.account_fingerprint).where(payout_destinations.c.user_id == user_id)
    )
    return {r[0] for r in rows}


def holders_of_same_accounts() -> Select[Any]:
    """Other users a bank confirmed as holders of a bank account the user bound to `holder` was
    confirmed for (verified, or unconfirmed after a change of name): one person's account,
    several logins. A rejected account (someone typed another's number) ties nobody. A SELECT
    of `user_id`s, for the caller to build once and combine."""
    d = payout_destinations.c
    confirmed = (DestinationStatus.VERIFIED.value, DestinationStatus.UNCONFIRMED.value)
    holder = bindparam("holder", type_=payout_destinations.c.user_id.type)
    own = select(d.account_fingerprint).where((d.user_id == holder) & d.status.in_(confirmed))
    return select(d.user_id).where(
        d.account_fingerprint.in_(own) & d.status.in_(confirmed) & (d.user_id != holder)
    )


def erase_unused_destinations(conn: Connection, user_id: str, used_elsewhere: Select[Any]) -> int:
    """Delete a person's bank accounts that no payout used and `used_elsewhere` does not list
    (a SELECT of destination ids with no NULL, e.g. those the person's trades name); how many went."""
    d = payout_destinations.c
    used = exists().where(payouts.c.destination_id == d.id) | d.id.in_(used_elsewhere)
    return int(conn.execute(delete(payout_destinations).where((d.user_id == user_id) & ~used)).rowcount or 0)


def count_destinations(conn: Connection) -> int:
    """How many payout destinations there are (each holds an encrypted account number)."""
    return int(conn.execute(select(func.count()).select_from(payout_destinations)).scalar_one())


def reencrypt_destinations(conn: Connection, old: Vault, new: Vault, step: Callable[[], None]) -> int:
    """Key rotation: every account number re-encrypted with `new` and its fingerprint recomputed;
    `step` is called once per destination. How many were rewritten."""
    d = payout_destinations.c
    rows = conn.execute(select(d.id, d.bank_code, d.account_number_enc)).all()
    for row in rows:
        number = old.decrypt(row.account_number_enc, row.id.encode()).decode()
        conn.execute(
            update(payout_destinations)
            .where(d.id == row.id)
            .values(
                account_number_enc=new.encrypt(number.encode(), row.id.encode()),
                account_fingerprint=new.fingerprint("bank_account", f"{row.bank_code}:{number}"),
            )
        )
        step()
    return len(rows)
