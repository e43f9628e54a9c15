"""The developers page in a real browser, in Korean on a 390 px phone, checked by axe in each state."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.support.exchange import new_account
from tests.support.polling import poll_until
from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import log_in
from tests.web.test_axe import violations

pytestmark = pytest.mark.browser


@pytest.fixture
def phone_ko(browser: Browser, site: Site) -> Iterator[Page]:
    """A Korean phone whose CSP lets the test inject axe (the site's own CSP forbids foreign scripts)."""
    context = browser.new_context(
        base_url=site.url,
        viewport=PHONE,  # type: ignore[arg-type]
        locale="ko-KR",
        bypass_csp=True,
    )
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _fits(page: Page) -> None:
    """Nothing is wider than the phone: the page never scrolls sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width


def _clean(page: Page, state: str) -> None:
    assert violations(page) == [], state
    _fits(page)


def _program(site: Site, key: str) -> httpx.Client:
    return httpx.Client(base_url=site.url + "/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=20)


def test_a_seller_makes_a_key_sees_it_once_rolls_and_revokes_it_in_korean(phone_ko: Page, site: Site) -> None:
    page = phone_ko
    _, email = new_account(site.exchange)
    log_in(page, email)
    page.goto("/account")
    page.click("#developers-link")
    page.wait_for_url("**/account/developers")
    assert page.inner_text("h1") == "개발자"
    assert page.inner_text("#no-keys") == "아직 사용 중인 키가 없습니다."
    _clean(page, "no keys yet")

    # Refused: no scope ticked. The reason is shown in Korean, what was typed is kept, nothing is made.
    page.fill("#key-name", "쇼핑몰 서버")
    page.click("#create-key")
    page.wait_for_selector("#key-error")
    assert page.inner_text("#key-error") == "키가 쓸 권한을 하나 이상 고르세요."
    assert page.input_value("#key-name") == "쇼핑몰 서버"
    assert page.locator(".key-row").count() == 0
    _clean(page, "refused: no scope")

    page.check("#scope-quotes-write")
    page.check("#scope-trades-read")
    page.click("#create-key")
    page.wait_for_selector("#new-key-secret")
    secret = page.input_value("#new-key-secret")
    assert secret.startswith("vxk_")
    assert page.inner_text("#new-key-title") == "새 키"
    assert "이번 한 번만 보여 드립니다" in page.inner_text("#new-key")
    # The address is the page's own again: reloading cannot send the form a second time.
    assert page.url.endswith("/account/developers")
    page.click("#new-key button[data-copy]")
    page.wait_for_selector("#new-key button[data-copy]:text('복사됨')")
    screenshot(page, "developers-new-key-ko")
    _clean(page, "the new key, shown once")

    page.reload()
    assert page.locator("#new-key-secret").count() == 0
    assert secret not in page.content()
    assert page.locator(".key-row").count() == 1
    assert page.inner_text(".key-row .prefix") == secret[:12] + "…"
    assert page.inner_text(".key-row .last-used") == "없음"
    with _program(site, secret) as program:
        assert program.get("/trades").status_code == 200
    page.reload()
    assert page.inner_text(".key-row .last-used") != "없음"

    # Roll with no overlap: a new key, shown once; the old one stops at once.
    page.select_option(".key-row select[name=overlap_hours]", "0")
    page.click(".roll-key")
    page.wait_for_selector("#new-key-secret")
    assert page.inner_text("#new-key-title") == "교체된 새 키"
    rolled = page.input_value("#new-key-secret")
    assert rolled.startswith("vxk_") and rolled != secret
    _clean(page, "the replacement key")
    with _program(site, secret) as old, _program(site, rolled) as new:
        assert (old.get("/trades").status_code, new.get("/trades").status_code) == (401, 200)

    # Revoking asks first: dismissed, nothing happens; accepted, the key stops.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click(".revoke-key")
    assert page.locator(".revoke-key").count() == 1 and page.locator("#developers-notice").count() == 0
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(".revoke-key")
    page.wait_for_selector("#developers-notice")
    assert "키를 폐기했습니다" in page.inner_text("#developers-notice")
    assert page.locator("#no-keys").count() == 1
    page.click(".past-keys summary")
    assert page.locator(".key-row.past").count() == 2
    _clean(page, "revoked, with the past keys open")
    with _program(site, rolled) as gone:
        assert gone.get("/trades").status_code == 401


def test_a_seller_adds_an_endpoint_and_sees_a_test_event_in_its_log_in_korean(
    phone_ko: Page, site: Site
) -> None:
    page = phone_ko
    _, email = new_account(site.exchange)
    log_in(page, email)
    page.goto("/account/developers")
    assert page.inner_text("#no-endpoints") == "아직 엔드포인트가 없습니다."
    receiver = site.exchange.sandbox("POST", "/webhooks/receivers", {}).json()

    # Refused: no event chosen. Nothing is made, the URL typed stays.
    page.fill("#endpoint-url", receiver["url"])
    page.click("#add-endpoint")
    page.wait_for_selector("#endpoint-error")
    assert "이벤트" in page.inner_text("#endpoint-error")
    assert page.input_value("#endpoint-url") == receiver["url"]
    _clean(page, "refused: no event")

    page.check("#event-trade-paid")
    page.check("#event-trade-received")
    page.click("#add-endpoint")
    page.wait_for_selector("#new-secret-value")
    secret = page.input_value("#new-secret-value")
    assert secret.startswith("whsec_")
    assert page.inner_text("#new-secret-title") == "엔드포인트 서명 비밀값"
    assert page.inner_text("#no-deliveries") == "아직 보낸 것이 없습니다."
    _clean(page, "the endpoint's secret, shown once")

    page.reload()
    assert page.locator("#new-secret-value").count() == 0 and secret not in page.content()
    page.click("#send-test")
    page.wait_for_selector("#endpoint-notice")
    assert "테스트 이벤트" in page.inner_text("#endpoint-notice")
    # The worker delivers it at once; the log shows the attempt once reloaded.
    poll_until(
        lambda: page.reload() or page.locator("tr.attempt[data-type='webhook.test']").count() == 1,
        20,
        what="the test event in the delivery log",
    )
    result = page.inner_text("tr.attempt[data-type='webhook.test'] .result")
    assert result == "전송됨 (200)"
    screenshot(page, "developers-endpoint-log-ko")
    _clean(page, "the delivery log")
    arrived = site.exchange.sandbox("GET", f"/webhooks/receivers/{receiver['id']}/deliveries").json()
    assert [json.loads(d["body"])["type"] for d in arrived["deliveries"]] == ["webhook.test"]

    # The developers page lists it; the endpoint's page is one tap away.
    page.goto("/account/developers")
    assert page.inner_text(".endpoint-row .endpoint-status") == "이벤트 받는 중"
    _clean(page, "one key-less account with an endpoint")


def test_the_developers_page_passes_axe_in_english_too(browser: Browser, site: Site) -> None:
    context = browser.new_context(base_url=site.url, viewport=PHONE, bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "en", "url": site.url}])
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        _, email = new_account(site.exchange)
        log_in(page, email)
        page.goto("/account/developers")
        page.fill("#key-name", "nightly export")
        page.check("#scope-trades-read")
        page.fill("#key-ips", "203.0.113.0/24, 2001:db8::/32")
        page.select_option("#key-expires", "30")
        page.click("#create-key")
        page.wait_for_selector("#new-key-secret")
        assert page.inner_text("#new-key-title") == "Your new key"
        _clean(page, "new key, English")
        page.goto("/account/developers")
        assert "203.0.113.0/24" in page.inner_text(".key-row")
        _clean(page, "one key, English")
    finally:
        context.close()
