"""KYC tier 2 in a real browser: a Korean seller on a 390 px phone uploads an ID, a reviewer approves it.

Every state is checked by axe and for sideways scrolling; the page tells the seller to cover the
back digits of the 주민등록번호.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from tests.support.staff import PASSWORD as STAFF_PASSWORD
from tests.support.staff import bootstrap_staff
from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import become_seller, log_in
from tests.web.test_axe import violations
from voucher_exchange.accounts.models import Role
from voucher_exchange.db.schema import audit_log, identity_documents

pytestmark = pytest.mark.browser
# A real 1×1 PNG, so the reviewer's <img> decodes it.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def _phone_ko(browser: Browser, site: Site) -> Page:
    context = browser.new_context(
        base_url=site.url,
        viewport=PHONE,  # type: ignore[arg-type]
        locale="ko-KR",
        bypass_csp=True,  # lets the test inject axe; the site's own CSP forbids foreign scripts
    )
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def pages(browser: Browser, site: Site) -> Iterator[tuple[Page, Page]]:
    seller, reviewer = _phone_ko(browser, site), _phone_ko(browser, site)
    yield seller, reviewer
    seller.context.close()
    reviewer.context.close()


def _clean(page: Page, state: str) -> None:
    assert violations(page) == [], state
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (state, width)


def _rows(site: Site) -> int:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return len(uow.conn.execute(select(identity_documents.c.id)).all())


def test_a_korean_seller_uploads_an_id_and_a_reviewer_approves_it(
    pages: tuple[Page, Page], site: Site
) -> None:
    page, reviewer = pages
    seller = become_seller(page, site)
    page.goto("/account")
    page.click("#raise-limits")
    page.wait_for_url("**/account/identity-document")
    assert page.inner_text("h1") == "한도 올리기 (2단계)"
    assert "주민등록번호 뒷자리 7개를 가려 주세요." in page.inner_text("#cover-resident-number")
    assert "하이픈 뒤 일곱 자리" in page.inner_text("#cover-resident-number")
    assert page.get_attribute("#document-status", "data-status") == "none"
    _clean(page, "upload form")
    screenshot(page, "identity-document-ko")

    # A GIF named .png is refused from its bytes; the page says why in Korean and nothing is kept.
    before = _rows(site)
    page.set_input_files(
        "#document", files=[{"name": "id.png", "mimeType": "image/png", "buffer": b"GIF89a" + bytes(64)}]
    )
    page.click("#upload-document")
    page.wait_for_selector("#form-error")
    assert page.inner_text("#form-error") == "신분증을 JPEG, PNG, PDF 파일로 올려 주세요."
    assert _rows(site) == before
    _clean(page, "refused upload")

    page.check("#kind-driver_license")
    page.set_input_files("#document", files=[{"name": "licence.png", "mimeType": "image/png", "buffer": PNG}])
    page.click("#upload-document")
    page.wait_for_selector("#document-status[data-status='pending']")
    assert page.inner_text("#document-status") == "심사 대기 중"
    _clean(page, "pending")

    staff = bootstrap_staff(site.exchange.ctx, Role.REVIEWER)
    log_in(reviewer, staff.email, STAFF_PASSWORD)
    reviewer.goto("/staff/identity-documents")
    row = reviewer.locator("tr.pending-document", has_text=seller.email)
    document_id = row.get_attribute("data-document")
    assert document_id
    _clean(reviewer, "reviewer queue")
    row.locator("a").click()
    reviewer.wait_for_selector("#document-image")
    reviewer.wait_for_function("document.querySelector('#document-image').complete")
    assert reviewer.evaluate("document.querySelector('#document-image').naturalWidth") == 1
    assert reviewer.inner_text("#verified-name") == seller.legal_name
    _clean(reviewer, "reviewer document")
    with site.exchange.ctx.uow(readonly=True) as uow:
        viewed = uow.conn.execute(
            select(audit_log.c.actor).where(
                (audit_log.c.action == "identity.document_viewed") & (audit_log.c.subject == document_id)
            )
        ).all()
    assert [r.actor for r in viewed] == [staff.email]
    reviewer.click("#approve-document")
    reviewer.wait_for_url("**/staff/identity-documents")
    assert reviewer.locator(f"tr[data-document='{document_id}']").count() == 0

    page.reload()
    assert page.inner_text("#kyc-tier") == "2"
    assert page.inner_text("#document-status") == "승인"
    _clean(page, "approved")
