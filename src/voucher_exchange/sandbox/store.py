"""The sandbox's own memory: one SQLite file that outlives the process, like a real issuer's."""

from __future__ import annotations

import contextlib
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from voucher_exchange.clock import Clock

CACHE_KIB = 256
"""Page cache per connection, in KiB (SQLite's default is 2,000): the sandbox's files are
small, and every thread that ever calls the store keeps a connection."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vouchers (
    code TEXT PRIMARY KEY,
    pin TEXT,
    brand TEXT NOT NULL,
    currency TEXT NOT NULL,
    face_value INTEGER NOT NULL CHECK (face_value > 0),
    balance INTEGER NOT NULL CHECK (balance >= 0),
    state TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    purchase_channel TEXT NOT NULL,
    redeemed_by TEXT,
    latency_ms INTEGER NOT NULL DEFAULT 0,
    failure TEXT NOT NULL DEFAULT 'none',
    calls INTEGER NOT NULL DEFAULT 0,
    redeem_calls INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS redemptions (
    code TEXT PRIMARY KEY REFERENCES vouchers (code),
    reference TEXT NOT NULL,
    brand TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    redeemed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chargebacks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE REFERENCES vouchers (code),
    reference TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    reason TEXT NOT NULL,
    reported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS issuer_behavior (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    latency_ms INTEGER NOT NULL DEFAULT 0,
    failure TEXT NOT NULL DEFAULT 'none',
    until TEXT,
    statement_short_bps INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rail_behavior (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    delay_seconds INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS slow_transfers (
    idempotency_key TEXT PRIMARY KEY REFERENCES transfers (idempotency_key),
    executes_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    bank_code TEXT NOT NULL,
    account_number TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    behavior TEXT NOT NULL,
    hung INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (bank_code, account_number)
);
CREATE TABLE IF NOT EXISTS transfers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    bank_code TEXT NOT NULL,
    account_number TEXT NOT NULL,
    holder_name TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    rail_reference TEXT,
    created_at TEXT NOT NULL
);
"""


class SandboxError(Exception):
    """An error answer from a sandbox service; `state` is echoed at the top level when set."""

    def __init__(self, status: int, code: str, message: str, state: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.state = state

    def body(self) -> dict[str, object]:
        """The JSON answer the sandbox's routes send for it."""
        body: dict[str, object] = {"error": {"code": self.code, "message": self.message, "field": None}}
        if self.state is not None:
            body["state"] = self.state
        return body


@dataclass(frozen=True)
class Voucher:
    """A voucher as the simulated issuer records it."""

    code: str
    pin: str | None
    brand: str
    currency: str
    face_value: int
    balance: int
    state: str
    issued_at: str
    purchase_channel: str
    redeemed_by: str | None
    latency_ms: int = 0
    failure: str = "none"
    redeemed_at: str | None = None
    """When it was used (ISO 8601, UTC), as the issuer tells it in a look-up."""


@dataclass(frozen=True)
class CallCount:
    """How many lookup/redeem calls a voucher has seen, including the current one."""

    calls: int
    redeem_calls: int


@dataclass(frozen=True)
class IssuerBehavior:
    """How the whole issuer behaves for a stretch (every voucher, every brand), on top of each
    voucher's own behaviour; `until` None: until changed."""

    latency_ms: int = 0
    failure: str = "none"  # none | flaky | failing | timeout
    until: str | None = None
    statement_short_bps: int = 0
    """Each line of the settlement file pays this much less (basis points of its amount)."""


@dataclass(frozen=True)
class Account:
    """A bank account the simulated rail knows."""

    bank_code: str
    account_number: str
    holder_name: str
    behavior: str


@dataclass(frozen=True)
class TransferRequest:
    """What a caller asks the simulated rail to send."""

    idempotency_key: str
    bank_code: str
    account_number: str
    holder_name: str
    amount: int
    currency: str


@dataclass(frozen=True)
class Transfer(TransferRequest):
    """A transfer as the simulated rail recorded it."""

    status: str
    rail_reference: str | None
    created_at: str
    executed_at: str | None = None
    """When the money reached the seller's bank (a slowed rail: later than `created_at`)."""

    def answers(self, request: TransferRequest) -> bool:
        """Whether `request` asks for exactly this transfer (the key alone is not enough)."""
        return (self.bank_code, self.account_number, self.holder_name, self.amount, self.currency) == (
            request.bank_code,
            request.account_number,
            request.holder_name,
            request.amount,
            request.currency,
        )


class ThreadLocalSqlite:
    """One SQLite file of sandbox state, on one connection per thread (threads never share one).

    The connection stays open for the thread's life: opening one per call cost a
    connect and, whenever the last one closed, a WAL checkpoint with its fsyncs, several
    times per trade. Every write still commits before the call returns, and WAL with
    `synchronous=NORMAL` keeps a committed write through a killed process.
    """

    def __init__(self, path: Path, clock: Clock, schema: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._clock = clock
        self._local = threading.local()
        with self._connect() as db:
            # WAL lets readers proceed while a writer holds the lock; it sticks to the file.
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(schema)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # Closed when its thread ends and the thread-local goes with it.
            db = sqlite3.connect(self._path, timeout=10.0, isolation_level=None)
            db.row_factory = sqlite3.Row
            # In WAL mode NORMAL survives a killed process, which is all a sandbox must survive.
            db.execute("PRAGMA synchronous=NORMAL")
            # One connection per thread that ever called: a small page cache each keeps their
            # sum bounded as the pool's threads come and go (the file's pages stay in the OS cache).
            db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._local.db = db
        yield db


class SandboxStore(ThreadLocalSqlite):
    """All sandbox state: the issuer's vouchers, the bank's accounts and transfers, identities."""

    def __init__(self, path: Path, clock: Clock) -> None:
        super().__init__(path, clock, _SCHEMA)
        with self._connect() as db:
            # State files written before the issuer told the time of use lack the column.
            columns = {row["name"] for row in db.execute("PRAGMA table_info(vouchers)")}
            if "redeemed_at" not in columns:
                db.execute("ALTER TABLE vouchers ADD COLUMN redeemed_at TEXT")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so read-then-write cannot interleave
        # with another thread or process doing the same.
        with self._connect() as db:
            if db.in_transaction:  # left open by an interrupted call on this thread
                db.execute("ROLLBACK")
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _now(self) -> str:
        return self._clock.now().isoformat()

    # --- issuer -------------------------------------------------------------------------

    def add_voucher(self, voucher: Voucher) -> bool:
        """Store a freshly minted voucher; False if the code already exists."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO vouchers (code, pin, brand, currency, face_value, balance, state,"
                    " issued_at, purchase_channel, redeemed_by, latency_ms, failure, redeemed_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        voucher.code,
                        voucher.pin,
                        voucher.brand,
                        voucher.currency,
                        voucher.face_value,
                        voucher.balance,
                        voucher.state,
                        voucher.issued_at,
                        voucher.purchase_channel,
                        voucher.redeemed_by,
                        voucher.latency_ms,
                        voucher.failure,
                        voucher.redeemed_at,
                    ),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def find_voucher(self, code: str) -> Voucher | None:
        """The voucher with this code, if minted."""
        with self._connect() as db:
            row = db.execute(
                "SELECT code, pin, brand, currency, face_value, balance, state, issued_at,"
                " purchase_channel, redeemed_by, latency_ms, failure, redeemed_at"
                " FROM vouchers WHERE code = ?",
                (code,),
            ).fetchone()
        return None if row is None else Voucher(**dict(row))

    def count_call(self, code: str, *, redeem: bool) -> CallCount:
        """Count one more lookup/redeem call on this voucher and return the new totals."""
        with self._tx() as db:
            row = db.execute(
                "UPDATE vouchers SET calls = calls + 1, redeem_calls = redeem_calls + ?"
                " WHERE code = ? RETURNING calls, redeem_calls",
                (1 if redeem else 0, code),
            ).fetchone()
        return CallCount(calls=row["calls"], redeem_calls=row["redeem_calls"])

    def set_behavior(self, behavior: IssuerBehavior) -> None:
        """Make the issuer slow, failing or short-paying (or normal again) from now."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO issuer_behavior (id, latency_ms, failure, until, statement_short_bps, calls)"
                " VALUES (1, ?, ?, ?, ?, 0) ON CONFLICT (id) DO UPDATE SET latency_ms = excluded.latency_ms,"
                " failure = excluded.failure, until = excluded.until,"
                " statement_short_bps = excluded.statement_short_bps, calls = 0",
                (behavior.latency_ms, behavior.failure, behavior.until, behavior.statement_short_bps),
            )

    def behavior(self) -> IssuerBehavior:
        """The issuer's behaviour as set (normal when never set)."""
        with self._connect() as db:
            row = db.execute(
                "SELECT latency_ms, failure, until, statement_short_bps FROM issuer_behavior WHERE id = 1"
            ).fetchone()
        return IssuerBehavior() if row is None else IssuerBehavior(**dict(row))

    def count_issuer_call(self) -> int:
        """Count one more call during the stretch; the new total."""
        with self._tx() as db:
            row = db.execute(
                "UPDATE issuer_behavior SET calls = calls + 1 WHERE id = 1 RETURNING calls"
            ).fetchone()
        return 0 if row is None else int(row["calls"])

    def redeem(self, code: str, amount: int, reference: str) -> int:
        """Move the whole balance to the operator; returns the amount. Idempotent on reference.

        Raises `SandboxError` (409) when the voucher is not redeemable by this reference.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT v.state, v.balance, v.brand, v.redeemed_by, r.amount AS redeemed_amount"
                " FROM vouchers v LEFT JOIN redemptions r ON r.code = v.code WHERE v.code = ?",
                (code,),
            ).fetchone()
            if row is None:
                raise SandboxError(409, "voucher_not_found", "No such voucher.", "not_found")
            state = row["state"]
            if state == "redeemed" and row["redeemed_by"] == reference:
                return int(row["redeemed_amount"])
            if state != "active":
                raise SandboxError(409, f"voucher_{state}", f"The voucher is {state}.", state)
            now = self._now()
            if amount != row["balance"]:
                raise SandboxError(
                    409,
                    "balance_mismatch",
                    "The amount does not equal the voucher's current balance.",
                    "active",
                )
            db.execute(
                "UPDATE vouchers SET state = 'redeemed', balance = 0, redeemed_by = ?, redeemed_at = ?"
                " WHERE code = ? AND state = 'active' AND balance = ?",
                (reference, now, code, amount),
            )
            db.execute(
                "INSERT INTO redemptions (code, reference, brand, amount, redeemed_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (code, reference, row["brand"], amount, now),
            )
        return amount

    def redemptions(self) -> list[dict[str, object]]:
        """Every redemption, oldest first, without the codes."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT reference, amount, brand FROM redemptions ORDER BY redeemed_at, reference"
            ).fetchall()
        return [dict(row) for row in rows]

    def report_chargeback(self, code: str, reason: str) -> dict[str, object]:
        """The issuer takes a redeemed voucher's value back (stolen, fraud, charged back); once per code.

        Raises `SandboxError` (409) unless the voucher was redeemed.
        """
        with self._tx() as db:
            row = db.execute(
                "SELECT v.state, v.currency, r.reference, r.amount FROM vouchers v"
                " LEFT JOIN redemptions r ON r.code = v.code WHERE v.code = ?",
                (code,),
            ).fetchone()
            if row is None or row["state"] != "redeemed" or row["reference"] is None:
                raise SandboxError(
                    409, "voucher_not_redeemed", "Only a redeemed voucher can be charged back."
                )
            db.execute(
                "INSERT INTO chargebacks (code, reference, amount, currency, reason, reported_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING",
                (code, row["reference"], row["amount"], row["currency"], reason, self._now()),
            )
            found = db.execute(
                "SELECT seq, reference, amount, currency, reason, reported_at"
                " FROM chargebacks WHERE code = ?",
                (code,),
            ).fetchone()
        return _chargeback(found)

    def block(self, code: str, reason: str, charge_back: bool) -> str:
        """Block an active voucher; with `charge_back`, take a redeemed one's value back. The state after."""
        with self._tx() as db:
            db.execute("UPDATE vouchers SET state = 'blocked' WHERE code = ? AND state = 'active'", (code,))
            row = db.execute("SELECT state FROM vouchers WHERE code = ?", (code,)).fetchone()
        state = str(row["state"])
        if charge_back and state == "redeemed":
            # Redeemed by someone the issuer cannot charge back (no redemption of ours): nothing to do.
            with contextlib.suppress(SandboxError):
                self.report_chargeback(code, reason)
        return state

    def chargebacks_after(self, seq: int, limit: int = 500) -> list[dict[str, object]]:
        """Chargebacks reported after `seq`, oldest first, without the codes (the adapter's feed)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT seq, reference, amount, currency, reason, reported_at FROM chargebacks"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [_chargeback(r) for r in rows]

    # --- rail ---------------------------------------------------------------------------

    def upsert_account(self, account: Account) -> None:
        """Create or replace an account; re-registering re-arms the one-off `timeout` hang."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO accounts (bank_code, account_number, holder_name, behavior, hung)"
                " VALUES (?, ?, ?, ?, 0) ON CONFLICT (bank_code, account_number) DO UPDATE SET"
                " holder_name = excluded.holder_name, behavior = excluded.behavior, hung = 0",
                (account.bank_code, account.account_number, account.holder_name, account.behavior),
            )

    def find_account(self, bank_code: str, account_number: str) -> Account | None:
        """The account, if registered."""
        with self._connect() as db:
            row = db.execute(
                "SELECT bank_code, account_number, holder_name, behavior FROM accounts"
                " WHERE bank_code = ? AND account_number = ?",
                (bank_code, account_number),
            ).fetchone()
        return None if row is None else Account(**dict(row))

    def transfer(self, request: TransferRequest) -> tuple[Transfer, bool]:
        """Execute or reject a transfer once per key; returns it and whether to hang first.

        A repeated key returns the stored transfer; a repeated key with a different body
        raises `SandboxError` (409).
        """
        with self._tx() as db:
            self._execute_due(db)
            stored = _transfer_row(db, request.idempotency_key)
            if stored is not None:
                if not stored.answers(request):
                    raise SandboxError(
                        409,
                        "idempotency_conflict",
                        "This idempotency key was used for a different transfer.",
                    )
                return stored, False
            account = db.execute(
                "SELECT behavior, hung FROM accounts WHERE bank_code = ? AND account_number = ?",
                (request.bank_code, request.account_number),
            ).fetchone()
            executed = account is not None and account["behavior"] != "reject"
            delay = _rail_delay(db) if executed else 0
            hang = account is not None and account["behavior"] == "timeout" and not account["hung"]
            if hang:
                db.execute(
                    "UPDATE accounts SET hung = 1 WHERE bank_code = ? AND account_number = ?",
                    (request.bank_code, request.account_number),
                )
            db.execute(
                "INSERT INTO transfers (idempotency_key, bank_code, account_number, holder_name,"
                " amount, currency, status, rail_reference, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request.idempotency_key,
                    request.bank_code,
                    request.account_number,
                    request.holder_name,
                    request.amount,
                    request.currency,
                    ("pending" if delay else "executed") if executed else "rejected",
                    f"RAIL-{secrets.token_hex(8).upper()}" if executed else None,
                    self._now(),
                ),
            )
            if delay:
                executes_at = (self._clock.now() + timedelta(seconds=delay)).isoformat()
                db.execute(
                    "INSERT INTO slow_transfers (idempotency_key, executes_at) VALUES (?, ?)",
                    (request.idempotency_key, executes_at),
                )
            recorded = _transfer_row(db, request.idempotency_key)
        assert recorded is not None  # inserted above, same transaction
        return recorded, hang

    def set_rail_delay(self, seconds: int) -> None:
        """Slow the rail from now: transfers accepted from now on stay `pending` for `seconds`
        before they execute (0: they execute at once again)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO rail_behavior (id, delay_seconds) VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET delay_seconds = excluded.delay_seconds",
                (seconds,),
            )

    def rail_delay(self) -> int:
        """Seconds a transfer accepted now stays pending (0: the rail is not slowed)."""
        with self._connect() as db:
            return _rail_delay(db)

    def find_transfer(self, idempotency_key: str) -> Transfer | None:
        """The transfer with this key, if the rail ever received it."""
        with self._connect() as db:
            self._execute_due(db)
            return _transfer_row(db, idempotency_key)

    def _execute_due(self, db: sqlite3.Connection) -> None:
        """Pending transfers whose time has come execute (a slowed rail catching up); one
        statement in autocommit, taken only when one is due (a read rarely writes)."""
        now = self._now()
        if db.execute(_DUE, (now,)).fetchone() is None:
            return
        db.execute(
            "UPDATE transfers SET status = 'executed' WHERE status = 'pending' AND idempotency_key IN"
            " (SELECT idempotency_key FROM slow_transfers WHERE executes_at <= ?)",
            (now,),
        )

    def executed_transfers(self, account_number: str | None) -> list[Transfer]:
        """Executed transfers in arrival order, optionally to one account only."""
        with self._connect() as db:
            self._execute_due(db)
            if account_number is None:
                rows = db.execute(_EXECUTED, ()).fetchall()
            else:
                rows = db.execute(_EXECUTED_TO, (account_number,)).fetchall()
        return [Transfer(**dict(row)) for row in rows]

    # --- statements ---------------------------------------------------------------------

    def statement_rows(self, kind: str) -> list[dict[str, object]]:
        """Every redemption (`issuer`) or every transfer the rail decided (`rail`), as stored."""
        with self._connect() as db:
            self._execute_due(db)
            rows = db.execute(_ISSUER_STATEMENT if kind == "issuer" else _RAIL_STATEMENT).fetchall()
        return [dict(row) for row in rows]


_SELECT_TRANSFERS = (
    "SELECT t.idempotency_key, t.bank_code, t.account_number, t.holder_name, t.amount, t.currency,"
    " t.status, t.rail_reference, t.created_at,"
    " CASE WHEN t.status = 'executed' THEN COALESCE(s.executes_at, t.created_at) END AS executed_at"
    " FROM transfers t LEFT JOIN slow_transfers s ON s.idempotency_key = t.idempotency_key"
)
_EXECUTED = _SELECT_TRANSFERS + " WHERE t.status = 'executed' ORDER BY t.seq"
_EXECUTED_TO = _SELECT_TRANSFERS + " WHERE t.status = 'executed' AND t.account_number = ? ORDER BY t.seq"
_DUE = (
    "SELECT 1 FROM slow_transfers s JOIN transfers t ON t.idempotency_key = s.idempotency_key"
    " WHERE t.status = 'pending' AND s.executes_at <= ? LIMIT 1"
)
_RAIL_STATEMENT = _SELECT_TRANSFERS.replace("SELECT ", "SELECT t.seq, ", 1)
_ISSUER_STATEMENT = (
    "SELECT v.rowid AS voucher_id, r.code, r.reference, r.brand, r.amount, v.currency, r.redeemed_at"
    " FROM redemptions r JOIN vouchers v ON v.code = r.code"
)


def _transfer_row(db: sqlite3.Connection, idempotency_key: str) -> Transfer | None:
    row = db.execute(
        _SELECT_TRANSFERS + " WHERE t.idempotency_key = ?",
        (idempotency_key,),
    ).fetchone()
    return None if row is None else Transfer(**dict(row))


def _rail_delay(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT delay_seconds FROM rail_behavior WHERE id = 1").fetchone()
    return 0 if row is None else int(row["delay_seconds"])


def _chargeback(row: sqlite3.Row) -> dict[str, object]:
    return {
        "id": int(row["seq"]),
        "reference": row["reference"],
        "amount": int(row["amount"]),
        "currency": row["currency"],
        "reason": row["reason"],
        "reported_at": row["reported_at"],
    }
