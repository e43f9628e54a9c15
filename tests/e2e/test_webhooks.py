"""Partners learn of their trades by signed webhooks (issue 23, items 2 and 3), over real HTTP.

The partner's endpoint is a real HTTP server in this process; every delivery's signature is
checked with the official Standard Webhooks library (`standardwebhooks`, pinned in dev extras).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from tests.support.exchange import Exchange, Seller, make_seller
from tests.support.partner import Arrival, Partner, partner_server
from tests.support.polling import poll_until
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.db.schema import idempotency_keys, webhook_endpoints, webhook_events
from voucher_exchange.risk.models import AcquisitionMethod
from voucher_exchange.trades import service as trade_service

pytestmark = pytest.mark.both_backends
TRADE_EVENTS = ["trade.received", "trade.in_review", "trade.paid", "trade.rejected", "trade.failed"]


@pytest.fixture(scope="module")
def partner() -> Iterator[Partner]:
    with partner_server() as running:
        yield running


def _endpoint(seller: Seller, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = seller.api.post("/webhook-endpoints", {"url": url, "events": events or TRADE_EVENTS})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _verified(arrival: Arrival, secret: str) -> dict[str, Any]:
    """The event, after the official library accepted its signature (it raises otherwise)."""
    event: dict[str, Any] = Webhook(secret).verify(arrival.body, arrival.headers)
    return event


def _log(seller: Seller, endpoint_id: str, count: int) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = seller.api.get(f"/webhook-endpoints/{endpoint_id}/deliveries").json()[
            "deliveries"
        ]
        return rows if len(rows) >= count else None

    return poll_until(probe, 20, what=f"{count} attempts in the delivery log")


def test_a_sale_reaches_the_partner_signed_with_the_trade_as_the_api_shows_it(
    exchange: Exchange, partner: Partner
) -> None:
    seller = make_seller(exchange)
    name = f"sale-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint(seller, partner.path(name))
    assert endpoint["status"] == "enabled" and endpoint["secret"].startswith("whsec_")
    assert sorted(endpoint["events"]) == sorted(TRADE_EVENTS)
    listed = seller.api.get("/webhook-endpoints").json()["endpoints"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    with exchange.ctx.uow(readonly=True) as uow:
        stored = uow.conn.execute(
            webhook_endpoints.select().where(webhook_endpoints.c.id == endpoint["id"])
        ).one()
    key = base64.b64decode(endpoint["secret"].removeprefix("whsec_"))
    # Encrypted at rest: neither the secret nor its key bytes are in the row.
    assert all(endpoint["secret"] not in str(v) and key not in bytes(str(v), "utf-8") for v in stored)
    assert key not in stored.secret_enc

    trade_id = seller.sell(exchange.mint("cultureland", 50000))
    seller.api.wait_for(trade_id, {"paid"})
    arrivals = partner.wait(name, 2)
    # Not ordered by contract (receivers deduplicate and sort by the trade's own times).
    events = sorted(
        (_verified(a, endpoint["secret"]) for a in arrivals), key=lambda e: e["type"] != "trade.received"
    )
    assert [e["type"] for e in events] == ["trade.received", "trade.paid"]
    assert sorted(a.headers["webhook-id"] for a in arrivals) == sorted(e["id"] for e in events)
    assert all(e["id"].startswith("evt_") for e in events)
    received, paid = (e["data"]["trade"] for e in events)
    assert (received["id"], received["status"], paid["status"]) == (trade_id, "received", "paid")
    # The same shape as GET /trades/{id}: the one view, built at the change.
    now = seller.api.get(f"/trades/{trade_id}").json()
    assert set(paid) == set(now)
    assert {k: paid[k] for k in ("payout", "fee", "face_value", "voucher", "status")} == {
        k: now[k] for k in ("payout", "fee", "face_value", "voucher", "status")
    }
    log = _log(seller, endpoint["id"], 2)
    assert sorted((r["type"], r["attempt"], r["status_code"], r["error"]) for r in log) == [
        ("trade.paid", 1, 200, None),
        ("trade.received", 1, 200, None),
    ]
    assert {r["event_id"] for r in log} == {e["id"] for e in events}


def test_an_endpoint_answering_500_gets_the_same_event_again_and_the_log_shows_both(
    exchange: Exchange, partner: Partner
) -> None:
    seller = make_seller(exchange)
    name = f"flaky-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint(seller, partner.path(name))
    partner.answers[f"/{name}"] = [500]
    assert seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test").status_code == 202
    first = partner.wait(name, 1)[0]
    failed = _log(seller, endpoint["id"], 1)[0]
    assert (failed["attempt"], failed["status_code"], failed["type"]) == (1, 500, "webhook.test")
    retry_at = datetime.fromisoformat(failed["next_attempt_at"])
    wait = (retry_at - datetime.fromisoformat(failed["at"])).total_seconds()
    assert 4.5 <= wait <= 5.5  # 5 s ± 10 % jitter
    try:
        exchange.clock.offset = timedelta(seconds=6)  # the retry comes due; no sleeping
        second = partner.wait(name, 2)[1]
    finally:
        exchange.reset_clock()
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert second.body == first.body
    assert second.headers["webhook-timestamp"] != first.headers["webhook-timestamp"]
    _verified(second, endpoint["secret"])
    log = _log(seller, endpoint["id"], 2)
    assert [(r["attempt"], r["status_code"], r["next_attempt_at"] is None) for r in log] == [
        (2, 200, True),
        (1, 500, False),
    ]
    assert log[0]["event_id"] == log[1]["event_id"] == first.headers["webhook-id"]


def test_an_endpoint_answering_410_is_disabled(exchange: Exchange, partner: Partner) -> None:
    seller = make_seller(exchange)
    name = f"gone-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint(seller, partner.path(name))
    partner.answers[f"/{name}"] = [410]
    seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test")
    partner.wait(name, 1)
    assert [(r["status_code"], r["next_attempt_at"]) for r in _log(seller, endpoint["id"], 1)] == [
        (410, None)
    ]

    def disabled() -> dict[str, Any] | None:
        found: dict[str, Any] = seller.api.get(f"/webhook-endpoints/{endpoint['id']}").json()
        return found if found["status"] == "disabled" else None

    assert poll_until(disabled, 10)["disabled_reason"] == "gone"
    refused = seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test")
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "webhook_endpoint_disabled")


def test_the_event_of_a_rolled_back_change_is_never_sent(exchange: Exchange, partner: Partner) -> None:
    seller = make_seller(exchange)
    name = f"rollback-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint(seller, partner.path(name))
    quote = seller.quote()
    voucher = exchange.mint("cultureland", 50000)
    ctx = exchange.ctx
    with ctx.uow(readonly=True) as uow:
        user_id = seller.api.get("/me").json()["id"]
        user = account_repo.by_id(uow.conn, user_id)
    assert user is not None
    body = seller.trade_body(quote["id"], voucher["code"], voucher.get("pin"))
    cmd = trade_service.SubmitTrade(
        quote_id=quote["id"],
        code=voucher["code"],
        pin=voucher.get("pin"),
        method=AcquisitionMethod(body["acquisition"]["method"]),
        acquired_on=datetime.fromisoformat(body["acquisition"]["acquired_on"]).date(),
        payout_destination_id=seller.destination_id,
        client_ip="127.0.0.1",
        device_id=None,
    )
    written: list[str] = []
    with pytest.raises(RuntimeError), ctx.uow() as uow:
        # The real submission writes the trade and its trade.received event together; then the
        # transaction fails (as on any later error in the request) and rolls back.
        written.append(trade_service.submit(uow.conn, ctx.clock, ctx.vault, user, cmd))
        stored = uow.conn.execute(webhook_events.select().where(webhook_events.c.user_id == user_id)).all()
        assert [r.type for r in stored] == ["trade.received"]
        raise RuntimeError("the change fails after its event was written")
    trade_id = written[0]
    with ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(webhook_events.select().where(webhook_events.c.user_id == user_id)).all()
    assert rows == []
    # A later change is delivered; the rolled-back one never was.
    seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test")
    arrivals = partner.wait(name, 1)
    assert [a.event["type"] for a in arrivals] == ["webhook.test"]
    assert seller.api.get(f"/trades/{trade_id}").status_code == 404
    assert [r["type"] for r in _log(seller, endpoint["id"], 1)] == ["webhook.test"]


def test_during_a_rotation_both_secrets_verify_and_replay_sends_the_same_ids(
    exchange: Exchange, partner: Partner
) -> None:
    seller = make_seller(exchange)
    name = f"rotate-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint(seller, partner.path(name))
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    rotated = seller.api.post(f"/webhook-endpoints/{endpoint['id']}/rotate-secret", {"overlap_hours": 2})
    assert rotated.status_code == 201, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != endpoint["secret"]
    seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test")
    arrival = partner.wait(name, 1)[0]
    assert len(arrival.headers["webhook-signature"].split(" ")) == 2
    assert _verified(arrival, endpoint["secret"]) == _verified(arrival, new_secret)

    replayed = seller.api.post(f"/webhook-endpoints/{endpoint['id']}/replay", {"since": since})
    assert (replayed.status_code, replayed.json()) == (202, {"events": 1})
    again = partner.wait(name, 2)[1]
    assert again.headers["webhook-id"] == arrival.headers["webhook-id"]
    assert again.body == arrival.body
    _verified(again, new_secret)
    assert [(r["attempt"], r["status_code"]) for r in _log(seller, endpoint["id"], 2)] == [(2, 200), (1, 200)]


def test_endpoints_are_private_to_their_owner_and_events_are_checked(
    exchange: Exchange, partner: Partner
) -> None:
    owner, other = make_seller(exchange), make_seller(exchange)
    endpoint = _endpoint(owner, partner.path("private"))
    for method, path in [
        ("GET", ""),
        ("GET", "/deliveries"),
        ("POST", "/test"),
        ("POST", "/rotate-secret"),
        ("DELETE", ""),
    ]:
        response = other.api.http.request(method, f"/webhook-endpoints/{endpoint['id']}{path}")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "webhook_endpoint_unknown")
    bad = owner.api.post("/webhook-endpoints", {"url": partner.path("x"), "events": ["trade.exploded"]})
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "webhook_event_unknown")
    assert owner.api.http.delete(f"/webhook-endpoints/{endpoint['id']}").status_code == 204
    assert owner.api.get(f"/webhook-endpoints/{endpoint['id']}").status_code == 404
    assert owner.api.get("/webhook-endpoints").json() == {"endpoints": []}


def test_the_sandbox_receiver_keeps_what_arrived(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    made = exchange.sandbox("POST", "/webhooks/receivers", {"behavior": "ok"})
    assert made.status_code == 201, made.text
    receiver = made.json()
    endpoint = _endpoint(seller, receiver["url"])
    seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test")

    def arrived() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = exchange.sandbox(
            "GET", f"/webhooks/receivers/{receiver['id']}/deliveries"
        ).json()["deliveries"]
        return found or None

    delivery = poll_until(arrived, 20)[0]
    event = Webhook(endpoint["secret"]).verify(delivery["body"], delivery["headers"])
    assert event["type"] == "webhook.test" and delivery["answered"] == 200


def test_refusals_reviews_and_withdrawals_are_announced_too(exchange: Exchange, partner: Partner) -> None:
    seller = make_seller(exchange)
    name = f"more-{uuid.uuid4().hex[:8]}"
    events = [*TRADE_EVENTS, "trade.cancelled"]
    endpoint = _endpoint(seller, partner.path(name), events)
    refused = seller.sell(exchange.mint("cultureland", 5000), "cultureland", 5000, method="carrier_billing")
    assert seller.api.wait_for(refused)["status"] == "rejected"
    held = seller.sell(exchange.mint("google-play-kr", 150000), "google-play-kr", 150000)
    assert seller.api.wait_for(held)["status"] == "in_review"
    assert seller.api.post(f"/trades/{held}/cancel").status_code == 200
    arrivals = partner.wait(name, 5)
    seen = sorted(
        (e["data"]["trade"]["id"] == refused, e["type"], e["data"]["trade"]["status"])
        for e in (_verified(a, endpoint["secret"]) for a in arrivals)
    )
    assert seen == [
        (False, "trade.cancelled", "cancelled"),
        (False, "trade.in_review", "in_review"),
        (False, "trade.received", "received"),
        (True, "trade.received", "received"),
        (True, "trade.rejected", "rejected"),
    ]
    rejected = next(a.event for a in arrivals if a.event["type"] == "trade.rejected")["data"]["trade"]
    assert rejected["decision"]["reasons"][0]["code"] == "carrier_billing_prohibited"


def test_a_refused_payout_a_reversal_and_the_debt_it_leaves_are_announced(
    exchange: Exchange, partner: Partner
) -> None:
    seller = make_seller(exchange)
    name = f"money-{uuid.uuid4().hex[:8]}"
    events = ["trade.paid", "trade.failed", "trade.reversed", "payout.refused", "receivable.changed"]
    endpoint = _endpoint(seller, partner.path(name), events)
    voucher = exchange.mint("cultureland", 50000)
    paid = seller.api.wait_for(seller.sell(voucher), timeout=30)
    assert paid["status"] == "paid"
    charged = exchange.sandbox("POST", "/issuer/chargebacks", {"code": voucher["code"], "reason": "stolen"})
    assert charged.status_code == 202, charged.text
    seller.api.wait_for(paid["id"], {"reversed"}, timeout=30)
    # The next sale's payout settles the debt first (netting); its bank account then refuses the rest.
    exchange.sandbox(
        "POST",
        "/rail/accounts",
        {"bank_code": "004", "account_number": seller.account_number, "holder_name": seller.legal_name,
         "behavior": "reject"},
    )  # fmt: skip
    refused = seller.sell(exchange.mint("cultureland", 100000), "cultureland", 100000)
    assert seller.api.wait_for(refused, timeout=30)["status"] == "failed"
    arrivals = partner.wait(name, 6)
    seen = [(e["type"], e["data"]["trade"]["id"], e["data"].get("receivable"), e["data"].get("reason"))
            for e in (_verified(a, endpoint["secret"]) for a in arrivals)]  # fmt: skip
    owed = {"amount": 45500, "currency": "KRW"}
    # Deliveries are not ordered (the contract says so): compare what arrived, in a fixed order.
    assert sorted(seen, key=lambda s: (s[1] == refused, s[0])) == [
        ("receivable.changed", paid["id"], owed, "reversal"),
        ("trade.paid", paid["id"], None, None),
        ("trade.reversed", paid["id"], None, None),
        ("payout.refused", refused, None, None),
        ("receivable.changed", refused, {"amount": 0, "currency": "KRW"}, "netting"),
        ("trade.failed", refused, None, None),
    ]
    reversed_trade = next(a.event for a in arrivals if a.event["type"] == "trade.reversed")["data"]["trade"]
    assert reversed_trade["reversal"]["owed"] == owed
    failed_trade = next(a.event for a in arrivals if a.event["type"] == "payout.refused")["data"]["trade"]
    assert failed_trade["can_redirect_payout"] is True


def test_workers_delivering_together_send_each_attempt_once(exchange: Exchange, partner: Partner) -> None:
    # The exchange's worker threads claim delivery jobs concurrently (SKIP LOCKED on PostgreSQL,
    # BEGIN IMMEDIATE on SQLite); each job's lease outlasts the send, so no attempt goes out twice.
    seller = make_seller(exchange)
    name = f"many-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint(seller, partner.path(name))
    sent = [
        seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test").json()["event_id"] for _ in range(20)
    ]
    log = _log(seller, endpoint["id"], 20)
    assert sorted((r["event_id"], r["attempt"], r["status_code"]) for r in log) == sorted(
        (event_id, 1, 200) for event_id in sent
    )
    ids = [a.headers["webhook-id"] for a in partner.at(name)]
    assert sorted(ids) == sorted(sent)


def test_a_retried_create_or_rotation_does_it_once_and_never_replays_the_secret(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    receiver = exchange.sandbox("POST", "/webhooks/receivers", {}).json()
    body = {"url": receiver["url"], "events": ["trade.paid"]}
    key = {"Idempotency-Key": f"create-{uuid.uuid4().hex}"}

    first = seller.api.post("/webhook-endpoints", body, headers=key)
    assert first.status_code == 201 and first.json()["secret"].startswith("whsec_")
    again = seller.api.post("/webhook-endpoints", body, headers=key)
    assert (again.status_code, again.json()) == (201, first.json() | {"secret": None})
    other = seller.api.post("/webhook-endpoints", {**body, "events": ["trade.received"]}, headers=key)
    assert (other.status_code, other.json()["error"]["code"]) == (409, "idempotency_key_reused")
    assert [e["id"] for e in seller.api.get("/webhook-endpoints").json()["endpoints"]] == [first.json()["id"]]

    endpoint = first.json()["id"]
    rotate = {"Idempotency-Key": f"rotate-{uuid.uuid4().hex}"}
    rotated = seller.api.post(f"/webhook-endpoints/{endpoint}/rotate-secret", {}, headers=rotate)
    assert rotated.status_code == 201 and rotated.json()["secret"].startswith("whsec_")
    retried = seller.api.post(f"/webhook-endpoints/{endpoint}/rotate-secret", {}, headers=rotate)
    assert (retried.status_code, retried.json()) == (201, {"secret": None})
    with exchange.ctx.uow(readonly=True) as uow:
        stored = uow.conn.execute(select(idempotency_keys.c.response_body)).scalars().all()
    assert not any("whsec_" in json.dumps(b) for b in stored)


def test_a_partner_key_sells_and_its_endpoint_receives_the_signed_events(
    exchange: Exchange, partner: Partner
) -> None:
    """Issue 23's acceptance: a program with a scoped key registers its endpoint, sells a voucher,
    and receives `trade.received` and `trade.paid`, each verified by the official library."""
    seller = make_seller(exchange)
    scopes = ["quotes:write", "trades:write", "trades:read", "webhooks:manage"]
    made = seller.api.post("/api-keys", {"name": "partner program", "scopes": scopes})
    assert made.status_code == 201, made.text
    program = replace(seller, api=exchange.client(made.json()["key"]))
    name = f"key-{uuid.uuid4().hex[:8]}"
    endpoint = _endpoint(program, partner.path(name), ["trade.received", "trade.paid"])

    trade_id = program.sell(exchange.mint("cultureland", 50000))
    program.api.wait_for(trade_id, {"paid"})
    events = [_verified(a, endpoint["secret"]) for a in partner.wait(name, 2)]
    assert sorted(e["type"] for e in events) == ["trade.paid", "trade.received"]
    assert {e["data"]["trade"]["id"] for e in events} == {trade_id}

    # A key without webhooks:manage touches no endpoint.
    narrow = seller.api.post("/api-keys", {"name": "reader", "scopes": ["trades:read"]}).json()["key"]
    refused = exchange.client(narrow).post(
        "/webhook-endpoints", {"url": partner.path("x"), "events": ["trade.paid"]}
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "insufficient_scope")
    assert [e["id"] for e in seller.api.get("/webhook-endpoints").json()["endpoints"]] == [endpoint["id"]]
