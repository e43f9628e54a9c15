"""The operator changes the terms: Korean and English texts, a preview, an effective date with notice,
an e-mail to every seller who accepted them, and the public page saying from when the new text applies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import delete, func, select

from tests.support.polling import poll_until
from tests.web.conftest import PHONE, Site
from tests.web.flows import log_in, sign_up
from tests.web.test_axe import violations
from tests.web.test_security import _csrf, _log_in
from voucher_exchange.audit import service as audit
from voucher_exchange.db.schema import consent_documents, jobs
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.trust import service as trust
from voucher_exchange.trust.models import CONSENT_NOTICE

KO_TITLE = "이용약관 제2판"
KO_BODY = "제1조(목적) 이 약관은 상품권 매입 서비스의 이용 조건을 정합니다."
EN_TITLE = "Terms of use, 2nd edition"
EN_BODY = "Article 1 (Purpose) These terms set the conditions of the voucher buying service."


@pytest.fixture
def no_texts(site: Site) -> Iterator[None]:
    """No published consent texts before and after the test (the demo ones apply)."""

    def clear() -> None:
        with site.exchange.ctx.uow() as uow:
            uow.conn.execute(delete(consent_documents))
            uow.commit()

    clear()
    yield
    clear()


@pytest.fixture
def a_seller(site: Site) -> str:
    """A seller who accepted the terms in force (so a change to them needs notice)."""
    email = f"accepted-{uuid.uuid4().hex[:8]}@example.com"
    signed = httpx.post(
        site.url + "/api/v1/accounts", json={"email": email, "password": "correct-horse-battery"}, timeout=20
    )
    assert signed.status_code == 201, signed.text
    return email


@pytest.fixture
def staff_phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A 390 px page in Korean whose CSP lets the test inject axe."""
    context = browser.new_context(base_url=site.url, viewport=PHONE, locale="ko-KR", bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _day(site: Site, days: int) -> date:
    today = trust.local_today(site.exchange.ctx.clock.now(), site.exchange.ctx.settings.jurisdiction)
    return date.fromordinal(today.toordinal() + days)


def _korean_day(site: Site, day: date) -> str:
    return f"{day.year}년 {day.month}월 {day.day}일"


def _stored(site: Site) -> tuple[int, int, int]:
    """(published versions, queued notices, publish audit entries)."""
    with site.exchange.ctx.uow(readonly=True) as uow:
        return (
            uow.conn.execute(select(func.count()).select_from(consent_documents)).scalar_one(),
            uow.conn.execute(
                select(func.count()).select_from(jobs).where(jobs.c.kind == CONSENT_NOTICE)
            ).scalar_one(),
            len(audit.recent(uow.conn, 1000, "consent_document.publish")),
        )


@pytest.mark.browser
def test_staff_preview_then_publish_in_korean_on_a_phone_and_sellers_are_told(
    phone: Page, staff_phone: Page, site: Site, no_texts: None
) -> None:
    seller = sign_up(phone, f"terms-{uuid.uuid4().hex[:8]}@example.com", site)  # accepts the demo terms
    day = _day(site, 7)
    shown_day = _korean_day(site, day)
    before = _stored(site)

    log_in(staff_phone, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    staff_phone.goto("/staff/terms")
    assert staff_phone.input_value("#effective_on") == day.isoformat()  # the earliest day, filled in
    staff_phone.select_option("#kind", "terms")
    staff_phone.fill("#title", KO_TITLE)
    staff_phone.fill("#body", KO_BODY)
    staff_phone.fill("#title_en", EN_TITLE)
    staff_phone.fill("#body_en", EN_BODY)
    staff_phone.click("#preview-document")
    staff_phone.wait_for_selector("#publish-document")
    assert staff_phone.inner_text("#preview-ko h2") == KO_TITLE
    assert staff_phone.inner_text("#preview-ko .doc-body") == KO_BODY
    assert staff_phone.inner_text("#preview-en .doc-body") == EN_BODY
    assert f"이용약관 버전 1, {shown_day}부터 적용됩니다." in staff_phone.inner_text("#preview-summary")
    assert _stored(site) == before  # a preview stores nothing
    assert violations(staff_phone) == [], "preview"
    width = staff_phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width

    staff_phone.click("#publish-document")
    staff_phone.wait_for_selector("#published")
    assert violations(staff_phone) == [], "terms page after publishing"
    entry = _last_publish(site)
    assert (entry.actor, entry.subject) == (DEMO_OPERATOR_EMAIL, "terms:1")
    assert entry.details["after"]["title_en"] == EN_TITLE and entry.details["after"]["notified"] >= 1

    # The public page: the demo text is still in force, with the date the new one applies from.
    phone.goto("/terms")
    assert phone.inner_text("h1") != KO_TITLE
    upcoming = phone.inner_text("#document-upcoming")
    assert upcoming == f"{shown_day}부터는 다음 내용이 적용됩니다: {KO_TITLE} (버전 1)", upcoming
    assert violations_free(phone, site)
    phone.click("#document-upcoming a")
    phone.wait_for_url("**/terms?version=1")
    assert phone.inner_text("h1") == KO_TITLE
    assert phone.inner_text(".doc-body") == KO_BODY
    assert f"{shown_day}부터 적용" in phone.inner_text("#document-version")
    with httpx.Client(base_url=site.url, cookies={"vx_lang": "en"}, timeout=20) as english:
        assert EN_BODY in english.get("/terms?version=1").text

    # The seller who accepted the old terms is told, in Korean, with the date and the link.
    mail = poll_until(
        lambda: next((m for m in site.inbox.to(seller) if "이용약관" in str(m["Subject"])), None),
        30,
        what="the notice of new terms",
    )
    assert str(mail["Subject"]).endswith(f"{shown_day}부터 {KO_TITLE}이 바뀝니다")
    body = mail.get_content()
    assert f"동의하신 {KO_TITLE}이 새로 바뀌었습니다(버전 1). {shown_day}부터 적용되며" in body
    assert f"{site.exchange.ctx.settings.public_url.rstrip('/')}/terms?version=1" in body


def _last_publish(site: Site) -> Any:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return audit.recent(uow.conn, 1, "consent_document.publish")[0]


def violations_free(page: Page, site: Site) -> bool:
    """axe on the page as the visitor sees it, in a context that may inject axe."""
    url = page.url
    staff = page.context.browser
    assert staff is not None
    context = staff.new_context(base_url=site.url, viewport=PHONE, bypass_csp=True)  # type: ignore[arg-type]
    context.add_cookies([{"name": "vx_lang", "value": "ko", "url": site.url}])
    try:
        probe = context.new_page()
        probe.goto(url)
        found = violations(probe)
        assert found == [], found
        return True
    finally:
        context.close()


BAD_DAYS = [
    ("today", 0, "판매자에게 적어도 7일 전에 알려야 합니다"),
    ("six-days", 6, "판매자에게 적어도 7일 전에 알려야 합니다"),
    ("past", -1, "판매자에게 적어도 7일 전에 알려야 합니다"),
    ("over-a-year", 366, "오늘부터 1년 안의 날짜를 골라 주세요."),
]


@pytest.mark.parametrize(
    ("days", "message"), [(d, m) for _, d, m in BAD_DAYS], ids=[i for i, _, _ in BAD_DAYS]
)
@pytest.mark.parametrize("step", ["preview", "publish"])
def test_a_date_without_notice_is_refused_and_nothing_is_stored(
    site: Site, no_texts: None, a_seller: str, step: str, days: int, message: str
) -> None:
    with httpx.Client(base_url=site.url, timeout=20, cookies={"vx_lang": "ko"}) as operator:
        assert _log_in(operator, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD).status_code == 303
        before = _stored(site)
        refused = operator.post(
            "/staff/terms",
            data={
                "kind": "terms",
                "title": KO_TITLE,
                "body": KO_BODY,
                "title_en": EN_TITLE,
                "body_en": EN_BODY,
                "effective_on": _day(site, days).isoformat(),
                "step": step,
                "csrf_token": _csrf(operator, "/staff/terms"),
            },
        )
        assert refused.status_code == 422
        assert message in refused.text and 'aria-invalid="true"' in refused.text
        assert KO_BODY in refused.text  # what was typed stays
        assert _stored(site) == before


def test_a_date_that_is_not_a_date_is_refused(site: Site, no_texts: None) -> None:
    with httpx.Client(base_url=site.url, timeout=20, cookies={"vx_lang": "ko"}) as operator:
        assert _log_in(operator, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD).status_code == 303
        before = _stored(site)
        refused = operator.post(
            "/staff/terms",
            data={
                "kind": "terms",
                "title": KO_TITLE,
                "body": KO_BODY,
                "title_en": EN_TITLE,
                "body_en": EN_BODY,
                "effective_on": "2026-02-30",
                "step": "publish",
                "csrf_token": _csrf(operator, "/staff/terms"),
            },
        )
        assert refused.status_code == 422 and "적용일을 입력해 주세요." in refused.text
        assert _stored(site) == before


@pytest.mark.browser
def test_korean_pages_keep_the_developer_english_behind_a_closed_details(staff_phone: Page) -> None:
    staff_phone.goto("/receipts/verify")
    shown = staff_phone.inner_text("main")
    assert "Ed25519" not in shown and "voucher-exchange receipt verify" not in shown and "JSON" not in shown
    assert staff_phone.inner_text("details.for-developers summary") == "개발자용: 서명된 파일로 확인"
    assert violations(staff_phone) == [], "/receipts/verify"
    staff_phone.click("details.for-developers summary")
    assert staff_phone.is_visible("#receipt")
    assert violations(staff_phone) == [], "/receipts/verify, developer part open"
    staff_phone.goto("/")
    assert staff_phone.inner_text("label[for=face]") == "액면가(원)"
