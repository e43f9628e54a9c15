"""The README's web walk, followed literally in Korean on a phone: sign-up to a paid trade, web only.

The exchange here is wired like `serve --demo`: demo settings, the sandboxes it knows, and the
demo's e-mail caught as .eml files in var/mail/ (read back through `/demo/mail`, never from the
test's inbox). Nothing is set up behind the browser's back: no sandbox call, no database write.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.exchange import Exchange, running_exchange
from tests.support.polling import poll_until
from tests.web.conftest import PHONE
from tests.web.flows import PASSWORD, SETTLED
from voucher_exchange.notifications.local import start_local_smtp
from voucher_exchange.trades import repository as trades

pytestmark = pytest.mark.browser
README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    """A `serve --demo`-shaped exchange: its mail lands in var/mail/*.eml, as `make run`'s does."""
    var_dir = tmp_path_factory.mktemp("demo-walk")
    controller, _, port = start_local_smtp(folder=var_dir / "mail")
    try:
        with running_exchange(
            var_dir, f"sqlite:///{var_dir}/demo.db", smtp_host="127.0.0.1", smtp_port=port
        ) as exchange:
            yield exchange
    finally:
        controller.stop()


def _open(browser: Browser, exchange: Exchange, lang: str, viewport: dict[str, int]) -> BrowserContext:
    context = browser.new_context(
        base_url=exchange.base_url,
        viewport=viewport,  # type: ignore[arg-type]
        locale="ko-KR" if lang == "ko" else "en-US",
        bypass_csp=True,  # axe is injected
    )
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "vx_lang", "value": lang, "url": exchange.base_url}])
    return context


@pytest.fixture
def phone(browser: Browser, demo: Exchange) -> Iterator[Page]:
    """A 390 px phone whose browser prefers Korean."""
    context = _open(browser, demo, "ko", PHONE)
    yield context.new_page()
    context.close()


def _press(page: Page, name: str) -> None:
    """Press the button or link whose visible text is `name` (as the README names it)."""
    target = page.get_by_role("button", name=name, exact=True).or_(
        page.get_by_role("link", name=name, exact=True)
    )
    target.first.click()


def _open_mail_link(page: Page, email: str) -> None:
    """/demo/mail, reloaded until the e-mail to `email` is there (it is sent by a job), then its link."""

    def arrived() -> bool:
        page.reload()
        return page.locator("article.mail", has_text=email).count() > 0

    poll_until(arrived, 15, what=f"the demo's e-mail to {email}")
    page.locator("article.mail", has_text=email).get_by_role("link", name="메일 속 링크 열기").first.click()


def walk_steps() -> list[str]:
    """The numbered steps of the README's web walk (the test below follows them in order)."""
    text = README.read_text(encoding="utf-8")
    section = text.split("### Try it: from sign-up to a paid trade, in the browser alone", 1)[1]
    section = section.split("More to try on `/demo/sandbox`", 1)[0]
    return re.findall(r"^\d\. ", section, flags=re.MULTILINE)


def sign_up_and_verify(page: Page, name: str) -> str:
    """Steps 1-3 of the README's walk; returns the e-mail address."""
    email = f"walk-{uuid.uuid4().hex[:10]}@example.com"
    # 1. 회원가입: e-mail, a 10-character password, the two required boxes, 가입하기.
    page.goto("/")
    _press(page, "회원가입")
    page.get_by_label("이메일", exact=True).fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("checkbox", name=re.compile(r"^\[필수\] 이용약관")).check()
    page.get_by_role("checkbox", name=re.compile(r"^\[필수\] 개인정보 수집·이용")).check()
    _press(page, "가입하기")
    # 2. The demo's e-mails: the link in the message, then 확인하고 계속하기 → signed in, on 내 정보.
    page.get_by_role("heading", name="이메일을 확인해 주세요").wait_for()
    _press(page, "이 데모는 실제 메일을 보내지 않습니다. 여기서 메일을 확인하세요")
    page.wait_for_url("**/demo/mail")
    _open_mail_link(page, email)
    _press(page, "확인하고 계속하기")
    page.wait_for_url("**/account")
    # 3. 1. 본인 인증: the demo identity, 인증하기.
    page.get_by_label("실명").fill(name)
    page.get_by_label("생년월일").fill("1990-05-17")
    page.get_by_label("휴대폰 번호").fill("010-1234-5678")
    _press(page, "인증하기")
    page.get_by_text(f"{name}").first.wait_for()
    return email


def add_test_account(page: Page) -> str:
    """Step 4: a test account through the sandbox helper, 예금주 확인, then saved; returns its number."""
    page.locator("#bank-accounts").get_by_role(
        "link", name="체험용 샌드박스: 테스트 상품권·테스트 계좌 만들기"
    ).click()
    page.wait_for_url("**/demo/sandbox")
    _press(page, "테스트 계좌 만들기")
    number = page.locator("#made-account").input_value()
    _press(page, "내 계좌로 등록하기 (예금주 확인)")
    page.locator("#holder-check").wait_for()
    _press(page, "이 계좌 등록하기")
    page.wait_for_url("**/account")
    page.locator(".account-row").first.wait_for()
    return number


def mint_and_sell(page: Page, face: str = "50000") -> str:
    """Steps 5-6: a test voucher through the helper, sold from the pre-filled form; returns the trade id."""
    page.locator("#bank-accounts").get_by_role(
        "link", name="체험용 샌드박스: 테스트 상품권·테스트 계좌 만들기"
    ).click()
    page.get_by_label("상품권", exact=True).select_option(label="컬쳐랜드 문화상품권")
    page.get_by_label("액면가", exact=True).fill(face)
    _press(page, "테스트 상품권 만들기")
    code = page.locator("#made-code").input_value()
    assert re.fullmatch(r"[0-9]{16,18}", code), code  # a 컬쳐랜드 code; this brand has no separate PIN
    assert page.locator("#made-pin").count() == 0
    _press(page, "이 상품권 판매하기")
    # The sell form, the minted code and PIN already in it.
    assert page.locator("#code").input_value() == code
    page.get_by_label("선물로 받았어요").check()
    page.get_by_role("button", name=re.compile(r"원에 판매하기$")).click()
    page.wait_for_url(re.compile(r".*/trades/[0-9a-f-]{36}$"))
    return page.url.rsplit("/", 1)[1]


def test_the_readme_walk_has_the_six_steps_this_test_follows() -> None:
    assert walk_steps() == [f"{n}. " for n in range(1, 7)]


def test_the_readme_web_walk_reaches_a_paid_trade_with_the_web_alone(phone: Page, demo: Exchange) -> None:
    name = f"김민지{uuid.uuid4().hex[:4]}"
    sign_up_and_verify(phone, name)
    number = add_test_account(phone)
    trade_id = mint_and_sell(phone)
    phone.wait_for_selector("#trade-status[data-status='paid']", timeout=SETTLED)
    assert "입금 완료" in phone.locator("#trade-status").inner_text()
    # The money went to the sandbox account the helper opened, in the seller's name.
    transfers = demo.sandbox("GET", f"/rail/transfers?account_number={number}").json()["transfers"]
    assert [(t["amount"], t["holder_name"]) for t in transfers] == [(_payout(demo, trade_id), name)]


def _payout(exchange: Exchange, trade_id: str) -> int:
    with exchange.ctx.uow(readonly=True) as uow:
        trade = trades.get(uow.conn, trade_id)
    assert trade is not None
    return trade.payout.amount
