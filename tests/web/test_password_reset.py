"""Forgot password, in the browser on a phone (Korean) and a desktop (English); sign-up that names no one."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import Page

from tests.support.polling import poll_until
from tests.web.conftest import PHONE, Site, screenshot
from tests.web.flows import PASSWORD, log_in, mailed_link, sign_up

pytestmark = pytest.mark.browser
NEW_PASSWORD = "purple-lantern-orbit"

TEXTS = {
    "ko": {
        "check": "이메일을 확인해 주세요",
        "subject": "바우처익스체인지 비밀번호 재설정",
        "notice": "비밀번호가 바뀌었고 모든 세션이 로그아웃되었습니다. 새 비밀번호로 로그인해 주세요.",
        "expired": "링크가 만료되었거나 이미 사용되었습니다. 새 링크를 받아 주세요.",
    },
    "en": {
        "check": "Check your e-mail",
        "subject": "Reset your 바우처익스체인지 password",
        "notice": "Your password was changed and every session was signed out. Log in with it.",
        "expired": "This link has expired or was already used. Ask for a new one.",
    },
}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_forgotten_password_is_reset_from_the_mailed_link(
    lang: str, site: Site, new_page: object, page: Page
) -> None:
    owner = page  # signs up (English desktop), then forgets the password
    email = sign_up(owner, site=site)
    mails_before = len(site.inbox.to(email))
    person: Page = new_page(f"{lang}-KR" if lang == "ko" else "en-US", PHONE if lang == "ko" else None)  # type: ignore[operator]
    person.goto("/login")
    person.click("#forgot-password")
    person.wait_for_url("**/password-reset")
    person.fill("#email", email)
    person.click("form[action='/password-reset'] button[type=submit]")
    assert person.inner_text("#check-email h1") == TEXTS[lang]["check"]
    link = mailed_link(site, email, "password-reset", mails_before + 1)
    # The owner's own language (English) writes the mail.
    assert site.inbox.to(email)[mails_before]["Subject"] == TEXTS["en"]["subject"]
    person.goto(link)
    person.fill("#password", NEW_PASSWORD)
    screenshot(person, f"password-reset-{lang}")
    person.click("form[action^='/password-reset/'] button[type=submit]")
    person.wait_for_url("**/login?notice=password_reset")
    assert person.inner_text("#login-notice") == TEXTS[lang]["notice"]
    # The old session ended; the new password works; the link does not work twice.
    owner.goto("/account")
    assert "/login" in owner.url
    log_in(person, email, NEW_PASSWORD)
    person.goto("/account")
    assert person.url.endswith("/account")
    person.goto(link)
    assert person.inner_text("#form-error") == TEXTS[lang]["expired"]
    assert person.locator("#ask-again").count() == 1


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_sign_up_answers_the_same_for_a_taken_address_and_tells_its_owner(site: Site, page: Page) -> None:
    taken = sign_up(page, site=site)
    fresh = f"fresh-{uuid.uuid4().hex[:10]}@example.com"
    answers = []
    with httpx.Client(base_url=site.url, timeout=30) as client:
        for email in (taken, fresh):
            answer = client.post(
                "/signup",
                data={
                    "email": email,
                    "password": PASSWORD,
                    "consent_terms": "yes",
                    "consent_privacy": "yes",
                    "csrf_token": _csrf(client, "/signup"),
                },
            )
            answers.append((answer.status_code, answer.headers["location"], "vx_session" in answer.cookies))
    assert answers == [(303, "/signup/sent", False), (303, "/signup/sent", False)]
    poll_until(lambda: len(site.inbox.to(taken)) >= 2, 15, what="the notice to the owner")
    mails = site.inbox.to(taken)
    assert mails[-1]["Subject"] == "Someone tried to sign up with your address"
    assert "/password-reset" in mails[-1].get_content()
