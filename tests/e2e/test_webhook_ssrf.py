"""Outside demo mode a webhook never reaches a private, loopback, link-local or metadata address:
refused when saved, and refused at delivery when the name was pointed elsewhere meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import database_url
from tests.support.exchange import Exchange, make_seller, running_exchange
from tests.support.partner import Partner, partner_server
from tests.support.polling import poll_until
from voucher_exchange.webhooks.http import SafeWebhookSender

pytestmark = pytest.mark.both_backends


@pytest.fixture(scope="module")
def guarded(
    request: pytest.FixtureRequest, backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    var_dir: Path = tmp_path_factory.mktemp(f"ssrf-{backend}")
    url = database_url(request, backend, var_dir, "vx_ssrf")
    with running_exchange(var_dir, url, webhook_private_targets=False) as running:
        yield running


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",  # a name that resolves to 127.0.0.1
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://127.0.0.1:9/hook",  # plain http: only under --demo
    ],
)
def test_a_private_or_metadata_url_is_refused_when_saved(guarded: Exchange, url: str) -> None:
    seller = make_seller(guarded)
    response = seller.api.post("/webhook-endpoints", {"url": url, "events": ["trade.paid"]})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {
        "code": "webhook_url_not_allowed",
        "message": response.json()["error"]["message"],
        "field": "url",
    }
    assert seller.api.get("/webhook-endpoints").json() == {"endpoints": []}


def test_a_name_pointed_at_loopback_after_saving_is_refused_at_delivery(guarded: Exchange) -> None:
    sender = guarded.ctx.webhooks
    assert isinstance(sender, SafeWebhookSender)
    answers = {"partner.example": ["93.184.215.14"]}
    real = sender.resolver
    # The exchange's own resolver, with the partner's DNS under the test's control.
    sender.resolver = lambda host, port: answers.get(host) or real(host, port)
    partner: Partner
    try:
        with partner_server() as partner:
            port = partner.url.rsplit(":", 1)[1]
            seller = make_seller(guarded)
            created = seller.api.post(
                "/webhook-endpoints",
                {"url": f"https://partner.example:{port}/rebind", "events": ["trade.paid"]},
            )
            assert created.status_code == 201, created.text
            answers["partner.example"] = ["127.0.0.1"]  # DNS rebinding: now it is us
            endpoint_id = created.json()["id"]
            assert seller.api.post(f"/webhook-endpoints/{endpoint_id}/test").status_code == 202

            def logged() -> list[dict[str, Any]] | None:
                rows: list[dict[str, Any]] = seller.api.get(
                    f"/webhook-endpoints/{endpoint_id}/deliveries"
                ).json()["deliveries"]
                return rows or None

            attempt = poll_until(logged, 20)[0]
            assert attempt["status_code"] is None
            assert attempt["error"].startswith("refused: ")
            assert attempt["next_attempt_at"] is not None  # retried: the name may point back out
            assert partner.at("rebind") == []
    finally:
        sender.resolver = real
