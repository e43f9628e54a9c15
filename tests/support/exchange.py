"""A running exchange for tests: real SQLite file, sandboxes over HTTP, API over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from tests.support.live_server import live_server
from tests.support.polling import poll_until
from tests.support.staff import verify_identity
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import IdentityStatus
from voucher_exchange.api.app import create_app
from voucher_exchange.bootstrap import build_context, build_sandbox
from voucher_exchange.config import Settings
from voucher_exchange.context import Context
from voucher_exchange.db import migrate
from voucher_exchange.db.schema import jobs
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD, seed


class ShiftableClock:
    """The real clock plus an offset a test can move (e.g. past a quote's expiry)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


TERMINAL = {"paid", "rejected", "cancelled", "failed", "reversed", "in_review"}


@dataclass
class Exchange:
    """Handles to a running exchange."""

    base_url: str
    sandbox_url: str
    ctx: Context
    var_dir: Path
    database_url: str
    clock: ShiftableClock

    def reset_clock(self) -> None:
        """Back to real time after a test moved the clock ahead; jobs it scheduled meanwhile are due now.

        Otherwise a retry or the recurring chargeback poll would wait out the shift.
        """
        self.clock.offset = timedelta(0)
        now = self.clock.now()
        with self.ctx.uow() as uow:
            uow.conn.execute(
                update(jobs).where((jobs.c.status == "queued") & (jobs.c.run_at > now)).values(run_at=now)
            )
            uow.commit()

    def client(self, token: str | None = None) -> Api:
        """An API client, signed in when given a token."""
        return Api(self, token)

    def operator(self) -> Api:
        """A client signed in as the demo operator (with a verified identity on file: deciding
        trades needs one, and tests sharing this exchange may have changed it through /me/identity)."""
        with self.ctx.uow(readonly=True) as uow:
            found = account_repo.by_email(uow.conn, DEMO_OPERATOR_EMAIL)
        assert found is not None
        if found[0].identity_status is not IdentityStatus.VERIFIED:
            verify_identity(self.ctx, found[0], "Demo Operator")
        api = self.client()
        token = api.post("/sessions", {"email": DEMO_OPERATOR_EMAIL, "password": DEMO_OPERATOR_PASSWORD})
        return self.client(token.json()["token"])

    def sandbox(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """Talk to the sandbox (the outside world) directly."""
        return httpx.request(method, self.sandbox_url + path, json=body, timeout=10)

    def mint(self, brand: str = "cultureland", face_value: int = 50000, **extra: Any) -> dict[str, Any]:
        """A fresh voucher at the sandbox issuer."""
        response = self.sandbox(
            "POST", "/issuer/vouchers", {"brand": brand, "face_value": face_value, **extra}
        )
        assert response.status_code == 201, response.text
        minted: dict[str, Any] = response.json()
        return minted

    def lookup(self, code: str, pin: str | None = None) -> dict[str, Any]:
        """What the issuer says about a voucher now."""
        body: dict[str, Any] = {"code": code}
        if pin:
            body["pin"] = pin
        found: dict[str, Any] = self.sandbox("POST", "/issuer/vouchers/lookup", body).json()
        return found

    def rail_transfers(self, account_number: str) -> list[dict[str, Any]]:
        """Executed transfers the rail shows for an account."""
        response = self.sandbox("GET", f"/rail/transfers?account_number={account_number}")
        transfers: list[dict[str, Any]] = response.json()["transfers"]
        return transfers


class Api:
    """A thin client for the exchange's API."""

    def __init__(self, exchange: Exchange, token: str | None) -> None:
        self.exchange = exchange
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=exchange.base_url + "/api/v1", headers=headers, timeout=30)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.http.post(path, json=body, **kw)

    def wait_for(
        self, trade_id: str, statuses: set[str] | None = None, timeout: float = 20.0
    ) -> dict[str, Any]:
        """Poll a trade until it reaches one of `statuses` (default: any resting status)."""
        wanted = statuses or TERMINAL

        def probe() -> dict[str, Any] | None:
            trade: dict[str, Any] = self.get(f"/trades/{trade_id}").json()
            return trade if trade.get("status") in wanted else None

        return poll_until(probe, timeout, what=f"trade {trade_id} to reach {sorted(wanted)}")


@dataclass
class Seller:
    """A verified seller with a verified bank account."""

    api: Api
    email: str
    destination_id: str
    account_number: str
    legal_name: str

    def quote(self, brand: str = "cultureland", amount: int = 50000, currency: str = "KRW") -> dict[str, Any]:
        response = self.api.post(
            "/quotes", {"brand": brand, "face_value": {"amount": amount, "currency": currency}}
        )
        assert response.status_code == 201, response.text
        quote: dict[str, Any] = response.json()
        return quote

    def trade_body(
        self,
        quote_id: str,
        code: str,
        pin: str | None = None,
        method: str = "gift",
        acquired_on: str = "2026-11-01",
    ) -> dict[str, Any]:
        voucher: dict[str, Any] = {"code": code}
        if pin:
            voucher["pin"] = pin
        return {
            "quote_id": quote_id,
            "voucher": voucher,
            "acquisition": {"method": method, "acquired_on": acquired_on},
            "payout_destination_id": self.destination_id,
        }

    def sell(
        self, voucher: dict[str, Any], brand: str = "cultureland", amount: int = 50000, **kw: Any
    ) -> str:
        """Quote and submit; returns the trade id."""
        quote = self.quote(brand, amount)
        response = self.api.post(
            "/trades", self.trade_body(quote["id"], voucher["code"], voucher.get("pin"), **kw)
        )
        assert response.status_code == 202, response.text
        trade_id: str = response.json()["id"]
        return trade_id


def new_account(exchange: Exchange) -> tuple[Api, str]:
    """A fresh signed-up account."""
    email = f"seller-{uuid.uuid4().hex[:12]}@example.com"
    response = exchange.client().post("/accounts", {"email": email, "password": "correct-horse-battery"})
    assert response.status_code == 201, response.text
    return exchange.client(response.json()["token"]), email


def new_account_number() -> str:
    """A random 12-digit account number."""
    return str(uuid.uuid4().int)[:12]


def make_seller(
    exchange: Exchange,
    legal_name: str | None = None,
    birth_date: str = "1990-05-17",
    nationality: str | None = None,
) -> Seller:
    """Sign up, verify identity, register a bank account in the seller's name."""
    api, email = new_account(exchange)
    name = legal_name or f"Kim Minji {uuid.uuid4().hex[:6]}"
    person = {"legal_name": name, "birth_date": birth_date, "phone": "010-1234-5678"}
    response = api.post("/me/identity", person | ({"nationality": nationality} if nationality else {}))
    assert response.status_code == 200, response.text
    account = new_account_number()
    exchange.sandbox(
        "POST", "/rail/accounts", {"bank_code": "004", "account_number": account, "holder_name": name}
    )
    response = api.post(
        "/me/payout-destinations",
        {"kind": "bank_account", "bank_code": "004", "account_number": account, "holder_name": name},
    )
    assert response.status_code == 201 and response.json()["status"] == "verified", response.text
    return Seller(api, email, response.json()["id"], account, name)


def settings_for(var_dir: Path, database_url: str) -> Settings:
    """Test settings: short timeouts and leases so recovery paths run quickly."""
    return Settings(
        database_url=database_url,
        var_dir=var_dir,
        demo=True,
        http_timeout_seconds=1.0,
        job_lease_seconds=3.0,
        job_max_attempts=6,
        worker_poll_seconds=0.05,
        chargeback_poll_seconds=0.5,
        # The suite signs up hundreds of sellers from 127.0.0.1; tests/e2e/test_abuse_limits.py
        # runs with the real limits (rate_limit_multiplier=1).
        rate_limit_multiplier=1000,
        # Staff helpers sign in without enrolling two-factor; tests/e2e/test_two_factor.py
        # and tests/web/test_two_factor.py run with it required.
        staff_two_factor=False,
        # Partners' test endpoints listen on 127.0.0.1 (tests/e2e/test_webhook_ssrf.py runs without it);
        # a slow endpoint is given up on well within the job lease.
        webhook_private_targets=True,
        webhook_timeout_seconds=1.0,
        # Payouts never queue for the banks' nightly window by the time of day a test runs at
        # (tests/e2e/test_payout_promise.py sets a window of its own).
        bank_window="off",
    )


@contextmanager
def running_exchange(
    var_dir: Path, database_url: str, worker_threads: int = 2, **overrides: Any
) -> Iterator[Exchange]:
    """Sandboxes and the exchange, each on its own port, over real HTTP."""
    with ExitStack() as stack:
        sandbox_url = stack.enter_context(live_server(build_sandbox(var_dir, hang_seconds=2.0))) + ""
        settings = settings_for(var_dir, database_url).with_overrides(**overrides)
        clock = ShiftableClock()
        ctx = build_context(settings, sandbox_url, clock)
        stack.callback(ctx.close)
        migrate.upgrade(ctx.engine)
        seed(ctx)
        base_url = stack.enter_context(
            live_server(create_app(ctx, None, worker_threads), graceful_seconds=3.0)
        )
        yield Exchange(base_url, sandbox_url, ctx, var_dir, database_url, clock)


def today() -> str:
    """Today's date, ISO."""
    return date.today().isoformat()
