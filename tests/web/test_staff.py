"""Staff on the site: a reviewer approves a held trade; an operator changes a rate; code reveal is audited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from tests.support.assertions import assert_nothing_moved
from tests.support.polling import poll_until
from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import (
    WebSeller,
    become_seller,
    calculate,
    log_in,
    submit_voucher,
    take_quote,
    trade_mails,
    wait_status,
)
from voucher_exchange.db.schema import audit_log, ledger_transfers
from voucher_exchange.demo import (
    DEMO_OPERATOR_EMAIL,
    DEMO_OPERATOR_PASSWORD,
    DEMO_REVIEWER_EMAIL,
    DEMO_REVIEWER_PASSWORD,
)

pytestmark = pytest.mark.browser
OpenPage = Callable[..., Page]


def _audit(site: Site, action: str) -> list[tuple[str, str]]:
    with site.exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(audit_log.c.actor, audit_log.c.subject).where(audit_log.c.action == action)
        )
        return [(r.actor, r.subject) for r in rows]


def _held_trade(page: Page, site: Site) -> tuple[str, dict[str, str], WebSeller]:
    """A new account sells a big scam-favoured gift card: the risk engine holds it."""
    seller = become_seller(page, site)
    voucher = site.exchange.mint("google-play-kr", 150000)
    take_quote(page, "google-play-kr", "150000")
    trade_id = submit_voucher(page, voucher["code"])
    wait_status(page, "in_review")
    return trade_id, voucher, seller


def test_a_reviewer_approves_a_held_trade_and_it_is_paid(page: Page, new_page: OpenPage, site: Site) -> None:
    trade_id, voucher, seller = _held_trade(page, site)
    assert "A person is checking this trade" in page.inner_text("#timeline")
    # Held, not refused: still nothing has moved until a person decides.
    assert_nothing_moved(site.exchange, seller, trade_id, voucher, face_value=150000)

    reviewer = new_page()
    log_in(reviewer, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD)
    reviewer.goto("/staff/review?reason=scam_favoured_new_account")
    reviewer.click(f"a[href='/staff/review/{trade_id}']")
    assert "scam_favoured_new_account" in reviewer.inner_text("main")
    assert voucher["code"] not in reviewer.content()
    screenshot(reviewer, "reviewer-trade")
    # Without a note nothing is decided.
    reviewer.fill("#note", "   ")
    reviewer.click("#approve")
    assert "Write a note saying why." in reviewer.inner_text("#form-error")
    reviewer.fill("#note", "Seller confirmed the card was a birthday present; receipt seen.")
    reviewer.click("#approve")
    reviewer.wait_for_url("**/staff/review")

    wait_status(page, "paid")
    assert page.inner_text("#paid-message") == "₩130,500 was sent to your bank account."
    assert [t["amount"] for t in site.exchange.rail_transfers(seller.account_number)] == [130500]
    assert _audit(site, "review.approve")[-1] == (DEMO_REVIEWER_EMAIL, trade_id)
    # The seller was told twice, in English: held, then paid.
    mails = poll_until(
        lambda: m if len(m := trade_mails(site, seller.email)) == 2 else None, 15, what="two e-mails"
    )
    assert [m["Subject"] for m in mails] == [
        "Your Google Play Gift Card (KR) is being checked",
        "Paid: ₩130,500 is on its way to your bank",
    ]


def test_revealing_a_code_needs_the_permission_and_is_audited(
    page: Page, new_page: OpenPage, site: Site
) -> None:
    trade_id, voucher, _ = _held_trade(page, site)
    reviewer = new_page()
    log_in(reviewer, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD)
    reviewer.goto(f"/staff/review/{trade_id}")
    reviewer.click("text=Reveal code (audited)")
    reviewer.wait_for_selector("#revealed .error")
    assert voucher["code"] not in reviewer.content()
    assert (DEMO_REVIEWER_EMAIL, trade_id) not in _audit(site, "voucher.reveal")

    operator = new_page()
    log_in(operator, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    operator.goto(f"/staff/review/{trade_id}")
    operator.click("text=Reveal code (audited)")
    assert operator.inner_text("#revealed-code") == voucher["code"]
    assert (DEMO_OPERATOR_EMAIL, trade_id) in _audit(site, "voucher.reveal")
    assert not [u for u in (operator.url, reviewer.url) if voucher["code"] in u]
    operator.goto("/staff/audit?action=voucher.reveal")
    assert trade_id in operator.inner_text("main") and voucher["code"] not in operator.content()


def test_an_operator_changes_a_rate_and_the_calculator_shows_the_new_payout(
    page: Page, new_page: OpenPage, site: Site
) -> None:
    assert calculate(page, "booknlife", "10000") == "₩8,900"
    held_quote = site.exchange.operator().post(
        "/quotes", {"brand": "booknlife", "face_value": {"amount": 10000, "currency": "KRW"}}
    )
    operator = new_page()
    log_in(operator, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    operator.wait_for_url("**/staff")
    screenshot(operator, "operator-dashboard")
    operator.goto("/staff/brands/booknlife")
    operator.fill("#rate_0", "85.5")
    operator.click("#save-rates")
    operator.wait_for_url("**/staff/brands/booknlife")
    history = operator.inner_text("main")
    assert "v2" in history and "85.5%" in history and DEMO_OPERATOR_EMAIL in history

    assert calculate(page, "booknlife", "10000") == "₩8,550"
    assert page.inner_text("#calc-fee") == "₩1,450 (14.5%)"
    # A quote given before the change keeps its rate.
    assert held_quote.json()["payout"] == {"amount": 8900, "currency": "KRW"}
    assert _audit(site, "brand.rates")[-1] == (DEMO_OPERATOR_EMAIL, "booknlife")

    operator.click("button[name=status][value=paused]")
    operator.wait_for_url("**/staff/brands/booknlife")
    page.goto("/?brand=booknlife&face=10000")
    assert "We are not buying this brand at the moment." in page.inner_text("#calc-result")
    operator.click("button[name=status][value=active]")
    operator.wait_for_url("**/staff/brands/booknlife")


def test_operator_pages_show_ledger_payouts_audit_and_staff(page: Page, site: Site) -> None:
    log_in(page, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    page.goto("/staff/payouts")
    page.fill("#amount", "2,000,000")
    page.fill("#reference", "bank-dep-7781")
    page.click("form[action='/staff/treasury/fund'] button")
    page.wait_for_url("**/staff/payouts")
    assert "bank-dep-7781" in page.inner_text("main") and "₩2,000,000" in page.inner_text("main")
    page.fill("#amount", "5")
    page.fill("#reference", "bank-dep-7781")
    page.click("form[action='/staff/treasury/fund'] button")
    assert "already recorded" in page.inner_text("#form-error")
    # The repeated reference recorded nothing: one deposit, of the first amount.
    with site.exchange.ctx.uow(readonly=True) as uow:
        deposits = uow.conn.execute(
            select(ledger_transfers.c.amount).where(ledger_transfers.c.key == "funding:bank-dep-7781")
        ).scalars()
        assert [int(a) for a in deposits] == [2_000_000]
    page.goto("/staff/ledger")
    assert "treasury" in page.inner_text("main")
    page.goto("/staff/team")
    page.fill("#email", "new-reviewer@example.com")
    page.fill("#password", "long-enough-password")
    page.select_option("#role", "reviewer")
    page.click("form[action='/staff/team'] button[type=submit]")
    page.wait_for_url("**/staff/team")
    assert "new-reviewer@example.com" in page.inner_text("main")
    page.goto("/staff/audit")
    text = page.inner_text("main")
    assert "treasury.fund" in text and "staff.add" in text


def test_the_seller_pages_fit_a_phone(phone: Page, site: Site) -> None:
    become_seller(phone, site)
    calculate(phone, "cultureland", "50000")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "seller-phone-calculator-ko")
