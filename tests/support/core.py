"""The service layer without HTTP in front: a real database, the sandboxes over real HTTP, no workers.

Tests drive the pipeline and payouts by calling them directly, one step at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from tests.support.exchange import ShiftableClock, settings_for
from tests.support.live_server import live_server
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts import service as account_service
from voucher_exchange.accounts.models import User
from voucher_exchange.bootstrap import build_context, build_sandbox
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.context import Context
from voucher_exchange.db import migrate
from voucher_exchange.identity import service as identity_service
from voucher_exchange.money import Money
from voucher_exchange.payouts import service as payout_service
from voucher_exchange.quotes import service as quote_service
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import service as trade_service


@dataclass
class Core:
    """A context on a migrated database with the default catalog, and the sandbox's address."""

    ctx: Context
    sandbox_url: str

    def sandbox(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to the sandbox (the outside world)."""
        response = httpx.post(self.sandbox_url + path, json=body, timeout=10)
        assert response.status_code in (200, 201, 202), response.text
        answer: dict[str, Any] = response.json()
        return answer

    def rail_transfers(self, account_number: str) -> list[dict[str, Any]]:
        """Executed transfers the sandbox rail shows for an account."""
        response = httpx.get(f"{self.sandbox_url}/rail/transfers?account_number={account_number}", timeout=10)
        transfers: list[dict[str, Any]] = response.json()["transfers"]
        return transfers

    def fund(self, amount: int, reference: str | None = None) -> None:
        """Put money in the payout treasury."""
        with self.ctx.uow() as uow:
            payout_service.fund_treasury(
                uow.conn, reference or uuid.uuid4().hex, Money(amount, "KRW"), self.ctx.clock.now()
            )
            uow.commit()

    def seller(
        self,
        rail_behavior: str = "ok",
        name: str | None = None,
        birth_date: date = date(1990, 5, 17),
        email: str | None = None,
    ) -> tuple[User, str, str]:
        """A verified seller with a verified account: (user, destination id, account number)."""
        name = name or f"Kim Minji {uuid.uuid4().hex[:6]}"
        with self.ctx.uow() as uow:
            signed = account_service.sign_up(
                uow.conn,
                email or f"{uuid.uuid4().hex[:10]}@example.com",
                "correct-horse-battery",
                self.ctx.clock.now(),
            )
            uow.commit()
        identity_service.verify_identity(self.ctx, signed.user, name, birth_date, "010-1234-5678")
        account = str(uuid.uuid4().int)[:12]
        self.sandbox(
            "/rail/accounts",
            {"bank_code": "004", "account_number": account, "holder_name": name, "behavior": rail_behavior},
        )
        user = self.user(signed.user.id)
        destination = identity_service.add_payout_destination(self.ctx, user, "004", account, name)
        assert destination.status == "verified"
        return self.user(user.id), destination.id, account

    def user(self, user_id: str) -> User:
        """The user as stored now."""
        with self.ctx.uow(readonly=True) as uow:
            found = account_repo.by_id(uow.conn, user_id)
        assert found is not None
        return found

    def submit(
        self,
        user: User,
        destination_id: str,
        face_value: int = 50000,
        brand: str = "cultureland",
        **minted: Any,
    ) -> str:
        """Mint a voucher at the sandbox issuer, quote it and submit it; returns the trade id."""
        voucher = self.sandbox("/issuer/vouchers", {"brand": brand, "face_value": face_value, **minted})
        with self.ctx.uow() as uow:
            quote = quote_service.create_quote(
                uow.conn, self.ctx.settings, self.ctx.clock, user, brand, Money(face_value, "KRW")
            )
            cmd = trade_service.SubmitTrade(
                quote.id, voucher["code"], voucher.get("pin"), AcquisitionMethod.GIFT, date(2026, 11, 1),
                destination_id,
            )  # fmt: skip
            trade_id = trade_service.submit(uow.conn, self.ctx.clock, self.ctx.vault, user, cmd)
            uow.commit()
        return trade_id


@contextmanager
def running_core(var_dir: Path, database_url: str, sandbox_url: str | None = None) -> Iterator[Core]:
    """A context on a fresh database (treasury empty), and the sandboxes on their own port.

    Given `sandbox_url`, the context talks to that running sandbox instead of starting one.
    """
    with ExitStack() as stack:
        clock = ShiftableClock()
        if sandbox_url is None:
            # A sandbox of its own keeps the test's time: moving the clock moves the outside world too.
            sandbox_url = stack.enter_context(
                live_server(build_sandbox(var_dir, hang_seconds=2.0, clock=clock))
            )
        ctx = build_context(settings_for(var_dir, database_url), sandbox_url, clock)
        stack.callback(ctx.close)
        migrate.upgrade(ctx.engine)
        with ctx.uow() as uow:
            catalog_service.import_catalog(
                uow.conn, catalog_service.default_catalog(), ctx.clock.now(), "test"
            )
            uow.commit()
        yield Core(ctx, sandbox_url)
