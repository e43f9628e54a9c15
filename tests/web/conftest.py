"""The web app in a real headless Chromium (Debian's package, driven by Playwright).

One exchange (SQLite file, sandboxes over HTTP, a local SMTP server catching e-mails)
serves every test here; each test gets a fresh browser context (no shared cookies).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.exchange import Api, Exchange, new_account, running_exchange
from voucher_exchange.notifications.local import Inbox, start_local_smtp

CHROMIUM = os.environ.get("VX_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Known to work here: no sandbox as root, no GPU, and no background calls to the closed network.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Where `make screenshots` saves the docs' pictures (VX_SCREENSHOTS=docs/screenshots); unset, none are taken.
SCREENSHOTS = os.environ.get("VX_SCREENSHOTS")


@dataclass
class Site:
    """The running exchange and the inbox of its e-mails."""

    exchange: Exchange
    inbox: Inbox

    @property
    def url(self) -> str:
        return self.exchange.base_url


# The running site, for flows that need its inbox without being handed it (see flows.sign_up).
ACTIVE: list[Site] = []


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    controller, inbox, port = start_local_smtp()
    var_dir = tmp_path_factory.mktemp("web")
    try:
        with running_exchange(
            var_dir, f"sqlite:///{var_dir}/web.db", smtp_host="127.0.0.1", smtp_port=port
        ) as exchange:
            ACTIVE.append(Site(exchange, inbox))
            yield ACTIVE[-1]
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium (CI fails on skips)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        launched.close()


def _context(browser: Browser, site: Site, viewport: dict[str, int], locale: str) -> BrowserContext:
    context = browser.new_context(base_url=site.url, viewport=viewport, locale=locale)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    # The language this person chose on an earlier visit (staff accounts default to Korean).
    context.add_cookies([{"name": "vx_lang", "value": locale[:2], "url": site.url}])
    return context


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    """A desktop-size page whose browser prefers English."""
    context = _context(browser, site, DESKTOP, "en-US")
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser, site: Site) -> Iterator[Page]:
    """A phone-size page whose browser prefers Korean."""
    context = _context(browser, site, PHONE, "ko-KR")
    yield context.new_page()
    context.close()


@pytest.fixture
def new_page(browser: Browser, site: Site) -> Iterator[object]:
    """Open more pages, each in its own context (another person), all closed afterwards."""
    contexts: list[BrowserContext] = []

    def open_page(locale: str = "en-US", viewport: dict[str, int] | None = None) -> Page:
        context = _context(browser, site, viewport or DESKTOP, locale)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot for the docs (`make screenshots`: docs/screenshots/).

    Only when VX_SCREENSHOTS names a folder: the pictures prove nothing (every test asserts
    what it checks), and a full-page capture costs each browser test time in `make test`.
    """
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


PAGE = "/account/developers"


def csrf_of(client: httpx.Client, path: str) -> str:
    """The CSRF token in the forms of `path`, as this client sees it."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


@dataclass
class WebAccount:
    """A signed-up account, signed in to the site over plain HTTP (the developers page's tests)."""

    api: Api
    web: httpx.Client
    user_id: str

    def csrf(self) -> str:
        return csrf_of(self.web, PAGE)

    def create(self, **fields: str | list[str]) -> httpx.Response:
        """Post the developers page's key form (a key named "shop" that may read trades, unless told)."""
        data = {"name": "shop", "scopes": ["trades:read"], "csrf_token": self.csrf()} | fields
        return self.web.post(PAGE + "/keys", data=data)


@pytest.fixture
def accounts(site: Site) -> Iterator[Callable[..., WebAccount]]:
    """Open accounts signed in over HTTP, in a language (`en` unless told); closed afterwards."""
    opened: list[httpx.Client] = []

    def open_account(lang: str = "en") -> WebAccount:
        api, email = new_account(site.exchange)
        web = httpx.Client(base_url=site.url, timeout=20, cookies={"vx_lang": lang})
        opened.append(web)
        token = csrf_of(web, "/login")
        signed = web.post(
            "/login", data={"email": email, "password": "correct-horse-battery", "csrf_token": token}
        )
        assert signed.status_code == 303, signed.text
        return WebAccount(api, web, api.get("/me").json()["id"])

    yield open_account
    for client in opened:
        client.close()
