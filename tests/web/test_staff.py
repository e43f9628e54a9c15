"""Staff on the site: a reviewer approves a held trade; an operator changes a rate; code reveal is audited."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from tests.support.assertions import assert_nothing_moved
from tests.support.polling import poll_until
from tests.support.staff import PASSWORD as STAFF_PASSWORD
from tests.support.staff import bootstrap_staff
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
from voucher_exchange.accounts.models import Role
from voucher_exchange.db.schema import audit_log, brand_rates, brands, ledger_transfers
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
    assert reviewer.locator("ul.reasons li").get_attribute("data-code") == "scam_favoured_new_account"
    assert "High-value gift card from a new account" in reviewer.inner_text("ul.reasons")
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
    # Not redeemed yet: even the operator sees the code only once a second staff member approves.
    operator.click("text=Reveal code (audited)")
    operator.wait_for_selector("#revealed .error")
    assert voucher["code"] not in operator.content()
    operator.click("#ask-reveal")
    operator.wait_for_selector("#reveal-requests")
    second = bootstrap_staff(site.exchange.ctx, Role.REVIEWER, Role.REVEAL_CODES)
    approver = new_page()
    log_in(approver, second.email, STAFF_PASSWORD)
    approver.goto(f"/staff/review/{trade_id}")
    approver.click("form[action^='/staff/review/reveal-requests/'] button")
    approver.wait_for_selector("#reveal-requests")
    assert voucher["code"] not in approver.content()
    operator.goto(f"/staff/review/{trade_id}")
    operator.click("text=Reveal code (audited)")
    assert operator.inner_text("#revealed-code") == voucher["code"]
    assert (DEMO_OPERATOR_EMAIL, trade_id) in _audit(site, "voucher.reveal")
    assert not [u for u in (operator.url, reviewer.url) if voucher["code"] in u]
    operator.goto("/staff/audit?action=voucher.reveal")
    entry = operator.locator("tr.audit-entry", has=operator.locator(f"a[href='/staff/review/{trade_id}']"))
    assert "Voucher code revealed" in entry.inner_text() and voucher["code"] not in operator.content()


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


def test_operator_pages_show_ledger_payouts_audit_and_staff(
    page: Page, new_page: OpenPage, site: Site
) -> None:
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
    page.select_option("#role", "reviewer")
    page.click("form[action='/staff/team'] button[type=submit]")
    page.wait_for_url("**/staff/team")
    assert "new-reviewer@example.com" in page.inner_text("main")
    # Asked, not yet done: a second operator approves (the new reviewer sets a password by mail).
    second = new_page()
    log_in(second, bootstrap_staff(site.exchange.ctx, Role.OPERATOR).email, STAFF_PASSWORD)
    second.goto("/staff/team")
    second.click("tr.role-request[data-email='new-reviewer@example.com'] form[action$='/approve'] button")
    second.wait_for_url("**/staff/team")
    page.goto("/staff/audit")
    text = page.inner_text("main")
    assert "Treasury funded" in text and "Amount: ₩2,000,000" in text
    assert "Staff member added" in text and "Roles: — → Reviewer" in text


def test_the_seller_pages_fit_a_phone(phone: Page, site: Site) -> None:
    become_seller(phone, site)
    calculate(phone, "cultureland", "50000")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "seller-phone-calculator-ko")


# What a Korean staff member must not meet on their pages: codes, English statuses and reasons,
# English brand names, "min"/"sec" durations, won written "₩", times with AM/PM.
ENGLISH = [
    "in_review", "In review", "Being reviewed", "Paid", "Refused", "Received", "Screening", "Failed",
    "scam_favoured_new_account", "velocity", "risk_score", "High-value", "legitimate", "Legitimate",
    "suspected_fraud", "google-play-kr", "cultureland", "Google Play", "Cultureland", "Gift Card",
    "min", "minutes", "hour", "sec", "ago", "₩", "AM", "PM", "active", "suspended", "Suspended",
    "Active", "none", "gift", "verified", "Verified", "approve", "reject", "review",
]  # fmt: skip


def _english_in(text: str) -> list[str]:
    return [w for w in ENGLISH if re.search(rf"(?<![\w@.-]){re.escape(w)}(?![\w@.-])", text)]


def test_a_korean_reviewer_goes_from_the_queue_to_the_seller_and_related_trades_in_korean(
    page: Page, new_page: OpenPage, site: Site
) -> None:
    seller = become_seller(page, site)
    take_quote(page, "cultureland", "10000")
    first_id = submit_voucher(page, site.exchange.mint("cultureland", 10000)["code"])
    wait_status(page, "paid")
    voucher = site.exchange.mint("google-play-kr", 150000)
    take_quote(page, "google-play-kr", "150000")
    held_id = submit_voucher(page, voucher["code"])
    wait_status(page, "in_review")

    reviewer = new_page("ko-KR", PHONE)
    log_in(reviewer, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD)
    reviewer.goto("/staff/review?reason=scam_favoured_new_account")
    row = reviewer.locator("tr.held-trade", has=reviewer.locator(f"a[href='/staff/review/{held_id}']"))
    cells = row.locator("td").all_inner_texts()
    assert cells[1:4] == ["구글 기프트카드", "150,000원", "신규 계정의 고액 기프트카드"]
    assert re.fullmatch(r"1분 미만|\d+분", cells[0]), cells[0]
    assert _english_in(reviewer.inner_text("main")) == []

    assert reviewer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    row.locator("a.seller-link").click()
    reviewer.wait_for_url("**/staff/review/sellers/*")
    assert reviewer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    seller_page = reviewer.url
    text = reviewer.inner_text("main")
    assert seller.email in text and seller.legal_name in text
    assert "••••" + seller.account_number[-4:] in text and seller.account_number not in reviewer.content()
    assert reviewer.locator("tr.seller-trade").count() == 2
    assert (
        "심사 중" in text and "신규 계정의 고액 기프트카드" in text
    )  # the held trade and why, in risk history
    assert _english_in(text) == [], text
    screenshot(reviewer, "reviewer-seller-ko")

    reviewer.click(f"#seller-trades a[href='/staff/review/{held_id}']")
    reviewer.wait_for_url(f"**/staff/review/{held_id}")
    text = reviewer.inner_text("main")
    assert text.startswith("구글 기프트카드 · 150,000원 · 심사 중")
    assert voucher["code"] not in reviewer.content()
    assert _english_in(text) == [], text
    # The first trade went to the same bank account: it is listed as related, and the link opens it.
    reviewer.click(f"#related-account a[href='/staff/review/{first_id}']")
    reviewer.wait_for_url(f"**/staff/review/{first_id}")
    assert reviewer.inner_text("h1") == "컬쳐랜드 문화상품권 · 10,000원 · 입금 완료"
    assert _english_in(reviewer.inner_text("main")) == []

    # The same seller page for a reviewer who reads English, on a phone too.
    english = new_page("en-US", PHONE)
    log_in(english, DEMO_REVIEWER_EMAIL, DEMO_REVIEWER_PASSWORD)
    english.goto(seller_page)
    text = english.inner_text("#seller-trades")
    assert "Google Play Gift Card (KR)" in text and "₩150,000" in text and "In review" in text
    assert "Cultureland Gift Voucher" in text and "Paid" in text
    assert "High-value gift card from a new account" in english.inner_text("#risk-history")


def _brand(site: Site, slug: str) -> tuple[str, int]:
    """(status, newest rate version) as stored."""
    with site.exchange.ctx.uow(readonly=True) as uow:
        status = uow.conn.execute(select(brands.c.status).where(brands.c.slug == slug)).scalar_one()
        version = uow.conn.execute(
            select(brand_rates.c.version)
            .where(brand_rates.c.brand_slug == slug)
            .order_by(brand_rates.c.version.desc())
        ).first()
    assert version is not None
    return str(status), int(version[0])


def test_a_korean_operator_confirms_a_suspension_and_reads_every_change_before_and_after(
    new_page: OpenPage, site: Site
) -> None:
    operator = new_page("ko-KR")
    log_in(operator, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    operator.goto("/staff/brands/lotte")
    status, version = _brand(site, "lotte")
    assert status == "active"
    operator.fill("#rate_0", "90")
    operator.click("#save-rates")
    operator.wait_for_url("**/staff/brands/lotte")
    assert _brand(site, "lotte") == ("active", version + 1)

    # A rate moved by more than 5 points (a typo: 9 for 90) is shown back before anything is saved.
    operator.fill("#rate_0", "9")
    operator.click("#save-rates")
    assert "0원" in operator.inner_text("#confirm-rates") and "9%" in operator.inner_text("#confirm-rates")
    assert "매입률이 5%p 넘게 바뀝니다" in operator.inner_text("#confirm-rates")  # points, not percent
    assert _brand(site, "lotte") == ("active", version + 1)
    operator.click("#keep")
    operator.wait_for_url("**/staff/brands/lotte")

    # Suspending: the first POST only asks; the brand is still active until the operator confirms.
    operator.click("button[name=status][value=suspended]")
    confirm = operator.inner_text("#confirm-status")
    assert "매입 중 → 변경 후: 매입 정지" in confirm
    assert _brand(site, "lotte")[0] == "active"
    operator.click("#confirm")
    operator.wait_for_url("**/staff/brands/lotte")
    assert _brand(site, "lotte")[0] == "suspended"
    assert operator.inner_text("#brand-status") == "매입 정지"

    operator.goto("/staff/audit")
    rows = operator.locator("tr.audit-entry")
    status_row = rows.filter(has=operator.locator("a[href='/staff/brands/lotte']")).first
    assert status_row.locator("td").nth(2).inner_text() == "상품권 상태 변경"
    assert status_row.locator("td").nth(3).inner_text() == "롯데 모바일 상품권"
    assert status_row.locator(".change").inner_text() == "상태: 매입 중 → 매입 정지"
    rates_row = operator.locator("tr.audit-entry[data-action='brand.rates']").first
    assert rates_row.locator(".change").all_inner_texts() == [
        f"버전: v{version} → v{version + 1}",
        "시세: 0원부터 91.5%; 100,000원부터 92.5% → 0원부터 90%; 100,000원부터 92.5%",
    ]
    assert "\\u" not in operator.inner_text("main") and _english_in(operator.inner_text("#audit")) == []
    screenshot(operator, "operator-audit-ko")

    # Lifting the suspension asks too; then the brand buys again.
    operator.goto("/staff/brands/lotte")
    operator.click("button[name=status][value=active]")
    operator.wait_for_selector("#confirm-status")
    assert _brand(site, "lotte")[0] == "suspended"
    operator.click("#confirm")
    operator.wait_for_url("**/staff/brands/lotte")
    assert _brand(site, "lotte")[0] == "active"
