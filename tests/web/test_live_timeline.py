"""The trade page follows a held trade live: Server-Sent Events, and polling when they are unavailable."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page

from tests.web.conftest import Site
from tests.web.flows import become_seller, submit_voucher, take_quote, wait_status
from voucher_exchange.trades import repository as trade_repo


def _held_trade(page: Page, site: Site) -> str:
    # A big scam-favoured gift card from a brand-new account is held for a person.
    become_seller(page, site)
    voucher = site.exchange.mint("google-play-kr", 150000)
    take_quote(page, "google-play-kr", "150000")
    trade_id = submit_voucher(page, voucher["code"])
    wait_status(page, "in_review")
    return trade_id


def _approve(site: Site, trade_id: str) -> None:
    decided = site.exchange.operator().post(
        f"/review/trades/{trade_id}/decision", {"outcome": "approve", "note": "ok"}
    )
    assert decided.status_code == 200, decided.text


def test_the_timeline_follows_by_server_sent_events(page: Page, site: Site) -> None:
    trade_id = _held_trade(page, site)
    page.wait_for_selector("#timeline[data-live='1']")  # the stream is open: the poll stands down
    assert (page.get_attribute("#timeline", "sse-connect") or "").startswith(
        f"/trades/{trade_id}/events?since=in_review%40"
    )

    _approve(site, trade_id)

    wait_status(page, "paid")
    assert page.locator("#paid-message").count() == 1
    assert page.locator("#timeline[sse-connect]").count() == 0  # it rests: nothing follows it any more


def test_without_event_source_the_timeline_still_polls(browser: Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, locale="en-US")
    context.add_init_script("delete window.EventSource;")
    page = context.new_page()
    try:
        trade_id = _held_trade(page, site)
        assert page.evaluate("typeof window.EventSource") == "undefined"

        _approve(site, trade_id)

        wait_status(page, "paid")  # the in-review poll (every 5 s) saw it
        assert page.locator("#timeline[data-live]").count() == 0
    finally:
        context.close()


def test_the_stream_says_changed_then_rest_and_a_rested_trade_gets_204(page: Page, site: Site) -> None:
    trade_id = _held_trade(page, site)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    since = page.get_attribute("#timeline", "sse-connect")
    assert since is not None
    lines: list[str] = []
    with (
        httpx.Client(base_url=site.url, cookies=cookies, timeout=30) as client,
        client.stream("GET", since) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        _approve(site, trade_id)
        lines.extend(stream.iter_lines())  # the server ends the stream once the trade rests
    events = [(lines[i], lines[i + 1]) for i, line in enumerate(lines) if line.startswith("event: ")]
    assert events[-2:] == [("event: changed", "data: paid"), ("event: rest", "data: paid")]
    assert all(e == "event: changed" for e, _ in events[:-1])

    with site.exchange.ctx.uow(readonly=True) as uow:
        found = trade_repo.version(uow.conn, trade_id)
    assert found is not None
    paid_version = f"paid@{found[2].isoformat().replace('+00:00', 'Z')}"
    with httpx.Client(base_url=site.url, cookies=cookies, timeout=10) as client:
        rested = client.get(f"/trades/{trade_id}/events", params={"since": paid_version})
        page.goto(f"/trades/{trade_id}")
    stranger = httpx.get(f"{site.url}/trades/{trade_id}/events", timeout=10, follow_redirects=False)

    assert (rested.status_code, rested.content) == (204, b"")
    assert page.locator("#timeline[sse-connect]").count() == 0
    assert stranger.status_code in (302, 303)  # not signed in: to the sign-in page, no stream
