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

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.support.exchange import Exchange, running_exchange
from tests.support.polling import poll_until
from tests.web.conftest import PHONE
from tests.web.flows import PASSWORD, SETTLED
from tests.web.test_axe import AXE
from voucher_exchange.config import Settings
from voucher_exchange.notifications.local import start_local_smtp
from voucher_exchange.security.vault import load_or_create_master_key
from voucher_exchange.trades import repository as trades

pytestmark = pytest.mark.browser
README = Path(__file__).resolve().parents[2] / "README.md"
SANDBOX_LINK = "체험용 샌드박스: 테스트 상품권·테스트 계좌 만들기"


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
    page.locator("#bank-accounts").get_by_role("link", name=SANDBOX_LINK).click()
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
    page.locator("#bank-accounts").get_by_role("link", name=SANDBOX_LINK).click()
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


def _to_sandbox(page: Page) -> None:
    page.goto("/account")
    page.locator("#bank-accounts").get_by_role("link", name=SANDBOX_LINK).click()
    page.wait_for_url("**/demo/sandbox")


def test_the_sandbox_makes_a_saved_account_refuse_and_the_trade_stops_with_nothing_paid(
    phone: Page, demo: Exchange
) -> None:
    name = f"이서연{uuid.uuid4().hex[:4]}"
    sign_up_and_verify(phone, name)
    number = add_test_account(phone)
    # README "Make the bank refuse": the number of the account added, 입금을 거절함, 테스트 계좌 만들기.
    _to_sandbox(phone)
    phone.get_by_label("계좌번호 (비워 두면 새 번호로 만듭니다)").fill(number)
    phone.get_by_label(re.compile(r"^입금을 거절함")).check()
    _press(phone, "테스트 계좌 만들기")
    assert (
        phone.locator("#account-made")
        .inner_text()
        .startswith("이제 이 계좌의 은행은 모든 입금을 거절합니다.")
    )
    assert phone.locator("#use-account").count() == 0  # a refusing account is not offered for adding
    phone.goto("/account")
    trade_id = mint_and_sell(phone)
    phone.wait_for_selector("#trade-status[data-status='failed']", timeout=SETTLED)
    assert demo.sandbox("GET", f"/rail/transfers?account_number={number}").json()["transfers"] == []
    with demo.ctx.uow(readonly=True) as uow:
        trade = trades.get(uow.conn, trade_id)
    assert trade is not None and trade.status.value == "failed"
    phone.goto("/account")
    assert phone.locator(".account-row .account-refused").count() == 1


def test_use_it_to_sell_fills_in_the_code_and_pin_of_a_brand_with_a_pin(phone: Page) -> None:
    sign_up_and_verify(phone, f"박지훈{uuid.uuid4().hex[:4]}")
    add_test_account(phone)
    _to_sandbox(phone)
    phone.get_by_label("상품권", exact=True).select_option("booknlife")
    phone.get_by_label("액면가", exact=True).fill("1만원")
    _press(phone, "테스트 상품권 만들기")
    assert (
        phone.locator("#voucher-made").inner_text().startswith("10,000원짜리 테스트 상품권을 만들었습니다.")
    )
    code, pin = phone.locator("#made-code").input_value(), phone.locator("#made-pin").input_value()
    assert re.fullmatch(r"[0-9]{4}", pin), pin
    _press(phone, "이 상품권 판매하기")
    assert (phone.locator("#code").input_value(), phone.locator("#pin").input_value()) == (code, pin)
    assert phone.locator("#sell-form").get_attribute("action", timeout=1000) is not None


def test_a_refused_sale_of_a_minted_voucher_keeps_its_code_on_the_page(phone: Page) -> None:
    sign_up_and_verify(phone, f"한도윤{uuid.uuid4().hex[:4]}")
    _to_sandbox(phone)
    phone.get_by_label("상품권", exact=True).select_option("happymoney")  # not bought in the demo
    phone.get_by_label("액면가", exact=True).fill("10000")
    _press(phone, "테스트 상품권 만들기")
    code = phone.locator("#made-code").input_value()
    _press(phone, "이 상품권 판매하기")
    assert phone.locator("#sell-error").inner_text() == "지금은 이 상품권을 매입하지 않습니다."
    assert phone.locator("#made-code").input_value() == code


def test_mint_options_and_a_typo_keep_what_was_typed_and_mint_nothing(phone: Page, demo: Exchange) -> None:
    sign_up_and_verify(phone, f"최유나{uuid.uuid4().hex[:4]}")
    _to_sandbox(phone)
    phone.get_by_label("상품권", exact=True).select_option("cultureland")
    phone.get_by_label("액면가", exact=True).fill("오만원")
    phone.locator("#mint-options summary").click()
    phone.get_by_label("발행사 기준 상태").select_option("redeemed")
    _press(phone, "테스트 상품권 만들기")
    assert phone.locator("#mint-error").inner_text().startswith("금액을 숫자로 입력해 주세요.")
    assert phone.locator("#made-code").count() == 0
    assert phone.get_by_label("액면가", exact=True).input_value() == "오만원"
    assert phone.get_by_label("발행사 기준 상태").input_value() == "redeemed"
    # The options reach the issuer: an already-used voucher, with a balance below its face value.
    phone.get_by_label("액면가", exact=True).fill("30000")
    phone.locator("#mint-options").evaluate("d => d.open = true")
    phone.get_by_label("남은 잔액 (비워 두면 액면가 그대로)").fill("12000")
    _press(phone, "테스트 상품권 만들기")
    found = demo.lookup(phone.locator("#made-code").input_value())
    assert (found["state"], found["balance"]) == ("redeemed", 12000)


def test_the_sandbox_forms_need_the_csrf_token_and_a_verified_name(phone: Page, demo: Exchange) -> None:
    sign_up_and_verify(phone, f"정하늘{uuid.uuid4().hex[:4]}")
    number = str(uuid.uuid4().int)[:12]
    # Signed in, but the form's token left out: refused before the sandbox is asked.
    answer = phone.request.post(
        "/demo/sandbox/accounts", form={"bank_code": "004", "account_number": number, "behavior": "ok"}
    )
    assert answer.status == 403
    looked = demo.sandbox("POST", "/rail/accounts/lookup", {"bank_code": "004", "account_number": number})
    assert looked.json()["holder_name"] is None


def test_a_seller_without_a_verified_identity_is_sent_to_verify_first(
    browser: Browser, demo: Exchange
) -> None:
    context = _open(browser, demo, "ko", PHONE)
    page = context.new_page()
    email = f"walk-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.get_by_label("이메일", exact=True).fill(email)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("checkbox", name=re.compile(r"^\[필수\] 이용약관")).check()
    page.get_by_role("checkbox", name=re.compile(r"^\[필수\] 개인정보 수집·이용")).check()
    _press(page, "가입하기")
    page.goto("/demo/mail")
    _open_mail_link(page, email)
    _press(page, "확인하고 계속하기")
    page.wait_for_url("**/account")
    page.goto("/demo/sandbox")
    assert page.locator("#sandbox-verify-first").is_visible()
    assert page.locator("#sandbox-account-form").count() == 0
    # Signed in, the mail page shows only this person's e-mails.
    page.goto("/demo/mail")
    tos = page.locator("article.mail p.hint").all_inner_texts()
    assert tos and all(email in to for to in tos)
    context.close()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_demo_pages_pass_axe_at_390_px_and_weigh_under_200_kb(
    browser: Browser, demo: Exchange, lang: str
) -> None:
    context = _open(browser, demo, lang, PHONE)
    page = context.new_page()
    if lang == "ko":
        sign_up_and_verify(page, f"김민지{uuid.uuid4().hex[:4]}")
    else:
        _sign_up_in_english(page)
    page.goto("/demo/sandbox")
    _no_overflow(page)
    assert _violations(page) == [], "sandbox"
    page.locator("#make-account").click()
    page.locator("#account-made").wait_for()
    page.locator("#mint-voucher").evaluate("b => b.form.elements.face.value = '50000'")
    page.locator("#mint-voucher").click()
    page.locator("#voucher-made").wait_for()
    page.locator("#mint-options").evaluate("d => d.open = true")
    _no_overflow(page)
    assert _violations(page) == [], "sandbox with a test account and a test voucher"
    mail = page.goto("/demo/mail")
    assert mail is not None and 0 < len(mail.body()) < 200_000
    page.locator("article.mail details").first.evaluate("d => d.open = true")
    _no_overflow(page)
    assert _violations(page) == [], "mail"
    sandbox = page.goto("/demo/sandbox")
    assert sandbox is not None and 0 < len(sandbox.body()) < 200_000
    context.close()


def test_outside_the_demo_there_are_no_sandbox_pages(tmp_path: Path) -> None:
    load_or_create_master_key(Settings(var_dir=tmp_path).key_path, create=True)  # production brings its own
    with running_exchange(
        tmp_path, f"sqlite:///{tmp_path}/prod.db", worker_threads=0, demo=False
    ) as exchange:
        assert exchange.ctx.sandbox_url is None
        for path in ("/demo/sandbox", "/demo/mail"):
            answer = httpx.get(exchange.base_url + path, timeout=10)
            assert answer.status_code == 404, path
        before = exchange.sandbox("GET", "/rail/transfers").json()
        answer = httpx.post(
            exchange.base_url + "/demo/sandbox/vouchers", data={"brand": "cultureland"}, timeout=10
        )
        assert answer.status_code in (403, 404)
        assert exchange.sandbox("GET", "/rail/transfers").json() == before
        assert "/demo/" not in httpx.get(exchange.base_url + "/", timeout=10).text


def _sign_up_in_english(page: Page) -> None:
    email = f"walk-{uuid.uuid4().hex[:10]}@example.com"
    page.goto("/signup")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#consent_terms").check()
    page.locator("#consent_privacy").check()
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("link", name="This demo sends no real e-mail: read it here").click()

    def arrived() -> bool:
        page.reload()
        return page.locator("article.mail", has_text=email).count() > 0

    poll_until(arrived, 15, what=f"the demo's e-mail to {email}")
    page.locator("article.mail", has_text=email).get_by_role(
        "link", name="Open the link in this e-mail"
    ).click()
    page.get_by_role("button", name="Confirm and continue").click()
    page.wait_for_url("**/account")
    page.locator("#legal_name").fill("Kim Minji")
    page.locator("#birth_date").fill("1990-05-17")
    page.locator("#phone").fill("010-1234-5678")
    page.get_by_role("button", name="Verify").click()
    page.locator("#bank-form").wait_for()


def _violations(page: Page) -> list[dict[str, object]]:
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, object]] = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}))
             .violations.map(v => ({id: v.id, nodes: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return found


def _no_overflow(page: Page) -> None:
    """Nothing wider than the 390 px screen (no sideways scrolling)."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
