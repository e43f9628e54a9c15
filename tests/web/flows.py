"""What a person does in the browser, step by step, for the tests to reuse."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage

from playwright.sync_api import Page, Request

from tests.support.exchange import new_account_number
from tests.support.polling import poll_until
from tests.web.conftest import ACTIVE, Site

PASSWORD = "correct-horse-battery"
SETTLED = 25_000  # ms: the worker pays a trade in well under a second; this is a deadline, not a sleep


@dataclass(frozen=True)
class WebSeller:
    """A seller who signed up, verified and added a bank account through the site."""

    email: str
    legal_name: str
    account_number: str


def mailed_link(site: Site, email: str, what: str, count: int = 1) -> str:
    """The path of the link in the `count`-th e-mail to `email` (`what`: password-reset, verify-email)."""
    mails = poll_until(
        lambda: (found := site.inbox.to(email)) and len(found) >= count and found, 15, what=f"mail to {email}"
    )
    link = re.search(rf"/{what}/vxl_[A-Za-z0-9_-]+", mails[count - 1].get_content())
    assert link, mails[count - 1].get_content()
    return link.group(0)


def trade_mails(site: Site, email: str) -> list[EmailMessage]:
    """The e-mails to `email` without the sign-up's verification link (which every web seller gets first)."""
    return [m for m in site.inbox.to(email) if "/verify-email/" not in m.get_content()]


def sign_up(page: Page, email: str | None = None, site: Site | None = None) -> str:
    """Create an account from the sign-up page, then follow the mailed link; lands on the account page."""
    site = site or ACTIVE[-1]
    email = email or f"web-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.check("#consent_terms")
    page.check("#consent_privacy")
    page.click("form[action='/signup'] button[type=submit]")
    page.wait_for_url("**/signup/sent")
    page.goto(mailed_link(site, email, "verify-email"))
    page.click("#confirm-email")
    page.wait_for_url("**/account")
    return email


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Log in from the log-in page."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def become_seller(page: Page, site: Site, legal_name: str | None = None) -> WebSeller:
    """Sign up, verify identity, add a bank account in one's own name (the bank knows it)."""
    email = sign_up(page, site=site)
    name = legal_name or f"Lee Seoyeon {uuid.uuid4().hex[:6]}"
    page.fill("#legal_name", name)
    page.fill("#birth_date", "1991-04-12")
    page.fill("#phone", "010-2345-6789")
    page.click("form[action='/account/identity'] button[type=submit]")
    page.wait_for_selector("#bank_code")
    account = new_account_number()
    site.exchange.sandbox(
        "POST", "/rail/accounts", {"bank_code": "004", "account_number": account, "holder_name": name}
    )
    add_bank_account(page, "004", account)
    page.wait_for_selector("#kyc-tier:text('1')")
    return WebSeller(email, name, account)


def add_bank_account(page: Page, bank_code: str, account: str) -> None:
    """Pick the bank by name, check the holder (예금주 확인), then add the account."""
    page.goto("/account")
    page.select_option("#bank_code", bank_code)
    page.fill("#account_number", account)
    page.click("#check-account")
    page.wait_for_selector("#holder-check")
    page.click("#save-account")
    page.wait_for_url("**/account")
    page.wait_for_selector(".account-row")


def calculate(page: Page, brand: str, face: str) -> str:
    """Type into the rate calculator; returns the payout it shows."""
    page.goto("/")
    page.select_option("#brand", brand)
    page.fill("#face", face)
    payout = page.wait_for_selector("#calc-payout")
    assert payout is not None
    return payout.inner_text()


def take_quote(page: Page, brand: str, face: str) -> None:
    """Calculator, then 'sell at this price': lands on the sell form.

    Pressing the button must not recalculate: the answer would replace the button between
    press and release, and the browser would drop the click.
    """
    calculate(page, brand, face)
    recalculated: list[str] = []

    def seen(request: Request) -> None:
        if "/calculator" in request.url:
            recalculated.append(request.url)

    page.on("request", seen)
    try:
        page.click("#take-quote")
        page.wait_for_url(re.compile(r".*/sell/[0-9a-f-]{36}$"))
    finally:
        page.remove_listener("request", seen)
    assert recalculated == []


def submit_voucher(page: Page, code: str, method: str = "gift", pin: str | None = None) -> str:
    """Fill the sell form and submit; returns the trade id from the trade page's address."""
    page.fill("#code", code)
    if pin:
        page.fill("#pin", pin)
    page.check(f"#method-{method}")
    page.click("#sell-submit")
    page.wait_for_url(re.compile(r".*/trades/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


def wait_status(page: Page, status: str) -> None:
    """Wait (polling is the page's own htmx timeline) until the trade shows `status`."""
    page.wait_for_selector(f"#trade-status[data-status='{status}']", timeout=SETTLED)
