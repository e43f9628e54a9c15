"""Webhook endpoints on the developers page over real HTTP (no browser): added with the secret shown
once, a test event seen in the delivery log (and verified by the official Standard Webhooks
library at the sandbox receiver), the secret rotated, events replayed, the endpoint deleted.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from tests.support.polling import poll_until
from tests.web.conftest import PAGE, Site, WebAccount
from tests.web.test_developers import Accounts
from voucher_exchange.db.schema import webhook_endpoints

ENDPOINTS = PAGE + "/endpoints"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")


def _receiver(site: Site, behavior: str = "ok") -> dict[str, Any]:
    made = site.exchange.sandbox("POST", "/webhooks/receivers", {"behavior": behavior})
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def _arrivals(site: Site, receiver: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = site.exchange.sandbox(
        "GET", f"/webhooks/receivers/{receiver['id']}/deliveries"
    ).json()["deliveries"]
    return found


def _endpoint_count(site: Site, user_id: str) -> int:
    with site.exchange.ctx.uow(readonly=True) as uow:
        found = uow.conn.execute(
            select(func.count()).where(
                (webhook_endpoints.c.user_id == user_id) & (webhook_endpoints.c.status != "deleted")
            )
        ).scalar_one()
    return int(found)


def _add(me: WebAccount, url: str, events: list[str] | None = None, **extra: str) -> httpx.Response:
    data: dict[str, Any] = {"url": url, "events": events or ["trade.paid"], "csrf_token": me.csrf()}
    return me.web.post(ENDPOINTS, data=data | extra)


def _one_secret(page: httpx.Response) -> str:
    found = SECRET.findall(page.text)
    assert len(found) == 1, page.text[:500]
    return found[0]


def _endpoint_id(me: WebAccount) -> str:
    found = re.search(r'data-endpoint="([0-9a-f-]{36})"', me.web.get(PAGE).text)
    assert found
    return found.group(1)


def test_an_endpoint_shows_its_secret_once_and_a_test_event_reaches_the_log(
    site: Site, accounts: Accounts
) -> None:
    me = accounts()
    receiver = _receiver(site)
    made = _add(me, receiver["url"], ["trade.paid", "trade.received"], description="sandbox")
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    secret = _one_secret(made)
    endpoint_id = _endpoint_id(me)
    assert f'data-shown-once="{ENDPOINTS}/{endpoint_id}"' in made.text
    page = me.web.get(f"{ENDPOINTS}/{endpoint_id}")
    assert page.status_code == 200 and SECRET.findall(page.text) == []
    assert 'id="no-deliveries"' in page.text
    sent = me.web.post(f"{ENDPOINTS}/{endpoint_id}/test", data={"csrf_token": me.csrf()})
    assert (sent.status_code, sent.headers["location"]) == (
        303,
        f"{ENDPOINTS}/{endpoint_id}?notice=test_sent",
    )
    logged = poll_until(
        lambda: "Delivered (200)" in (text := me.web.get(f"{ENDPOINTS}/{endpoint_id}").text) and text,
        20,
        what="the test event in the delivery log",
    )
    assert 'data-type="webhook.test"' in logged
    (arrival,) = _arrivals(site, receiver)
    event = Webhook(secret).verify(arrival["body"], arrival["headers"])
    assert event["type"] == "webhook.test"
    assert f'data-event="{event["id"]}"' in logged


@pytest.mark.parametrize(
    ("url", "events", "message"),
    [
        ("ftp://example.com/hooks", ["trade.paid"], "Give a public https URL"),
        ("not a url", ["trade.paid"], "Give a public https URL"),
        ("https://user:pw@example.com/hooks", ["trade.paid"], "Give a public https URL"),
        ("https://example.com/hooks", [], "Choose at least one event from the list."),
        (
            "https://example.com/hooks",
            ["trade.paid", "trade.everything"],
            "Choose at least one event from the list.",
        ),
    ],
)
def test_a_refused_endpoint_shows_why_keeps_what_was_typed_and_creates_nothing(
    site: Site,
    accounts: Accounts,
    url: str,
    events: list[str],
    message: str,
) -> None:
    me = accounts()
    data: dict[str, Any] = {"url": url, "events": events, "csrf_token": me.csrf()}
    refused = me.web.post(ENDPOINTS, data=data)
    assert refused.status_code == 422
    assert message in refused.text and 'id="endpoint-error"' in refused.text
    assert SECRET.findall(refused.text) == []
    assert _endpoint_count(site, me.user_id) == 0


def test_endpoint_forms_need_our_csrf_token(site: Site, accounts: Accounts) -> None:
    me = accounts()
    _add(me, _receiver(site)["url"])
    endpoint_id = _endpoint_id(me)
    for path in (
        "",
        f"/{endpoint_id}/test",
        f"/{endpoint_id}/rotate-secret",
        f"/{endpoint_id}/replay",
        f"/{endpoint_id}/delete",
    ):
        answer = me.web.post(ENDPOINTS + path, data={"url": "https://example.com/x", "events": "trade.paid"})
        assert answer.status_code == 403, path
    assert _endpoint_count(site, me.user_id) == 1
    assert "Nothing was sent yet." in me.web.get(f"{ENDPOINTS}/{endpoint_id}").text


def test_another_sellers_endpoint_answers_as_if_it_did_not_exist(site: Site, accounts: Accounts) -> None:
    owner, other = accounts(), accounts()
    receiver = _receiver(site)
    _add(owner, receiver["url"])
    endpoint_id = _endpoint_id(owner)
    for target in (endpoint_id, str(uuid.uuid4())):
        assert other.web.get(f"{ENDPOINTS}/{target}").status_code == 404
        for action in ("test", "rotate-secret", "replay", "delete"):
            data = {"csrf_token": other.csrf(), "since": "2026-01-01T00:00"}
            answer = other.web.post(f"{ENDPOINTS}/{target}/{action}", data=data)
            assert answer.status_code == 404, (target, action)
            assert "There is no such webhook endpoint." in answer.text
    assert _endpoint_count(site, owner.user_id) == 1
    assert _arrivals(site, receiver) == []


def test_rotating_replaying_and_deleting(site: Site, accounts: Accounts) -> None:
    me = accounts()
    receiver = _receiver(site)
    first = _one_secret(_add(me, receiver["url"]))
    endpoint_id = _endpoint_id(me)
    here = f"{ENDPOINTS}/{endpoint_id}"
    rotated = me.web.post(here + "/rotate-secret", data={"csrf_token": me.csrf(), "overlap_hours": "1"})
    assert rotated.status_code == 201 and "Your new signing secret" in rotated.text
    second = _one_secret(rotated)
    assert second != first and SECRET.findall(me.web.get(here).text) == []
    bad = me.web.post(here + "/rotate-secret", data={"csrf_token": me.csrf(), "overlap_hours": "9999"})
    assert bad.status_code == 422 and SECRET.findall(bad.text) == []
    # A test event, then a replay of the day: the same event arrives again, signed by both secrets.
    me.web.post(here + "/test", data={"csrf_token": me.csrf()})
    poll_until(lambda: len(_arrivals(site, receiver)) == 1, 20, what="the test event")
    since = (site.exchange.ctx.clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    replayed = me.web.post(here + "/replay", data={"csrf_token": me.csrf(), "since": since + "+00:00"})
    assert (replayed.status_code, replayed.headers["location"]) == (303, here + "?notice=replayed&count=1")
    assert "Events since that time being delivered again: 1." in me.web.get(replayed.headers["location"]).text
    arrivals = poll_until(
        lambda: found if len(found := _arrivals(site, receiver)) == 2 else None, 20, what="the replay"
    )
    ids = {
        Webhook(secret).verify(a["body"], a["headers"])["id"] for a in arrivals for secret in (first, second)
    }
    assert len(ids) == 1
    for since_text in ("yesterday", "2999-01-01T00:00", "0001-01-01T00:00"):
        refused = me.web.post(here + "/replay", data={"csrf_token": me.csrf(), "since": since_text})
        assert refused.status_code == 422 and 'id="replay-error"' in refused.text
        assert "Enter a date and time in the past, like 2026-12-07 09:30." in refused.text
    deleted = me.web.post(here + "/delete", data={"csrf_token": me.csrf()})
    assert (deleted.status_code, deleted.headers["location"]) == (303, PAGE + "?notice=endpoint_deleted")
    listed = me.web.get(PAGE + "?notice=endpoint_deleted").text
    assert "The endpoint was deleted." in listed and 'id="no-endpoints"' in listed
    assert me.web.get(here).status_code == 404
    assert _endpoint_count(site, me.user_id) == 0


def test_no_secret_shown_once_is_logged_or_stored_in_the_clear(
    site: Site, accounts: Accounts, capfd: pytest.CaptureFixture[str]
) -> None:
    me = accounts()
    key = re.search(r"vxk_[A-Za-z0-9_-]{20,}", me.create().text)
    assert key is not None
    secret = _one_secret(_add(me, _receiver(site)["url"]))
    endpoint_id = _endpoint_id(me)
    me.web.post(f"{ENDPOINTS}/{endpoint_id}/test", data={"csrf_token": me.csrf()})
    rotated = _one_secret(
        me.web.post(f"{ENDPOINTS}/{endpoint_id}/rotate-secret", data={"csrf_token": me.csrf()})
    )
    poll_until(
        lambda: "Delivered (200)" in me.web.get(f"{ENDPOINTS}/{endpoint_id}").text, 20, what="delivery"
    )
    shown_once = [key.group(0), secret, rotated]
    out, err = capfd.readouterr()
    assert [s for s in shown_once if s in out + err] == []
    # Every file the exchange writes (its database and journal, mail, the sandboxes' stores): the
    # key only as a keyed hash, the secrets only encrypted, the audit entries and jobs by prefix or id.
    written = b"".join(p.read_bytes() for p in sorted(site.exchange.var_dir.rglob("*")) if p.is_file())
    assert key.group(0)[:12].encode() in written  # the scan does read what was stored: the prefix is
    assert [s for s in shown_once if s.encode() in written] == []
