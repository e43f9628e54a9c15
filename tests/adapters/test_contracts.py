"""Contract tests: each adapter interface, run against every implementation we have.

Today that is the HTTP client talking to the sandbox over real HTTP (the production path)
and the embedded demo's in-process client calling the same mounted sandbox's state
(`sandbox/inprocess.py`); both must pass every case. A real vendor client joins by adding a
fixture parameter.
"""

from __future__ import annotations

import json
import random
import socket
import string
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from tests.support.live_server import live_server
from voucher_exchange.errors import Conflict, ExternalUnavailable
from voucher_exchange.identity.http import HttpIdentityProvider
from voucher_exchange.issuers.http import HttpIssuer
from voucher_exchange.payouts.http_rail import HttpPayoutRail
from voucher_exchange.ports.identity import IdentityProvider, IdentityResult
from voucher_exchange.ports.issuer import (
    Issuer,
    Redemption,
    VoucherRefused,
    VoucherState,
    VoucherStatus,
)
from voucher_exchange.ports.rail import (
    AccountHolder,
    PayoutRail,
    RailTransfer,
    RailTransferStatus,
)
from voucher_exchange.sandbox.app import create_sandbox_app
from voucher_exchange.sandbox.inprocess import (
    InProcessIdentityProvider,
    InProcessIssuer,
    InProcessPayoutRail,
    Sandboxes,
)
from voucher_exchange.sandbox.issuer import SandboxBrand

BRAND = "test-brand"
HANG_SECONDS = 2.0
SHORT_TIMEOUT = 0.5


def _sixteen_digits_and_pin(rng: random.Random) -> tuple[str, str | None]:
    code = "".join(rng.choice(string.digits) for _ in range(16))
    return code, "".join(rng.choice(string.digits) for _ in range(4))


BRANDS = {BRAND: SandboxBrand("KRW", _sixteen_digits_and_pin)}


class World:
    """The outside world a test arranges: the sandbox's setup endpoints over plain HTTP."""

    def __init__(self, url: str, sandboxes: Sandboxes) -> None:
        self.url = url
        self.sandboxes = sandboxes
        self.http = httpx.Client(base_url=url, timeout=5.0)

    def mint(self, **fields: Any) -> tuple[str, str | None]:
        response = self.http.post("/issuer/vouchers", json={"brand": BRAND, "face_value": 50000, **fields})
        assert response.status_code == 201, response.text
        return response.json()["code"], response.json()["pin"]

    def account(self, number: str, behavior: str = "ok") -> None:
        response = self.http.post(
            "/rail/accounts",
            json={
                "bank_code": "004",
                "account_number": number,
                "holder_name": "김민수",
                "behavior": behavior,
            },
        )
        assert response.status_code == 201, response.text

    def executed(self, number: str) -> list[str]:
        body = self.http.get("/rail/transfers", params={"account_number": number}).json()
        return [t["idempotency_key"] for t in body["transfers"]]

    def redemptions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.http.get("/issuer/redemptions").json()["redemptions"]
        return result


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "sandbox"


@pytest.fixture
def world(state_dir: Path) -> Iterator[World]:
    app = create_sandbox_app(state_dir, BRANDS.get, hang_seconds=HANG_SECONDS)
    with live_server(app) as url:
        w = World(url, app.state.sandboxes)
        yield w
        w.http.close()


# Every implementation of each interface, built from (the world, timeout); add real clients here.
ISSUERS: dict[str, Callable[[World, float], Any]] = {
    "http-sandbox": lambda world, timeout: HttpIssuer(world.url, timeout),
    "in-process-sandbox": lambda world, timeout: InProcessIssuer(world.sandboxes, timeout),
}
RAILS: dict[str, Callable[[World, float], Any]] = {
    "http-sandbox": lambda world, timeout: HttpPayoutRail(world.url, timeout),
    "in-process-sandbox": lambda world, timeout: InProcessPayoutRail(world.sandboxes, timeout),
}
IDENTITY: dict[str, Callable[[World, float], Any]] = {
    "http-sandbox": lambda world, timeout: HttpIdentityProvider(world.url, timeout),
    "in-process-sandbox": lambda world, timeout: InProcessIdentityProvider(world.sandboxes, timeout),
}


@pytest.fixture(params=list(ISSUERS))
def make_issuer(request: pytest.FixtureRequest, world: World) -> Iterator[Callable[..., Issuer]]:
    made: list[Any] = []

    def make(timeout: float = 5.0) -> Issuer:
        made.append(ISSUERS[request.param](world, timeout))
        return cast(Issuer, made[-1])

    yield make
    for issuer in made:
        issuer.close()


@pytest.fixture
def issuer(make_issuer: Callable[..., Issuer]) -> Issuer:
    return make_issuer()


@pytest.fixture(params=list(RAILS))
def make_rail(request: pytest.FixtureRequest, world: World) -> Iterator[Callable[..., PayoutRail]]:
    made: list[Any] = []

    def make(timeout: float = 5.0) -> PayoutRail:
        made.append(RAILS[request.param](world, timeout))
        return cast(PayoutRail, made[-1])

    yield make
    for rail in made:
        rail.close()


@pytest.fixture
def rail(make_rail: Callable[..., PayoutRail]) -> PayoutRail:
    return make_rail()


@pytest.fixture(params=list(IDENTITY))
def identity(request: pytest.FixtureRequest, world: World) -> Iterator[IdentityProvider]:
    provider = IDENTITY[request.param](world, 5.0)
    yield provider
    provider.close()


# --- issuer -----------------------------------------------------------------------------


def test_lookup_then_redeem(world: World, issuer: Issuer) -> None:
    code, pin = world.mint(issued_at="2025-03-01T09:30:00+09:00", purchase_channel="gift")

    before = issuer.lookup(BRAND, code, pin)
    redemption = issuer.redeem(BRAND, code, pin, 50000, "trade-1")
    after = issuer.lookup(BRAND, code, pin)

    assert before == VoucherStatus(
        state=VoucherState.ACTIVE,
        balance=50000,
        currency="KRW",
        issued_at=datetime(2025, 3, 1, 0, 30, tzinfo=UTC),
        purchase_channel="gift",
        redeemed_by=None,
    )
    assert before.issued_at is not None and before.issued_at.tzinfo is not None
    assert redemption == Redemption(reference="trade-1", amount=50000)
    assert (after.state, after.balance, after.redeemed_by) == (VoucherState.REDEEMED, 0, "trade-1")
    assert world.redemptions() == [{"reference": "trade-1", "amount": 50000, "brand": BRAND}]


def test_a_voucher_used_elsewhere_tells_when_and_under_which_reference(world: World, issuer: Issuer) -> None:
    code, pin = world.mint(state="redeemed", redeemed_at="2026-12-01T14:03:00+09:00")

    looked = issuer.lookup(BRAND, code, pin)
    with pytest.raises(VoucherRefused) as refused:
        issuer.redeem(BRAND, code, pin, 50000, "trade-1")

    assert (looked.state, looked.balance) == (VoucherState.REDEEMED, 0)
    assert looked.redeemed_at == datetime(2026, 12, 1, 5, 3, tzinfo=UTC)
    assert looked.redeemed_by is not None and looked.redeemed_by.startswith("POS-")
    # The answer exactly as received: what the issuer serves for the same question, byte for byte.
    served = world.http.post("/issuer/vouchers/lookup", json={"brand": BRAND, "code": code, "pin": pin})
    assert looked.answer == served.content
    assert json.loads(looked.answer)["redeemed_at"] == "2026-12-01T05:03:00+00:00"
    assert refused.value.state is VoucherState.REDEEMED
    assert json.loads(refused.value.answer)["error"]["code"] == "voucher_redeemed"
    assert issuer.lookup(BRAND, code, pin) == looked


def test_our_own_redemption_has_its_time_of_use(world: World, issuer: Issuer) -> None:
    code, pin = world.mint()
    assert issuer.lookup(BRAND, code, pin).redeemed_at is None

    issuer.redeem(BRAND, code, pin, 50000, "trade-1")
    after = issuer.lookup(BRAND, code, pin)

    assert after.redeemed_by == "trade-1"
    assert after.redeemed_at is not None and after.redeemed_at.tzinfo is not None
    assert b'"redeemed_at"' in after.answer


def test_redeem_is_idempotent_on_reference(world: World, issuer: Issuer) -> None:
    code, pin = world.mint()

    first = issuer.redeem(BRAND, code, pin, 50000, "trade-1")
    second = issuer.redeem(BRAND, code, pin, 50000, "trade-1")

    assert first == second == Redemption(reference="trade-1", amount=50000)
    assert len(world.redemptions()) == 1


def test_redeemed_by_someone_else_is_refused(world: World, issuer: Issuer) -> None:
    code, pin = world.mint()
    issuer.redeem(BRAND, code, pin, 50000, "trade-1")

    with pytest.raises(VoucherRefused) as refused:
        issuer.redeem(BRAND, code, pin, 50000, "trade-2")

    assert refused.value.state is VoucherState.REDEEMED
    assert issuer.lookup(BRAND, code, pin).redeemed_by == "trade-1"


@pytest.mark.parametrize("state", [VoucherState.EXPIRED, VoucherState.BLOCKED])
def test_unredeemable_vouchers_are_refused_and_untouched(
    world: World, issuer: Issuer, state: VoucherState
) -> None:
    code, pin = world.mint(state=state.value)

    looked = issuer.lookup(BRAND, code, pin)
    with pytest.raises(VoucherRefused) as refused:
        issuer.redeem(BRAND, code, pin, 50000, "trade-1")

    assert (looked.state, looked.balance) == (state, 50000)
    assert refused.value.state is state
    assert issuer.lookup(BRAND, code, pin) == looked
    assert world.redemptions() == []


def test_block_stops_an_unspent_voucher_and_charges_back_a_redeemed_one_only_when_asked(
    world: World, issuer: Issuer
) -> None:
    unspent, unspent_pin = world.mint()
    spent, spent_pin = world.mint()
    issuer.redeem(BRAND, spent, spent_pin, 50000, "trade-9")
    after = issuer.chargebacks(0)

    assert issuer.block(BRAND, unspent, unspent_pin, "stolen", False) is VoucherState.BLOCKED
    assert issuer.lookup(BRAND, unspent, unspent_pin).state is VoucherState.BLOCKED
    with pytest.raises(VoucherRefused):
        issuer.redeem(BRAND, unspent, unspent_pin, 50000, "trade-10")
    # Redeemed by us: it stays redeemed, and nothing is charged back unless asked.
    assert issuer.block(BRAND, spent, spent_pin, "stolen", False) is VoucherState.REDEEMED
    assert issuer.chargebacks(0) == after
    assert issuer.block(BRAND, spent, spent_pin, "fraud", True) is VoucherState.REDEEMED
    charged = issuer.chargebacks(0)
    assert [(c.reference, c.amount, c.currency, c.reason) for c in charged] == [
        ("trade-9", 50000, "KRW", "fraud")
    ]
    assert issuer.block(BRAND, "0000000000000000", None, "stolen", True) is VoucherState.NOT_FOUND


def test_unknown_code_and_wrong_pin_are_not_found(world: World, issuer: Issuer) -> None:
    code, pin = world.mint()
    wrong = "0000" if pin != "0000" else "1111"

    unknown = issuer.lookup(BRAND, "0000000000000000", "1234")
    mistyped = issuer.lookup(BRAND, code, wrong)
    with pytest.raises(VoucherRefused) as refused:
        issuer.redeem(BRAND, code, wrong, 50000, "trade-1")

    assert unknown == VoucherStatus(
        state=VoucherState.NOT_FOUND,
        balance=0,
        currency="KRW",
        issued_at=None,
        purchase_channel=None,
        redeemed_by=None,
    )
    assert mistyped == unknown
    assert refused.value.state is VoucherState.NOT_FOUND
    assert issuer.lookup(BRAND, code, pin).state is VoucherState.ACTIVE


def test_partial_balance_redeems_only_the_exact_balance(world: World, issuer: Issuer) -> None:
    code, pin = world.mint(face_value=50000, balance=20000)

    looked = issuer.lookup(BRAND, code, pin)
    with pytest.raises(VoucherRefused) as refused:
        issuer.redeem(BRAND, code, pin, 50000, "trade-1")
    redemption = issuer.redeem(BRAND, code, pin, 20000, "trade-1")

    assert looked.balance == 20000
    assert refused.value.state is VoucherState.ACTIVE
    assert redemption == Redemption(reference="trade-1", amount=20000)


def test_flaky_issuer_fails_then_works(world: World, issuer: Issuer) -> None:
    code, pin = world.mint(failure="flaky")

    with pytest.raises(ExternalUnavailable) as failed:
        issuer.lookup(BRAND, code, pin)
    looked = issuer.lookup(BRAND, code, pin)
    with pytest.raises(ExternalUnavailable):
        issuer.redeem(BRAND, code, pin, 50000, "trade-1")
    redemption = issuer.redeem(BRAND, code, pin, 50000, "trade-1")

    assert code not in str(failed.value)
    assert looked.state is VoucherState.ACTIVE
    assert redemption == Redemption(reference="trade-1", amount=50000)


def test_timed_out_redeem_has_happened_anyway(world: World, make_issuer: Callable[..., Issuer]) -> None:
    code, pin = world.mint(failure="timeout")
    impatient = make_issuer(SHORT_TIMEOUT)

    with pytest.raises(ExternalUnavailable) as failed:
        impatient.redeem(BRAND, code, pin, 50000, "trade-1")
    looked = impatient.lookup(BRAND, code, pin)
    retried = impatient.redeem(BRAND, code, pin, 50000, "trade-1")

    assert code not in str(failed.value) and str(pin) not in str(failed.value)
    assert (looked.state, looked.redeemed_by) == (VoucherState.REDEEMED, "trade-1")
    assert retried == Redemption(reference="trade-1", amount=50000)


def test_latency_is_waited_out_or_times_out(world: World, make_issuer: Callable[..., Issuer]) -> None:
    code, pin = world.mint(latency_ms=700)

    started = time.monotonic()
    looked = make_issuer(5.0).lookup(BRAND, code, pin)
    waited = time.monotonic() - started
    with pytest.raises(ExternalUnavailable):
        make_issuer(SHORT_TIMEOUT).lookup(BRAND, code, pin)

    assert looked.state is VoucherState.ACTIVE
    assert waited >= 0.7


def test_vouchers_survive_a_sandbox_restart(world: World, issuer: Issuer, state_dir: Path) -> None:
    code, pin = world.mint()
    issuer.redeem(BRAND, code, pin, 50000, "trade-1")

    restarted = create_sandbox_app(state_dir, BRANDS.get)
    with live_server(restarted) as url:
        fresh = HttpIssuer(url, 5.0)
        looked = fresh.lookup(BRAND, code, pin)
        fresh.close()

    assert (looked.state, looked.redeemed_by) == (VoucherState.REDEEMED, "trade-1")


def test_unreachable_issuer_is_unavailable() -> None:
    # A port we bound and released has no listener, so the connection is refused at once.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    issuer = HttpIssuer(f"http://127.0.0.1:{port}/sandbox", 1.0)

    with pytest.raises(ExternalUnavailable):
        issuer.lookup(BRAND, "1234567890123456", "1234")
    issuer.close()


# --- payout rail ------------------------------------------------------------------------


def test_account_holder(world: World, rail: PayoutRail) -> None:
    world.account("110123456789")

    assert rail.account_holder("004", "110123456789") == AccountHolder(True, "김민수")
    assert rail.account_holder("004", "999999999") == AccountHolder(False, None)


def test_transfer_executes_once_per_key(world: World, rail: PayoutRail) -> None:
    world.account("110123456789")

    first = rail.transfer("payout-1", "004", "110123456789", "김민수", 45000, "KRW")
    again = rail.transfer("payout-1", "004", "110123456789", "김민수", 45000, "KRW")

    assert first.status is RailTransferStatus.EXECUTED
    assert (first.idempotency_key, first.amount, first.currency) == ("payout-1", 45000, "KRW")
    assert first.rail_reference is not None
    assert again == first
    assert rail.transfer_status("payout-1") == first
    assert world.executed("110123456789") == ["payout-1"]


def test_reused_key_for_another_transfer_is_a_conflict(world: World, rail: PayoutRail) -> None:
    world.account("110123456789")
    rail.transfer("payout-1", "004", "110123456789", "김민수", 45000, "KRW")

    with pytest.raises(Conflict):
        rail.transfer("payout-1", "004", "110123456789", "김민수", 1, "KRW")

    assert rail.transfer_status("payout-1").amount == 45000


@pytest.mark.parametrize(("behavior", "number"), [("reject", "110123456789"), (None, "555555555")])
def test_rejected_transfers_move_nothing(
    world: World, rail: PayoutRail, behavior: str | None, number: str
) -> None:
    if behavior is not None:
        world.account(number, behavior)

    result = rail.transfer("payout-r", "004", number, "김민수", 45000, "KRW")

    assert result == RailTransfer(
        idempotency_key="payout-r",
        status=RailTransferStatus.REJECTED,
        amount=45000,
        currency="KRW",
        rail_reference=None,
    )
    assert rail.transfer_status("payout-r") == result
    assert world.executed(number) == []


def test_timed_out_transfer_is_executed_and_not_repeated(
    world: World, make_rail: Callable[..., PayoutRail]
) -> None:
    world.account("110123456789", "timeout")
    impatient = make_rail(SHORT_TIMEOUT)

    with pytest.raises(ExternalUnavailable) as failed:
        impatient.transfer("payout-t", "004", "110123456789", "김민수", 45000, "KRW")
    status = impatient.transfer_status("payout-t")
    retried = impatient.transfer("payout-t", "004", "110123456789", "김민수", 45000, "KRW")

    assert "110123456789" not in str(failed.value)
    assert status.status is RailTransferStatus.EXECUTED
    assert retried == status
    assert world.executed("110123456789") == ["payout-t"]


def test_unknown_key_is_not_found(rail: PayoutRail) -> None:
    assert rail.transfer_status("never-sent") == RailTransfer(
        idempotency_key="never-sent",
        status=RailTransferStatus.NOT_FOUND,
        amount=0,
        currency="",
        rail_reference=None,
    )


def test_transfers_survive_a_sandbox_restart(world: World, rail: PayoutRail, state_dir: Path) -> None:
    world.account("110123456789")
    sent = rail.transfer("payout-1", "004", "110123456789", "김민수", 45000, "KRW")

    with live_server(create_sandbox_app(state_dir, BRANDS.get)) as url:
        fresh = HttpPayoutRail(url, 5.0)
        status = fresh.transfer_status("payout-1")
        fresh.close()

    assert status == sent


# --- identity ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "born", "phone", "verdict"),
    [
        ("김민수", date(1990, 5, 17), "010-1234-5678", IdentityResult(True, None)),
        ("Jane Doe", date(1985, 1, 2), "+14155550123", IdentityResult(True, None)),
        ("김민수", date(1990, 5, 17), "02-123-4567", IdentityResult(False, "phone_invalid")),
        ("", date(1990, 5, 17), "010-1234-5678", IdentityResult(False, "identity_invalid")),
        ("김민수", date(2999, 1, 1), "010-1234-5678", IdentityResult(False, "identity_invalid")),
    ],
)
def test_identity_check(
    identity: IdentityProvider, name: str, born: date, phone: str, verdict: IdentityResult
) -> None:
    assert identity.check(name, born, phone) == verdict
