"""The issuer guard in the browser: the rates page tells a Korean seller on a phone why a brand is
paused, GET /brands says the same, and the operator sees the issuer and lifts the pause; axe-clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import log_in
from tests.web.test_axe import violations
from voucher_exchange.catalog import service as catalog
from voucher_exchange.catalog.models import BrandStatus
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.issuers import guard
from voucher_exchange.issuers import repository as issuer_repo

pytestmark = pytest.mark.browser
BRAND = "lotte"


@pytest.fixture
def paused(site: Site) -> Iterator[int]:
    """Lotte's issuer found unregistered: a rule pauses its brand. Undone afterwards (the site is shared)."""
    ctx = site.exchange.ctx
    guard.save_facts(
        ctx, BRAND, name="롯데멤버스", registration_status="unregistered", registration_number=None,
        insurance_expires_on=None, exposure_limit=5_000_000, actor=DEMO_OPERATOR_EMAIL,
    )  # fmt: skip
    rule = guard.add_rule(ctx, BRAND, "unregistered", 1, "pause_quotes", None, DEMO_OPERATOR_EMAIL)
    taken = guard.evaluate(ctx).taken
    with ctx.uow(readonly=True) as uow:
        actions = [a for a in issuer_repo.in_force(uow.conn, BRAND) if a.rule_id == rule]
    assert len(actions) == 1 and actions[0].id in taken
    try:
        yield actions[0].id
    finally:
        guard.set_rule_enabled(ctx, rule, False, DEMO_OPERATOR_EMAIL)
        with ctx.uow(readonly=True) as uow:
            standing = [a.id for a in issuer_repo.in_force(uow.conn, BRAND)]
        for action_id in standing:
            guard.lift_action(ctx, action_id, DEMO_OPERATOR_EMAIL)
        guard.save_facts(
            ctx, BRAND, name="Lotte", registration_status="unknown", registration_number=None,
            insurance_expires_on=None, exposure_limit=None, actor=DEMO_OPERATOR_EMAIL,
        )  # fmt: skip
        with ctx.uow() as uow:
            catalog.set_status(uow.conn, BRAND, BrandStatus.ACTIVE, ctx.clock.now())
            uow.commit()


@pytest.fixture
def korean_phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A phone-size page in Korean that lets the test inject axe."""
    context = browser.new_context(base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _today(site: Site) -> str:
    return site.exchange.ctx.clock.now().astimezone(ZoneInfo("Asia/Seoul")).date().isoformat()


def test_the_rates_page_tells_a_korean_seller_why_a_brand_is_paused(
    paused: int, korean_phone: Page, site: Site
) -> None:
    day = _today(site)
    korean_phone.goto("/")

    notice = korean_phone.locator(f"#notice-{BRAND} [role=note]")
    assert notice.all_inner_texts() == [f"발행사 선불업 미등록으로 매입을 일시 중지했습니다 ({day})."]
    assert korean_phone.inner_text(f"#brand option[value={BRAND}]").split() == [
        "롯데",
        "모바일",
        "상품권",
        "—",
        "현재",
        "매입",
        "중단",
    ]
    # It fits a 390 px screen: nothing scrolls sideways.
    assert korean_phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert violations(korean_phone) == []
    screenshot(korean_phone, "rates-issuer-paused-ko")

    brands = httpx.get(f"{site.url}/api/v1/brands", timeout=10).json()["brands"]
    lotte = next(b for b in brands if b["slug"] == BRAND)
    assert (lotte["status"], lotte["status_reason"], lotte["issuer"]) == (
        "paused",
        {
            "ko": f"발행사 선불업 미등록으로 매입을 일시 중지했습니다 ({day}).",
            "en": f"We paused buying on {day} because the issuer is not registered as a prepaid issuer.",
        },
        {"name": "롯데멤버스", "registration": {"status": "unregistered"}},
    )
    cultureland = next(b for b in brands if b["slug"] == "cultureland")
    assert "status_reason" not in cultureland
    happymoney = next(b for b in brands if b["slug"] == "happymoney")  # suspended in the catalog itself
    assert (happymoney["status"], happymoney["status_reason"]["ko"]) == (
        "suspended",
        "발행사의 사정으로 현재 이 상품권은 매입하지 않습니다.",
    )


def test_the_operator_sees_the_issuer_and_lifts_the_pause(
    paused: int, korean_phone: Page, site: Site
) -> None:
    log_in(korean_phone, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    korean_phone.goto("/staff/issuers")

    assert korean_phone.inner_text("h1") == "발행사"
    assert korean_phone.inner_text(f"#limit-{BRAND}") == "5,000,000원"
    assert korean_phone.inner_text(f"#action-{paused} td:first-child") == (
        f"발행사 선불업 미등록으로 매입을 일시 중지했습니다 ({_today(site)})."
    )
    assert violations(korean_phone) == []
    screenshot(korean_phone, "staff-issuers-ko")

    korean_phone.click(f"#action-{paused} button[type=submit]")
    korean_phone.wait_for_url("**/staff/issuers")
    assert korean_phone.inner_text(f"#action-{paused}").split("\t")[3].endswith(f" · {DEMO_OPERATOR_EMAIL}")
    assert korean_phone.locator(f"#action-{paused} button").count() == 0
    with site.exchange.ctx.uow(readonly=True) as uow:
        assert catalog.require_brand(uow.conn, BRAND).status is BrandStatus.ACTIVE
