"""Automated accessibility checks (axe-core, from npm) on the main pages, in both languages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.support.exchange import make_seller, new_account_number
from tests.web.conftest import DESKTOP, Site
from tests.web.flows import become_seller, log_in, submit_voucher, take_quote, wait_status
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD

pytestmark = pytest.mark.browser
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(params=["en", "ko"])
def page(request: pytest.FixtureRequest, browser: Browser, site: Site) -> Iterator[Page]:
    """A page whose CSP lets the test inject axe (the site's own CSP forbids foreign scripts)."""
    context = browser.new_context(base_url=site.url, viewport=DESKTOP, bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": request.param, "url": site.url}])
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA findings for the page as it is now."""
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}))
             .violations.map(v => ({id: v.id, impact: v.impact,
                                    nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return found


def test_seller_pages_pass_axe(page: Page, site: Site) -> None:
    become_seller(page, site)
    for path in (
        "/",
        "/account",
        "/account/identity-document",
        "/account/developers",
        "/sell/batch",
        "/trades",
        "/signup",
    ):
        page.goto(path)
        assert violations(page) == [], path
    take_quote(page, "cultureland", "10000")
    assert violations(page) == [], "sell form"
    page.check("#method-carrier_billing")
    assert violations(page) == [], "sell form stopped for carrier billing"


def test_selling_flow_pages_pass_axe(page: Page, site: Site) -> None:
    seller = become_seller(page, site)
    # The holder check's answer, before the account is saved.
    other = new_account_number()
    holder = {"bank_code": "090", "account_number": other, "holder_name": seller.legal_name}
    site.exchange.sandbox("POST", "/rail/accounts", holder)
    page.goto("/account")
    page.select_option("#bank_code", "090")
    page.fill("#account_number", other)
    page.click("#check-account")
    page.wait_for_selector("#holder-check")
    assert violations(page) == [], "holder check"
    # A batch: the preview, then the results page.
    codes = "\n".join(site.exchange.mint("cultureland", 5000)["code"] for _ in range(2))
    page.goto("/sell/batch")
    page.fill("#codes", codes)
    page.fill("#face", "5000")
    page.select_option("#method", "gift")
    page.click("#batch-preview")
    page.wait_for_selector("#sell-all")
    assert violations(page) == [], "batch preview"
    page.click("#sell-all")
    page.wait_for_selector("#batch-settled", timeout=25_000)
    assert violations(page) == [], "batch results"
    # A refused trade: no payout, and what happened.
    used = site.exchange.mint("cultureland", 10000, state="redeemed")
    take_quote(page, "cultureland", "10000")
    submit_voucher(page, used["code"])
    wait_status(page, "rejected")
    assert violations(page) == [], "refused trade"


def test_staff_pages_pass_axe(page: Page, site: Site) -> None:
    log_in(page, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    with site.exchange.ctx.uow(readonly=True) as uow:
        found = account_repo.by_email(uow.conn, DEMO_OPERATOR_EMAIL)
        assert found is not None
        operator_id = found[0].id
    seller = make_seller(site.exchange)
    held = seller.sell(site.exchange.mint("google-play-kr", 150000), "google-play-kr", 150000)
    assert seller.api.wait_for(held)["status"] == "in_review"
    for path in (
        "/staff",
        "/staff/review",
        "/staff/brands/cultureland",
        "/staff/payouts",
        "/staff/team",
        "/staff/reconciliation",
        "/staff/issuers",
        "/staff/audit",
        "/staff/ledger",
        f"/staff/review/sellers/{operator_id}",
        f"/staff/review/{held}",
    ):
        page.goto(path)
        assert violations(page) == [], path
    # The confirmation asked before lifting a suspension (nothing changes until confirmed).
    page.goto("/staff/brands/happymoney")
    page.click("button[name=status][value=active]")
    page.wait_for_selector("#confirm-status")
    assert violations(page) == [], "confirm a status change"
    page.click("#keep")


def test_trust_shell_pages_pass_axe(page: Page, site: Site) -> None:
    for path in ("/how-it-works", "/fees", "/faq", "/terms", "/privacy"):
        page.goto(path)
        assert violations(page) == [], path
    # Sign-up refused for a missing consent: the error and the marked box pass too.
    page.goto("/signup")
    page.fill("#email", "axe-consent@example.com")
    page.fill("#password", "correct-horse-battery")
    page.evaluate("document.querySelectorAll('[data-consent]').forEach(b => b.removeAttribute('required'))")
    page.click("form[action='/signup'] button[type=submit]")
    page.wait_for_selector("#form-error")
    page.click("#consents details summary")
    assert violations(page) == [], "sign-up with a consent error"
    log_in(page, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    for path in ("/staff/business", "/staff/terms"):
        page.goto(path)
        assert violations(page) == [], path
