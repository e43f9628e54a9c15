"""Risk windows (counters and links kept as trades arrive) on SQLite and PostgreSQL.

The features they give must equal the old scans of `trades` exactly: checked against a
brute-force count over seeded random histories, with trades on every window's edges.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, insert, select

from tests.conftest import database_url, migrated_database_url
from tests.support.core import Core
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.db import migrate
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.schema import payout_destinations, quotes, risk_counts, risk_links, trades, users
from voucher_exchange.errors import Conflict
from voucher_exchange.money import Money
from voucher_exchange.ports.issuer import VoucherState, VoucherStatus
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.risk import features, windows
from voucher_exchange.risk import service as risk_service
from voucher_exchange.risk.models import AcquisitionMethod, RiskSubject
from voucher_exchange.risk.screening import period_starts
from voucher_exchange.trades import service as trade_service

pytestmark = pytest.mark.both_backends

WINDOWED = (
    "seller_trades_1h",
    "seller_trades_24h",
    "seller_trades_30d",
    "amount_today",
    "amount_month",
    "device_trades_24h",
    "brand_trades_1h",
    "device_sellers_24h",
    "ip_sellers_24h",
    "account_sellers_30d",
)
HOUR, DAY, MONTH = timedelta(hours=1), timedelta(days=1), timedelta(days=30)
SECOND, TICK = timedelta(seconds=1), timedelta(microseconds=1)
# A seller's own windows count only statuses that count towards limits (here `paid`).
STATUSES = ("paid", "paid", "paid", "rejected")
FACES = (5000, 10000, 30000)
# Mid-minute, so a window's start falls inside a minute; the decisions also start on one.
NOW = datetime(2026, 12, 5, 12, 0, 30, 250000, tzinfo=UTC)
LAST_OF_MONTH = datetime(2026, 12, 31, 11, 0, 30, tzinfo=UTC)
BRANDS = ("cultureland", "booknlife")
# Few enough keys that sellers share them, enough that a seller's newest trade on a key often
# sits on a window's edge (a link is one row per seller and key: its newest trade).
DEVICES = (*(f"dev-{i}" for i in range(8)), None)
IPS = (*(f"10.0.0.{i}" for i in range(8)), None)
ACCOUNTS = tuple(f"fp-{i}" for i in range(6))
# Each seller's registered bank account: some shared with others, some not verified.
REGISTERED = tuple(
    (ACCOUNTS[i % 4] if i % 5 else "fp-x", "rejected" if i % 4 == 3 else "verified") for i in range(10)
)


@dataclass(frozen=True)
class Row:
    """A stored trade, as the brute force reads it."""

    id: str
    user_id: str
    brand: str
    device: str | None
    ip: str | None
    account: str
    created_at: datetime
    status: str = "paid"
    face_value: int = 10000


@pytest.fixture
def engine(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of each backend with the default catalog."""
    e = make_engine(migrated_database_url(request, backend, tmp_path, "vx_windows"))
    with e.begin() as conn:
        catalog_service.import_catalog(conn, catalog_service.default_catalog(), NOW, "test")
    yield e
    e.dispose()


def _sellers(conn: Connection, created: datetime) -> list[str]:
    ids = []
    for fingerprint, status in REGISTERED:
        user = str(uuid.uuid4())
        conn.execute(
            insert(users).values(
                id=user, email=f"{user}@example.com", password_hash="x", kyc_tier=1, created_at=created
            )
        )
        conn.execute(
            insert(payout_destinations).values(
                id=f"d-{user}"[:36], user_id=user, kind="bank_account", bank_code="004",
                account_number_enc=b"\0", account_fingerprint=fingerprint, account_last4="0000",
                holder_name="x", status=status, created_at=created,
            )
        )  # fmt: skip
        ids.append(user)
    return ids


def _store(conn: Connection, row: Row, record: bool = True) -> None:
    """The trade's row and, as submission does, its place in the windows."""
    quote = str(uuid.uuid4())
    conn.execute(
        insert(quotes).values(
            id=quote, user_id=row.user_id, brand_slug=row.brand, currency="KRW", face_value=10000,
            rate_version=1, rate_bps=9000, fee=1000, payout=9000, created_at=row.created_at,
            expires_at=row.created_at, trade_id=row.id,
        )
    )  # fmt: skip
    conn.execute(
        insert(trades).values(
            id=row.id, user_id=row.user_id, quote_id=quote, brand_slug=row.brand, currency="KRW",
            face_value=row.face_value, rate_bps=9000, fee=1000, payout=9000, status=row.status,
            voucher_enc=b"\0",
            voucher_fingerprint="v", voucher_last4="0000", acquisition_method="gift",
            acquired_on=date(2026, 11, 1), payout_destination_id=f"d-{row.user_id}"[:36],
            client_ip=row.ip, device_id=row.device, account_fingerprint=row.account,
            created_at=row.created_at, updated_at=row.created_at,
        )
    )  # fmt: skip
    if record:
        windows.record(
            conn,
            windows.Sighting(row.id, row.user_id, row.brand, row.device, row.ip, row.account, row.created_at),
        )


def _edges(now: datetime) -> list[datetime]:
    """Instants on and around every window's start, its minute's bounds, the local day's and
    month's starts, and now."""
    found = []
    for window in (HOUR, DAY, MONTH):
        start = now - window
        minute = start.replace(second=0, microsecond=0)
        for at in (start, minute, minute + timedelta(minutes=1)):
            found += [at - SECOND, at - TICK, at, at + TICK, at + SECOND]
    for at in period_starts(now, "KR"):
        found += [at - TICK, at, at + TICK]
    return [*found, now - TICK, now, now + TICK, now + SECOND]


def _history(rng: random.Random, sellers: list[str], now: datetime, size: int) -> list[Row]:
    instants = _edges(now) + _edges(now.replace(second=0, microsecond=0))
    rows = []
    for _ in range(size):
        if rng.random() < 0.5:
            at = rng.choice(instants)
        else:  # anywhere in the last 31 days, or a little ahead (a clock running fast)
            at = now - timedelta(microseconds=rng.randrange(-120 * 10**6, 31 * 86400 * 10**6))
        rows.append(
            Row(
                str(uuid.UUID(int=rng.getrandbits(128))), rng.choice(sellers), rng.choice(BRANDS),
                rng.choice(DEVICES), rng.choice(IPS), rng.choice(ACCOUNTS), at,
                rng.choice(STATUSES), rng.choice(FACES),
            )
        )  # fmt: skip
    return rows


def _brute_force(history: list[Row], trade: Row, now: datetime, sellers: list[str]) -> dict[str, int]:
    """The windowed features as the scans of `trades` defined them.

    A seller's own windows count their other trades in a status that counts towards limits
    (here only `paid`); the amounts add the trade's own face value, from the jurisdiction's
    day and calendar month. The windows over every seller count any status.
    """
    day_start, month_start = period_starts(now, "KR")

    def own(start: datetime) -> list[Row]:
        mine = (r for r in history if r.user_id == trade.user_id and r.id != trade.id)
        return [r for r in mine if r.status == "paid" and r.created_at >= start]

    def since(window: timedelta) -> list[Row]:
        return [r for r in history if r.created_at >= now - window]

    registered = {
        user for user, (fp, status) in zip(sellers, REGISTERED, strict=True) if status == "verified"
    }
    shared = {
        u for u, (fp, _) in zip(sellers, REGISTERED, strict=True) if fp == trade.account and u in registered
    }
    day = since(DAY)
    return {
        "seller_trades_1h": len(own(now - HOUR)),
        "seller_trades_24h": len(own(now - DAY)),
        "seller_trades_30d": len(own(now - MONTH)),
        "amount_today": sum(r.face_value for r in own(day_start)) + trade.face_value,
        "amount_month": sum(r.face_value for r in own(month_start)) + trade.face_value,
        "device_trades_24h": sum(
            1 for r in day if trade.device and r.device == trade.device and r.id != trade.id
        ),
        "brand_trades_1h": sum(1 for r in since(HOUR) if r.brand == trade.brand and r.id != trade.id),
        "device_sellers_24h": len({r.user_id for r in day if r.device == trade.device})
        if trade.device
        else 1,
        "ip_sellers_24h": len({r.user_id for r in day if r.ip == trade.ip}) if trade.ip else 1,
        "account_sellers_30d": len({r.user_id for r in since(MONTH) if r.account == trade.account} | shared),
    }


def _computed(conn: Connection, trade: Row, now: datetime) -> dict[str, int]:
    subject = RiskSubject(
        id=trade.id, user_id=trade.user_id, brand_slug=trade.brand, face_value=trade.face_value,
        acquisition_method="gift", payout_destination_id=f"d-{trade.user_id}"[:36], device_id=trade.device,
        client_ip=trade.ip, account_fingerprint=trade.account, counted_statuses=frozenset({"paid"}),
        paid_status="paid", created_at=trade.created_at,
    )  # fmt: skip
    answer = VoucherStatus(VoucherState.ACTIVE, 10000, "KRW", None, None, None)
    found = features.compute(conn, subject, answer, now, "KR").features
    return {name: found[name] for name in WINDOWED}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_windows_give_exactly_what_scanning_the_trades_gave(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    with engine.begin() as conn:
        sellers = _sellers(conn, NOW - timedelta(days=60))
        history = _history(rng, sellers, NOW, 600)
        for row in history:
            _store(conn, row)
    # Decisions mid-minute, on a minute (every window starts exactly on one), just after; and
    # for trades decided long after they came in (a retry a day later) or before (clock skew).
    # On the 31st (20:00 in Seoul) the calendar month began more than 30 days before.
    decisions = [NOW, NOW.replace(second=0, microsecond=0), NOW + TICK, NOW + timedelta(days=1, seconds=7)]
    decisions.append(LAST_OF_MONTH)
    picks = rng.sample(history, 30)
    compared = 0
    with engine.connect() as conn:
        for trade in picks:
            # The trade exactly on each window's edge, and on the instant before it or after.
            around = [trade.created_at + w for w in (HOUR, DAY, MONTH)] + [trade.created_at + DAY + TICK]
            for now in [*decisions, *around, trade.created_at, trade.created_at - timedelta(seconds=30)]:
                assert _computed(conn, trade, now) == _brute_force(history, trade, now, sellers), (trade, now)
                compared += 1
    assert compared == 30 * 11


def test_a_burst_writes_one_counter_row_per_minute_and_shard(engine: Engine) -> None:
    rng = random.Random(7)
    minute = NOW.replace(second=0, microsecond=0)
    with engine.begin() as conn:
        sellers = _sellers(conn, NOW - DAY)
        burst = [
            Row(str(uuid.uuid4()), rng.choice(sellers[:2]), "cultureland", "dev-hot", "10.9.9.9", "fp-a",
                minute + timedelta(seconds=rng.uniform(0, 119.999)))
            for _ in range(300)
        ]  # fmt: skip
        for row in burst:  # not in time order: a link keeps the later of two sightings
            _store(conn, row)
    with engine.connect() as conn:
        counted = conn.execute(select(risk_counts)).all()
        linked = conn.execute(select(risk_links)).all()

    expected = Counter(
        (kind, key, r.created_at.replace(second=0, microsecond=0), windows.shard_of(r.id))
        for r in burst
        for kind, key in (("brand", "cultureland"), ("device", "dev-hot"))
    )
    assert {(r.kind, r.key, r.bucket, r.shard): r.n for r in counted} == dict(expected)
    assert len(counted) <= 2 * 2 * windows.SHARDS  # two kinds, two minutes, eight shards
    assert sum(r.n for r in counted) == 600
    newest = {u: max(r.created_at for r in burst if r.user_id == u) for u in {r.user_id for r in burst}}
    assert sorted((r.kind, r.key, r.user_id, r.last_seen) for r in linked) == sorted(
        (kind, key, user, seen)
        for user, seen in newest.items()
        for kind, key in (("device", "dev-hot"), ("ip", "10.9.9.9"), ("account", "fp-a"))
    )


def test_a_trade_without_device_or_ip_writes_only_its_brand_and_account(engine: Engine) -> None:
    with engine.begin() as conn:
        seller = _sellers(conn, NOW - DAY)[0]
        _store(conn, Row(str(uuid.uuid4()), seller, "booknlife", None, None, "fp-b", NOW))
        counted = conn.execute(select(risk_counts.c.kind, risk_counts.c.key, risk_counts.c.n)).all()
        linked = conn.execute(select(risk_links.c.kind, risk_links.c.key, risk_links.c.user_id)).all()
    assert [tuple(r) for r in counted] == [("brand", "booknlife", 1)]
    assert [tuple(r) for r in linked] == [("account", "fp-b", seller)]


def test_the_migration_backfills_the_windows_from_stored_trades(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    engine = make_engine(database_url(request, backend, tmp_path, "vx_windows_backfill"))
    rng = random.Random(11)
    # The migration takes the real time as now: the history is laid out around it.
    now = datetime.now(UTC)
    config = migrate._config()  # stop at the revision before the windows
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0016")
        catalog_service.import_catalog(conn, catalog_service.default_catalog(), now, "test")
        sellers = _sellers(conn, now - timedelta(days=60))
        history = _history(rng, sellers, now, 300)
        old = [now - timedelta(days=d) for d in (31.01, 40, 90)]  # not kept, and outside every window
        history += [
            Row(str(uuid.uuid4()), sellers[0], "cultureland", "dev-1", "10.0.0.1", "fp-a", at) for at in old
        ]
        for row in history:
            _store(conn, row, record=False)

    migrate.upgrade(engine)

    with engine.connect() as conn:
        oldest = conn.execute(
            select(risk_counts.c.bucket).order_by(risk_counts.c.bucket).limit(1)
        ).scalar_one()
        for trade in rng.sample(history, 40):
            decided = datetime.now(UTC)
            assert _computed(conn, trade, decided) == _brute_force(history, trade, decided, sellers), trade
    engine.dispose()
    assert oldest >= (now - windows.KEEP).replace(second=0, microsecond=0)


def _old_and_new(conn: Connection, now: datetime) -> None:
    cutoff = now - windows.KEEP
    for i, at in enumerate([cutoff - timedelta(days=3), cutoff - SECOND, cutoff, cutoff + SECOND, now]):
        conn.execute(insert(risk_counts).values(kind="brand", key="cultureland", bucket=at, shard=0, n=i + 1))
        conn.execute(insert(risk_links).values(kind="ip", key="10.0.0.1", user_id=f"u-{i}", last_seen=at))


def test_pruning_deletes_only_what_is_older_than_31_days(engine: Engine) -> None:
    with engine.begin() as conn:
        _old_and_new(conn, NOW)
    with engine.begin() as conn:
        assert windows.prune(conn, NOW) == 4
        assert windows.prune(conn, NOW) == 0
        kept_counts = conn.execute(select(risk_counts.c.n).order_by(risk_counts.c.n)).scalars().all()
        kept_links = conn.execute(select(risk_links.c.user_id).order_by(risk_links.c.user_id)).scalars().all()
    assert (kept_counts, kept_links) == ([3, 4, 5], ["u-2", "u-3", "u-4"])


def test_the_pruning_job_works_through_a_backlog_in_chunks(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(windows, "PRUNE_CHUNK", 3)
    now = core.ctx.clock.now()
    with core.ctx.uow() as uow:
        # Ten old rows in each table, then two the job must keep.
        instants = [now - windows.KEEP - timedelta(minutes=m + 1) for m in range(10)]
        for i, at in enumerate([*instants, now - windows.KEEP + timedelta(minutes=5), now]):
            uow.conn.execute(insert(risk_counts).values(kind="device", key="d", bucket=at, shard=0, n=i))
            uow.conn.execute(
                insert(risk_links).values(kind="device", key="d", user_id=f"u-{i}", last_seen=at)
            )
        uow.commit()

    risk_service.prune_windows(core.ctx, "default")  # its own clock: a little after `now`

    with core.ctx.uow(readonly=True) as uow:
        counts = uow.conn.execute(select(risk_counts.c.n)).scalars().all()
        links = uow.conn.execute(select(risk_links.c.user_id)).scalars().all()
    assert (sorted(counts), sorted(links)) == ([10, 11], ["u-10", "u-11"])


def _windows(core: Core) -> tuple[list[Any], list[Any]]:
    with core.ctx.uow(readonly=True) as uow:
        counts = uow.conn.execute(select(risk_counts).order_by(risk_counts.c.kind)).all()
        links = uow.conn.execute(select(risk_links).order_by(risk_links.c.kind)).all()
    return [tuple(r) for r in counts], [tuple(r) for r in links]


def test_a_submission_records_the_trade_and_a_refused_one_leaves_nothing(core: Core) -> None:
    user, destination_id, _ = core.seller()
    voucher = core.sandbox("/issuer/vouchers", {"brand": "cultureland", "face_value": 50000})
    with core.ctx.uow() as uow:
        quote = quote_service.create_quote(
            uow.conn, core.ctx.settings, core.ctx.clock, user, "cultureland", Money(50000, "KRW")
        )
        uow.commit()
    cmd = trade_service.SubmitTrade(
        quote.id, voucher["code"], voucher.get("pin"), AcquisitionMethod.GIFT, date(2026, 11, 1),
        destination_id, client_ip="203.0.113.7", device_id="dev-submit",
    )  # fmt: skip
    with core.ctx.uow() as uow:
        trade_id = trade_service.submit(uow.conn, core.ctx.clock, core.ctx.vault, user, cmd)
        created_at = uow.conn.execute(select(trades.c.created_at).where(trades.c.id == trade_id)).scalar_one()
        fingerprint = uow.conn.execute(
            select(trades.c.account_fingerprint).where(trades.c.id == trade_id)
        ).scalar_one()
        uow.commit()
    minute, shard = created_at.replace(second=0, microsecond=0), windows.shard_of(trade_id)
    after_first = _windows(core)
    assert after_first == (
        [("brand", "cultureland", minute, shard, 1), ("device", "dev-submit", minute, shard, 1)],
        [
            ("account", fingerprint, user.id, created_at),
            ("device", "dev-submit", user.id, created_at),
            ("ip", "203.0.113.7", user.id, created_at),
        ],
    )

    again = trade_service.SubmitTrade(
        quote.id, voucher["code"], voucher.get("pin"), AcquisitionMethod.GIFT, date(2026, 11, 1),
        destination_id, client_ip="198.51.100.1", device_id="dev-other",
    )  # fmt: skip
    with pytest.raises(Conflict) as refused, core.ctx.uow() as uow:
        trade_service.submit(uow.conn, core.ctx.clock, core.ctx.vault, user, again)
        uow.commit()

    assert refused.value.code == "quote_used"
    assert _windows(core) == after_first
