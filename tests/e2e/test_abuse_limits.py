"""Abuse limits with the real numbers (issue 12, item 4): counted before the work, per address and account.

Each test runs on its own exchange (rate_limit_multiplier=1, unlike the shared fixture), on
both databases. Fixed windows are lined up by moving the clock to just after a window
starts, so a test never straddles two windows.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import database_url
from tests.support.exchange import Exchange, new_account, running_exchange
from voucher_exchange.accounts import service as accounts
from voucher_exchange.errors import TooManyRequests, Unauthorized
from voucher_exchange.security import passwords, throttle

pytestmark = pytest.mark.both_backends

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def limited(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    var_dir: Path = tmp_path_factory.mktemp(f"var-limits-{backend}")
    url = database_url(request, backend, var_dir, "vx_limits")
    with running_exchange(var_dir, url, rate_limit_multiplier=1) as running:
        yield running


_HOURS = itertools.count(1)


@pytest.fixture
def window(limited: Exchange) -> Iterator[None]:
    """Line the clock up one second into a fresh 1-hour window (so into every limit's window).

    Each test gets an hour of its own, so no test sees another's counts.
    """
    now = datetime.now(UTC)
    start = (math.ceil(now.timestamp() / 3600) + 48 * next(_HOURS)) * 3600 + 1
    limited.clock.offset = datetime.fromtimestamp(start, UTC) - now
    yield
    limited.clock.offset = timedelta(0)


def _account(exchange: Exchange) -> str:
    email = f"owner-{uuid.uuid4().hex[:10]}@example.com"
    ctx = exchange.ctx
    with ctx.uow() as uow:
        accounts.sign_up(uow.conn, email, PASSWORD, ctx.clock.now())
        uow.commit()
    return email


def _log_in(exchange: Exchange, email: str, password: str, ip: str) -> str:
    """'ok', 'wrong' or 'limited' for one log-in from `ip` (the service, as the API calls it)."""
    try:
        accounts.log_in(exchange.ctx, email, password, ip)
    except Unauthorized:
        return "wrong"
    except TooManyRequests as exc:
        assert exc.retry_after and exc.retry_after > 0
        return "limited"
    return "ok"


def test_forty_racing_guesses_for_one_account_let_at_most_five_reach_the_password_check(
    limited: Exchange, window: None
) -> None:
    email = _account(limited)
    api = httpx.Client(base_url=limited.base_url + "/api/v1", timeout=30)
    barrier = threading.Barrier(40)

    def guess(n: int) -> httpx.Response:
        barrier.wait()
        return api.post("/sessions", json={"email": email, "password": f"wrong-guess-{n:04d}"})

    with ThreadPoolExecutor(40) as pool:
        answers = list(pool.map(guess, range(40)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(401) <= 5
    assert statuses.count(429) >= 35 and set(statuses) <= {401, 429}
    assert all(int(r.headers["Retry-After"]) > 0 for r in answers if r.status_code == 429)
    # Locked for this address, even with the right password, until the window ends.
    right = api.post("/sessions", json={"email": email, "password": PASSWORD})
    assert right.status_code == 429 and right.json()["error"]["code"] == "rate_limited"
    assert 0 < int(right.headers["Retry-After"]) <= 15 * 60


def test_a_stranger_guessing_from_elsewhere_cannot_lock_the_owner_out(
    limited: Exchange, window: None
) -> None:
    email = _account(limited)
    stranger = [_log_in(limited, email, f"guess-{n}-wrong", "198.51.100.7") for n in range(8)]
    assert stranger == ["wrong"] * 5 + ["limited"] * 3
    assert _log_in(limited, email, PASSWORD, "203.0.113.20") == "ok"


def test_the_owners_success_does_not_give_the_guesser_fresh_tries(limited: Exchange, window: None) -> None:
    email = _account(limited)
    guesser = "198.51.100.8"
    assert [_log_in(limited, email, f"try-{n}-wrong", guesser) for n in range(4)] == ["wrong"] * 4
    assert _log_in(limited, email, PASSWORD, "203.0.113.21") == "ok"
    assert [_log_in(limited, email, f"more-{n}-wrong", guesser) for n in range(2)] == ["wrong", "limited"]


def test_one_address_is_limited_across_accounts(limited: Exchange, window: None) -> None:
    ip = "198.51.100.9"
    results = [_log_in(limited, f"nobody-{n}@example.com", "some-password-x", ip) for n in range(52)]
    assert results == ["wrong"] * throttle.LOGIN_PER_IP.count + ["limited"] * 2


def test_sign_ups_are_limited_per_address_with_retry_after(limited: Exchange, window: None) -> None:
    api = httpx.Client(base_url=limited.base_url + "/api/v1", timeout=30)
    codes = []
    for n in range(throttle.SIGN_UP_PER_IP.count + 1):
        email = f"signup-{n}-{uuid.uuid4().hex[:8]}@example.com"
        response = api.post("/accounts", json={"email": email, "password": PASSWORD})
        codes.append(response.status_code)
    assert codes == [201] * throttle.SIGN_UP_PER_IP.count + [429]
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert response.json()["error"]["code"] == "rate_limited"


def test_a_sign_up_turned_away_as_server_busy_does_not_use_up_the_e_mails_sign_ups(
    limited: Exchange, window: None
) -> None:
    api = httpx.Client(base_url=limited.base_url + "/api/v1", timeout=30)
    email = f"busy-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD}
    pool = passwords._slots
    assert pool.acquire(timeout=10)  # the one hashing slot is taken: each sign-up waits 0.5 s, then busy
    try:
        busy = [api.post("/accounts", json=body) for _ in range(throttle.SIGN_UP_PER_EMAIL.count + 2)]
    finally:
        pool.release()

    assert [(r.status_code, r.json()["error"]["code"], r.headers["Retry-After"]) for r in busy] == [
        (429, "server_busy", "1")
    ] * 7
    # The client retried as told, seven times; the e-mail is not locked out for the rest of the hour.
    created = api.post("/accounts", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["email"] == email
    # Real attempts still count: the four more this hour allows, then 429.
    again = [api.post("/accounts", json=body).status_code for _ in range(throttle.SIGN_UP_PER_EMAIL.count)]
    assert again == [409] * (throttle.SIGN_UP_PER_EMAIL.count - 1) + [429]


def test_quotes_and_trades_are_limited_per_account(limited: Exchange, window: None) -> None:
    api, _ = new_account(limited)
    body = {"brand": "cultureland", "face_value": {"amount": 50000, "currency": "KRW"}}
    quotes = [api.post("/quotes", body).status_code for _ in range(throttle.QUOTE_PER_ACCOUNT.count + 1)]
    assert quotes == [201] * throttle.QUOTE_PER_ACCOUNT.count + [429]
    trade = {
        "quote_id": str(uuid.uuid4()),
        "voucher": {"code": "1234567812345670"},
        "acquisition": {"method": "gift", "acquired_on": "2026-11-01"},
        "payout_destination_id": str(uuid.uuid4()),
    }
    trades = [api.post("/trades", trade).status_code for _ in range(throttle.TRADE_PER_ACCOUNT.count + 1)]
    assert trades[-1] == 429 and 429 not in trades[:-1]


def test_password_hashing_runs_in_a_bounded_pool_and_the_excess_is_refused_at_once() -> None:
    passwords.configure(1)
    try:
        holder = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with passwords._slot():
                holder.set()
                release.wait(10)

        thread = threading.Thread(target=hold)
        thread.start()
        assert holder.wait(10)
        started = time.perf_counter()
        with pytest.raises(TooManyRequests) as refused:
            passwords.verify_password(None, "anything-at-all")
        assert time.perf_counter() - started < 1.0
        assert refused.value.code == "server_busy" and refused.value.retry_after == 1
        release.set()
        thread.join()
        assert passwords.verify_password(None, "anything-at-all") is False
    finally:
        passwords.configure(passwords.DEFAULT_SLOTS)


def test_api_tokens_expire_unless_used_and_can_be_revoked(limited: Exchange, window: None) -> None:
    email = _account(limited)
    api = httpx.Client(base_url=limited.base_url + "/api/v1", timeout=30)
    created = api.post("/sessions", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    token = created.json()["token"]
    me = {"Authorization": f"Bearer {token}"}
    base = limited.clock.offset
    limited.clock.offset = base + timedelta(days=20)
    assert api.get("/me", headers=me).status_code == 200  # used: the expiry moves to day 50
    limited.clock.offset = base + timedelta(days=45)
    assert api.get("/me", headers=me).status_code == 200
    limited.clock.offset = base + timedelta(days=45 + 31)
    assert api.get("/me", headers=me).status_code == 401
    limited.clock.offset = base

    second = api.post("/sessions", json={"email": email, "password": PASSWORD}).json()["token"]
    assert api.delete("/sessions/current", headers={"Authorization": f"Bearer {second}"}).status_code == 204
    assert api.get("/me", headers={"Authorization": f"Bearer {second}"}).status_code == 401


def test_sign_out_everywhere_ends_every_token_of_the_account(limited: Exchange, window: None) -> None:
    email = _account(limited)
    api = httpx.Client(base_url=limited.base_url + "/api/v1", timeout=30)
    tokens = [
        api.post("/sessions", json={"email": email, "password": PASSWORD}).json()["token"] for _ in range(3)
    ]
    other = _account(limited)
    kept = api.post("/sessions", json={"email": other, "password": PASSWORD}).json()["token"]
    assert api.delete("/sessions", headers={"Authorization": f"Bearer {tokens[0]}"}).status_code == 204
    assert [api.get("/me", headers={"Authorization": f"Bearer {t}"}).status_code for t in tokens] == [401] * 3
    assert api.get("/me", headers={"Authorization": f"Bearer {kept}"}).status_code == 200


def test_sign_up_responses_carrying_a_token_are_not_cached(limited: Exchange, window: None) -> None:
    api = httpx.Client(base_url=limited.base_url + "/api/v1", timeout=30)
    response = api.post(
        "/accounts", json={"email": f"nc-{uuid.uuid4().hex[:8]}@example.com", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.usefixtures("production_password_hashing")
def test_passwords_are_hashed_with_argon2id_at_the_production_cost() -> None:
    stored = passwords.hash_password(PASSWORD)
    # RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes.
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.verify_password(stored, PASSWORD) is True
    assert passwords.verify_password(stored, PASSWORD + "!") is False


@pytest.mark.usefixtures("production_password_hashing")
def test_a_flood_of_log_ins_is_turned_away_at_the_door_and_other_requests_still_answer(
    limited: Exchange, window: None
) -> None:
    api = httpx.Client(base_url=limited.base_url + "/api/v1", timeout=60)
    barrier = threading.Barrier(30)

    def guess(n: int) -> httpx.Response:
        barrier.wait()
        return api.post("/sessions", json={"email": f"flood-{n}@example.com", "password": "wrong-password"})

    with ThreadPoolExecutor(31) as pool:
        answers = pool.map(guess, range(30))
        brands = pool.submit(api.get, "/brands")
        answers = list(answers)
    busy = [r for r in answers if r.status_code == 429 and r.json()["error"]["code"] == "server_busy"]
    assert busy and all(r.headers["Retry-After"] == "1" for r in busy)
    assert {r.status_code for r in answers} <= {401, 429}
    assert brands.result().status_code == 200
