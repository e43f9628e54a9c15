"""A worker SIGKILLed mid-delivery loses no webhook event: another worker sends the same attempt
(the same `webhook-id`) once the dead worker's lease runs out. At least once, never lost."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import database_url
from tests.support.exchange import Exchange, make_seller, running_exchange
from tests.support.partner import Partner, partner_server
from tests.support.polling import poll_until
from tests.support.worker_process import start_worker

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]

WEBHOOK_ENV = {"VX_WEBHOOK_TIMEOUT_SECONDS": "1", "VX_WEBHOOK_PRIVATE_TARGETS": "1"}


@pytest.fixture(scope="module")
def isolated(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    var_dir = tmp_path_factory.mktemp(f"webhook-crash-{backend}")
    url = database_url(request, backend, var_dir, "vx_webhook_crash")
    with running_exchange(var_dir, url, worker_threads=0) as running:
        yield running


@pytest.fixture(scope="module")
def partner() -> Iterator[Partner]:
    with partner_server() as running:
        yield running


@pytest.mark.parametrize("point", ["before_webhook_send", "after_webhook_send"])
def test_a_worker_killed_mid_delivery_loses_no_event(
    isolated: Exchange, partner: Partner, tmp_path: Path, point: str
) -> None:
    seller = make_seller(isolated)
    name = f"crash-{point}-{uuid.uuid4().hex[:8]}"
    created = seller.api.post(
        "/webhook-endpoints", {"url": partner.path(name), "events": ["trade.received", "trade.paid"]}
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    trade_id = seller.sell(isolated.mint("cultureland", 50000))
    log = tmp_path / "worker.log"
    doomed = start_worker(isolated, log, crash_at=point, extra_env=WEBHOOK_ENV)
    assert doomed.wait(timeout=60) == -signal.SIGKILL
    survivor = start_worker(isolated, log, extra_env=WEBHOOK_ENV)
    try:
        seller.api.wait_for(trade_id, {"paid"}, timeout=60)

        def both_arrived() -> list[str] | None:
            types = sorted(
                {Webhook(endpoint["secret"]).verify(a.body, a.headers)["type"] for a in partner.at(name)}
            )
            return types if types == ["trade.paid", "trade.received"] else None

        poll_until(both_arrived, 60, what="trade.received and trade.paid at the partner")

        def settled() -> list[tuple[str, int | None]] | None:
            rows = seller.api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["deliveries"]
            done = sorted((r["type"], r["status_code"]) for r in rows)
            return done if done == [("trade.paid", 200), ("trade.received", 200)] else None

        poll_until(settled, 30, what="both deliveries logged as delivered")
    finally:
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=30) == 0
    ids = [a.headers["webhook-id"] for a in partner.at(name)]
    # Each event went out with one id; a kill after sending repeats it (at least once), never a new id.
    assert len(set(ids)) == 2
    if point == "after_webhook_send":
        assert len(ids) == 3
    else:
        assert len(ids) == 2
