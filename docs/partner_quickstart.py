"""Partner quick start: a program sells one voucher with an API key and receives `trade.paid`.

With `make run` going in one terminal, in another:

    .venv/bin/python docs/partner_quickstart.py

It signs up a partner account (once, as a person would: identity, a bank account in that
name), makes a scoped API key, registers the sandbox receiver as its webhook endpoint, sells
a sandbox voucher with the key, and verifies every delivery's signature with the official
`standardwebhooks` library. `VX_API` and `VX_SANDBOX` point it at another exchange.
(tests/e2e/test_partner_quickstart.py runs this file, so it stays true.)
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

API = os.environ.get("VX_API", "http://127.0.0.1:8000/api/v1")
SANDBOX = os.environ.get("VX_SANDBOX", "http://127.0.0.1:8000/sandbox")
NAME = "Kim Minji"


def ok(response: httpx.Response) -> Any:
    """The JSON of a successful answer; otherwise stop with the exchange's error."""
    if response.is_error:
        sys.exit(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


def main() -> None:
    # 1. The partner's account, set up once by a person (the sandbox stands in for the bank).
    person = httpx.Client(base_url=API, timeout=30)
    email = f"partner-{uuid.uuid4().hex[:8]}@example.com"
    token = ok(person.post("/accounts", json={"email": email, "password": "correct-horse-battery"}))["token"]
    person.headers["Authorization"] = f"Bearer {token}"
    ok(
        person.post(
            "/me/identity", json={"legal_name": NAME, "birth_date": "1994-03-02", "phone": "010-1234-5678"}
        )
    )
    account = {"bank_code": "004", "account_number": str(uuid.uuid4().int)[:12], "holder_name": NAME}
    ok(httpx.post(f"{SANDBOX}/rail/accounts", json=account))
    destination = ok(person.post("/me/payout-destinations", json={"kind": "bank_account", **account}))["id"]

    # 2. A key for the program: shown once, stored by the exchange only as a keyed hash.
    scopes = ["quotes:write", "trades:write", "trades:read", "webhooks:manage"]
    key = ok(person.post("/api-keys", json={"name": "quick start", "scopes": scopes}))["key"]
    program = httpx.Client(base_url=API, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    # 3. Where events go: the sandbox receiver stands in for the partner's own server.
    receiver = ok(httpx.post(f"{SANDBOX}/webhooks/receivers", json={}))
    events = ["trade.received", "trade.paid", "trade.rejected"]
    endpoint = ok(program.post("/webhook-endpoints", json={"url": receiver["url"], "events": events}))
    hook = Webhook(endpoint["secret"])  # the secret, too, is shown once

    # 4. Sell a voucher (minted at the sandbox issuer). Idempotency keys make retries safe.
    code = ok(httpx.post(f"{SANDBOX}/issuer/vouchers", json={"brand": "cultureland", "face_value": 50000}))[
        "code"
    ]
    face = {"amount": 50000, "currency": "KRW"}
    quote = ok(program.post("/quotes", json={"brand": "cultureland", "face_value": face}))
    sale = {
        "quote_id": quote["id"],
        "voucher": {"code": code},
        "acquisition": {"method": "gift", "acquired_on": "2026-11-20"},
        "payout_destination_id": destination,
    }
    trade = ok(program.post("/trades", json=sale, headers={"Idempotency-Key": f"sale-{uuid.uuid4().hex}"}))
    print(f"sold: trade {trade['id']}, {quote['payout']['amount']:,} {quote['payout']['currency']} quoted")  # noqa: T201  # a program for people to read

    # 5. Events arrive signed: verify each one (raw body and headers) before believing it.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        arrived = ok(httpx.get(f"{SANDBOX}/webhooks/receivers/{receiver['id']}/deliveries"))["deliveries"]
        seen = {e["id"]: e for e in (hook.verify(d["body"], d["headers"]) for d in arrived)}
        for event in seen.values():
            if event["type"] in ("trade.paid", "trade.rejected"):
                print(f"{event['type']} verified: {event['id']}, status {event['data']['trade']['status']}")  # noqa: T201
                return
        time.sleep(0.5)
    sys.exit("no trade.paid within a minute: is the exchange's worker running?")


if __name__ == "__main__":
    main()
