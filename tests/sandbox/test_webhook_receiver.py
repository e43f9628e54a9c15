"""The sandbox webhook receiver over real HTTP: it keeps what arrives and answers as told."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.live_server import live_server
from voucher_exchange.bootstrap import build_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var_dir: Path = tmp_path_factory.mktemp("receiver")
    with live_server(build_sandbox(var_dir, hang_seconds=0.2)) as url:
        yield url


@pytest.mark.parametrize(("behavior", "status"), [("ok", 200), ("fail", 500), ("gone", 410), ("slow", 200)])
def test_a_receiver_keeps_each_delivery_and_answers_as_its_behavior_says(
    sandbox: str, behavior: str, status: int
) -> None:
    made = httpx.post(f"{sandbox}/webhooks/receivers", json={"behavior": behavior})
    assert made.status_code == 201, made.text
    receiver = made.json()
    assert receiver["url"] == f"{sandbox}/webhooks/receivers/{receiver['id']}"
    body = b'{"id":"evt_1","type":"webhook.test"}'
    answer = httpx.post(receiver["url"], content=body, headers={"webhook-id": "evt_1"}, timeout=5)
    assert answer.status_code == status
    kept = httpx.get(f"{receiver['url']}/deliveries").json()["deliveries"]
    assert [(d["body"], d["headers"]["webhook-id"], d["answered"]) for d in kept] == [
        (body.decode(), "evt_1", status)
    ]


def test_an_unknown_receiver_or_behavior_is_refused(sandbox: str) -> None:
    missing = httpx.get(f"{sandbox}/webhooks/receivers/rcv_nope/deliveries")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "receiver_unknown")
    wrong = httpx.post(f"{sandbox}/webhooks/receivers", json={"behavior": "explode"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (422, "invalid_input")
    default = httpx.post(f"{sandbox}/webhooks/receivers")
    assert default.status_code == 201
