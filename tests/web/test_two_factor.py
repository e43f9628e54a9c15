"""Staff two-factor in the browser: enrol on first sign-in, then the code step (English desktop)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Page

from tests.web.conftest import Site, screenshot
from tests.web.flows import PASSWORD
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts.models import Role

pytestmark = pytest.mark.browser


@pytest.fixture
def required(site: Site) -> Iterator[Site]:
    """Two-factor required for staff while the test runs (the shared site's helpers sign staff in without)."""
    ctx = site.exchange.ctx
    settings = ctx.settings
    ctx.settings = settings.with_overrides(staff_two_factor=True)
    yield site
    ctx.settings = settings


def _sign_in(page: Page, email: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")


def test_a_reviewer_enrols_then_signs_in_with_a_code(required: Site, page: Page) -> None:
    ctx = required.exchange.ctx
    email = f"rev-{uuid.uuid4().hex[:8]}@example.com"
    with ctx.uow() as uow:
        accounts.create_staff(uow.conn, email, PASSWORD, Role.REVIEWER, ctx.clock.now())
        uow.commit()
    _sign_in(page, email)
    page.wait_for_url("**/account/two-factor")  # nothing else until enrolled
    secret = page.inner_text("#totp-secret")  # shown this once
    assert page.get_attribute("#totp-uri", "href").startswith("otpauth://totp/voucher-exchange:")  # type: ignore[union-attr]
    page.goto("/staff/review")
    page.wait_for_url("**/account/two-factor")
    assert page.locator("#two-factor-in-progress").count() == 1  # the same setup, the key not shown again
    assert page.locator("#totp-secret").count() == 0
    page.fill("#totp", pyotp.TOTP(secret).now())
    page.click("form[action='/account/two-factor'] button[type=submit]")
    assert page.locator("#recovery-codes li").count() == 10
    screenshot(page, "two-factor-recovery-codes")
    page.goto("/staff/review")
    assert page.url.endswith("/staff/review")

    page.context.clear_cookies()
    _sign_in(page, email)
    page.wait_for_url("**/login/code**")
    page.fill("#totp", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.click("form[action='/login/code'] button[type=submit]")
    assert (
        page.inner_text("#form-error")
        == "That code is not right, or was already used. Enter the newest code."
    )
    page.fill("#totp", pyotp.TOTP(secret).at(time.time() + 30))  # enrolling spent the current step
    page.click("form[action='/login/code'] button[type=submit]")
    page.wait_for_url("**/staff/review")
