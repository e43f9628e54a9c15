"""The trust shell: who runs the site (footer, receipts), consents at sign-up, the information pages."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request
from sqlalchemy import delete, func, select, update

from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import PASSWORD, become_seller, submit_voucher, take_quote, wait_status
from tests.web.test_security import _csrf, _log_in, _user_count
from voucher_exchange import i18n
from voucher_exchange.audit import service as audit
from voucher_exchange.catalog import service as catalog_service
from voucher_exchange.db.schema import business_profile, consent_documents, user_consents, users
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.money import Money, fee_for
from voucher_exchange.trust import service as trust
from voucher_exchange.web import profile_cache

PROFILE = {
    "business_name": "(주)믿음상품권",
    "representative": "김정직",
    "registration_number": "123-45-67891",
    "mail_order_number": "제2026-서울마포-01234호",
    "address": "서울특별시 마포구 월드컵북로 1",
    "support_phone": "02-555-0199",
    "support_email": "help@trust.example",
    "support_hours": "평일 09:00–18:00",
    "kakao_channel_url": "https://pf.kakao.com/_trust",
}


@contextmanager
def _operator(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=20, cookies={"vx_lang": "en"}) as client:
        assert _log_in(client, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD).status_code == 303
        yield client


def _save_profile(client: httpx.Client, values: dict[str, str]) -> httpx.Response:
    return client.post("/staff/business", data={**values, "csrf_token": _csrf(client, "/staff/business")})


def _consents(site: Site, email: str) -> list[tuple[str, int, str]]:
    with site.exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(user_consents.c.kind, user_consents.c.version, user_consents.c.channel)
            .join(users, users.c.id == user_consents.c.user_id)
            .where(users.c.email == email)
            .order_by(user_consents.c.kind)
        )
        return [(r.kind, r.version, r.channel) for r in rows]


def _last_audit(site: Site, action: str) -> Any:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return audit.recent(uow.conn, 1, action)[0]


def _user_id(site: Site, email: str) -> str:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return str(uow.conn.execute(select(users.c.id).where(users.c.email == email)).scalar_one())


@pytest.fixture
def fresh_texts(site: Site) -> Any:
    """No published consent texts nor saved profile before and after the test (the demo ones apply)."""

    def clear() -> None:
        with site.exchange.ctx.uow() as uow:
            uow.conn.execute(delete(consent_documents))
            uow.conn.execute(delete(business_profile))
            uow.commit()
        profile_cache.forget(site.exchange.ctx)

    clear()
    yield
    clear()


def test_the_operator_sets_the_business_profile_and_every_footer_shows_it(
    site: Site, fresh_texts: None
) -> None:
    with _operator(site) as operator:
        demo = operator.get("/")
        assert "Demo values" in demo.text and "help@voucher-exchange.test" in demo.text
        refused = _save_profile(operator, {**PROFILE, "support_email": "nobody"})
        assert refused.status_code == 422 and "Enter the support e-mail address." in refused.text
        with site.exchange.ctx.uow(readonly=True) as uow:
            assert uow.conn.execute(select(func.count()).select_from(business_profile)).scalar_one() == 0

        saved = _save_profile(operator, PROFILE)
        assert (saved.status_code, saved.headers["location"]) == (303, "/staff/business?saved=1")
        entry = _last_audit(site, "business_profile.update")
        assert entry.actor == DEMO_OPERATOR_EMAIL
        assert (entry.details["before"]["support_phone"], entry.details["after"]["support_phone"]) == (
            "1588-0000",
            "02-555-0199",
        )
        assert len(entry.details["before"]) == len(entry.details["after"]) == 10

        _save_profile(operator, {**PROFILE, "support_hours": "매일 10:00–22:00"})
        entry = _last_audit(site, "business_profile.update")
        assert entry.details == {
            "before": {"support_hours": "평일 09:00–18:00"},
            "after": {"support_hours": "매일 10:00–22:00"},
        }
        _save_profile(operator, PROFILE)

    for lang in ("ko", "en"):
        with httpx.Client(base_url=site.url, cookies={"vx_lang": lang}, timeout=20) as visitor:
            for path in ("/", "/login", "/faq", "/receipts/verify"):
                html = visitor.get(path).text
                assert "(주)믿음상품권" in html and "123-45-67891" in html, (lang, path)
                assert (
                    'href="tel:025550199"' in html and "Demo values" not in html and "데모 정보" not in html
                )


@pytest.mark.browser
def test_sign_up_needs_both_required_consents_and_stores_the_versions_accepted(
    phone: Page, site: Site, fresh_texts: None
) -> None:
    with _operator(site) as operator:
        now = site.exchange.ctx.clock.now()
        day = date.fromordinal(
            trust.local_today(now, site.exchange.ctx.settings.jurisdiction).toordinal() + 7
        )
        published = operator.post(
            "/staff/terms",
            data={
                "kind": "terms",
                "title": "이용약관 제2판",
                "body": "제1조 목적\n이 약관은 상품권 매입 서비스의 이용 조건을 정합니다.",
                "title_en": "Terms of use, 2nd edition",
                "body_en": "Article 1 Purpose",
                "effective_on": day.isoformat(),
                "step": "publish",
                "csrf_token": _csrf(operator, "/staff/terms"),
            },
        )
        assert published.status_code == 303
    entry = _last_audit(site, "consent_document.publish")
    assert (entry.subject, entry.details["before"], entry.details["after"]["title"]) == (
        "terms:1",
        {"version": 0, "title": "Terms of use (demo)"},
        "이용약관 제2판",
    )
    # Its day has come (a week later): new sign-ups accept it.
    with site.exchange.ctx.uow() as uow:
        uow.conn.execute(update(consent_documents).values(effective_at=now))
        uow.commit()

    email = f"consent-{uuid.uuid4().hex[:8]}@example.com"
    before = _user_count(site)
    phone.goto("/signup")
    assert not phone.is_checked("#consent_terms") and not phone.is_checked("#consent_privacy")
    assert not phone.is_checked("#consent_marketing")
    assert "이용약관 제2판" in phone.inner_text("#consents")
    phone.fill("#email", email)
    phone.fill("#password", PASSWORD)
    phone.check("#consent_terms")
    # The browser would stop the form on the unticked required box: the server must refuse it too.
    phone.evaluate("document.querySelector('#consent_privacy').removeAttribute('required')")
    phone.click("form[action='/signup'] button[type=submit]")
    assert phone.inner_text("#form-error") == "가입하려면 이용약관과 개인정보 수집·이용에 동의해 주세요."
    assert phone.get_attribute("#consent_privacy", "aria-invalid") == "true"
    assert phone.is_checked("#consent_terms") and phone.input_value("#email") == email
    assert _user_count(site) == before and _consents(site, email) == []

    phone.fill("#password", PASSWORD)
    phone.check("#consent_all")
    assert phone.is_checked("#consent_privacy") and phone.is_checked("#consent_marketing")
    phone.uncheck("#consent_marketing")
    assert not phone.is_checked("#consent_all")
    screenshot(phone, "seller-phone-signup-consents-ko")
    phone.click("form[action='/signup'] button[type=submit]")
    phone.wait_for_url("**/signup/sent")
    assert _consents(site, email) == [("privacy", 0, "web"), ("terms", 1, "web")]
    entry = _last_audit(site, "consent.accept")
    assert (entry.actor, entry.subject, entry.details) == (
        email,
        _user_id(site, email),
        {"terms": 1, "privacy": 0, "channel": "web"},
    )


def test_the_api_sign_up_records_the_consents_it_chose_or_the_required_ones(site: Site) -> None:
    api = site.url + "/api/v1/accounts"
    quiet = f"api-{uuid.uuid4().hex[:8]}@example.com"
    assert httpx.post(api, json={"email": quiet, "password": PASSWORD}).status_code == 201
    with site.exchange.ctx.uow(readonly=True) as uow:
        versions = {
            r.kind: r.version
            for r in uow.conn.execute(
                select(consent_documents.c.kind, func.max(consent_documents.c.version).label("version"))
                .where(consent_documents.c.effective_at <= site.exchange.ctx.clock.now())
                .group_by(consent_documents.c.kind)
            )
        }
    terms, privacy, marketing = (versions.get(k, 0) for k in ("terms", "privacy", "marketing"))
    assert _consents(site, quiet) == [("privacy", privacy, "api"), ("terms", terms, "api")]

    chosen = f"api-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": chosen, "password": PASSWORD, "consents": ["terms", "privacy", "marketing"]}
    assert httpx.post(api, json=body).status_code == 201
    assert _consents(site, chosen) == [
        ("marketing", marketing, "api"),
        ("privacy", privacy, "api"),
        ("terms", terms, "api"),
    ]

    before = _user_count(site)
    refused = httpx.post(
        api,
        json={
            "email": f"x-{uuid.uuid4().hex[:6]}@example.com",
            "password": PASSWORD,
            "consents": ["marketing"],
        },
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "consent_required"
    assert _user_count(site) == before


def _booknlife_example(site: Site, lang: str) -> str:
    """The fees page's worked example for ₩50,000 of booknlife at its rate now (other tests edit rates)."""
    with site.exchange.ctx.uow(readonly=True) as uow:
        rate = catalog_service.require_brand(uow.conn, "booknlife").rates.rate_for(50_000)
    face = Money(50_000, "KRW")
    fee = fee_for(face, rate)
    won = {
        k: i18n.format_amount_text(v, lang) for k, v in (("face", face), ("fee", fee), ("payout", face - fee))
    }
    template = i18n.gettext(lang, "%(face)s voucher: fee %(fee)s (%(pct)s), you receive %(payout)s")
    return template % {**won, "pct": i18n.format_bps(10_000 - rate, lang)}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_information_pages_answer_in_both_languages(site: Site, lang: str) -> None:
    words = {
        "/how-it-works": ("How it works", "이용 방법"),
        "/fees": tuple(_booknlife_example(site, lang) for lang in ("en", "ko")),
        "/faq": (
            "Why do you refuse vouchers paid with mobile phone billing?",
            "휴대폰 소액결제로 산 상품권은 왜 매입하지 않나요?",
        ),
        "/terms": ("Version", "버전"),
        "/privacy": ("Version", "버전"),
    }
    with httpx.Client(base_url=site.url, cookies={"vx_lang": lang}, timeout=20) as client:
        for path, (english, korean) in words.items():
            response = client.get(path)
            assert response.status_code == 200, path
            assert (english if lang == "en" else korean) in response.text, path
            assert 'href="tel:1397"' in response.text and 'href="tel:1332"' in response.text


@pytest.mark.browser
def test_a_receipt_names_its_issuer_and_still_verifies(phone: Page, site: Site, fresh_texts: None) -> None:
    with _operator(site) as operator:
        assert _save_profile(operator, PROFILE).status_code == 303
    become_seller(phone, site)
    voucher = site.exchange.mint("cultureland", 10000)
    take_quote(phone, "cultureland", "10000")
    trade_id = submit_voucher(phone, voucher["code"])
    wait_status(phone, "paid")

    document = phone.request.get(f"/trades/{trade_id}/receipt.json").json()
    assert document["receipt"]["issuer"] == {
        "service_name": "(주)믿음상품권",  # none saved: the business name is the service's name
        "business_name": "(주)믿음상품권",
        "representative": "김정직",
        "registration_number": "123-45-67891",
        "mail_order_number": "제2026-서울마포-01234호",
        "address": "서울특별시 마포구 월드컵북로 1",
        "support_phone": "02-555-0199",
        "support_email": "help@trust.example",
    }
    for lang, label in (("ko", "발행자"), ("en", "Issued by")):
        phone.context.add_cookies([{"name": "vx_lang", "value": lang, "url": site.url}])
        phone.goto(f"/trades/{trade_id}/receipt")
        issuer = phone.inner_text("#receipt-issuer")
        assert label in phone.content()
        assert "(주)믿음상품권" in issuer and "123-45-67891" in issuer and "02-555-0199" in issuer
        assert "(주)믿음상품권" in phone.inner_text("#business-profile")
        assert phone.get_attribute("#support-phone", "href") == "tel:025550199"
        if lang == "ko":
            screenshot(phone, "seller-phone-receipt-issuer-ko")
    # A later profile change does not touch the signed receipt, which still verifies.
    with _operator(site) as operator:
        _save_profile(operator, {**PROFILE, "business_name": "(주)새이름"})
    again = phone.request.get(f"/trades/{trade_id}/receipt.json").json()
    assert again == document
    phone.goto("/receipts/verify")
    phone.click("details.for-developers summary")
    phone.fill("#receipt", json.dumps(document, ensure_ascii=False))
    phone.click("#verify-submit")
    assert phone.get_attribute("#verify-result", "data-valid") == "true"


@pytest.mark.browser
def test_the_trust_pages_weigh_under_200_kb_on_a_phone(phone: Page, site: Site) -> None:
    for path in ("/how-it-works", "/fees", "/faq", "/terms", "/privacy", "/signup"):
        weights: list[int] = []

        def weigh(request: Request, into: list[int] = weights) -> None:
            sizes = request.sizes()
            into.append(sizes["responseBodySize"] + sizes["responseHeadersSize"])

        fresh = phone.context.browser.new_context(base_url=site.url, viewport=PHONE)  # type: ignore[union-attr,arg-type]
        first = fresh.new_page()
        first.on("requestfinished", weigh)
        first.goto(path, wait_until="networkidle")
        # Phone first: nothing sticks out sideways.
        assert first.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        fresh.close()
        assert 0 < sum(weights) < 200_000, (path, weights)
