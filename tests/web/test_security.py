"""Sessions, CSRF, log-in throttling and access on the web pages, over real HTTP (no browser needed)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from tests.support.assertions import assert_nothing_moved
from tests.support.exchange import make_seller
from tests.web.conftest import Site
from voucher_exchange.db.schema import ledger_transfers, users
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.reconcile import service as reconcile_service

PASSWORD = "correct-horse-battery"


def _client(site: Site, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=site.url, headers={"Accept-Language": "en", **headers}, timeout=20)


def _csrf(client: httpx.Client, path: str = "/login") -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


def _user_count(site: Site) -> int:
    with site.exchange.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(users)).scalar_one())


def _ledger_transfers(site: Site, trade_id: str) -> list[tuple[str, int]]:
    with site.exchange.ctx.uow(readonly=True) as uow:
        found = reconcile_service.trade_transfers(uow.conn, trade_id)
        return [(t.phase.value, t.amount.amount) for t in found]


def _log_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/login", data={"email": email, "password": password, "csrf_token": _csrf(client)})


def test_a_form_without_our_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    with _client(site) as client:
        before = _user_count(site)
        email = f"csrf-{uuid.uuid4().hex[:8]}@example.com"
        missing = client.post("/signup", data={"email": email, "password": PASSWORD})
        forged = client.post("/signup", data={"email": email, "password": PASSWORD, "csrf_token": "0" * 64})
        assert (missing.status_code, forged.status_code) == (403, 403)
        assert "did not come from our site" in missing.text
        assert _user_count(site) == before
        # Another browser's token does not work either.
        with _client(site) as other:
            stolen = _csrf(other)
        assert (
            client.post(
                "/signup", data={"email": email, "password": PASSWORD, "csrf_token": stolen}
            ).status_code
            == 403
        )
        assert _user_count(site) == before
        ok = client.post(
            "/signup",
            data={
                "email": email,
                "password": PASSWORD,
                "consent_terms": "yes",
                "consent_privacy": "yes",
                "csrf_token": _csrf(client, "/signup"),
            },
        )
        assert (ok.status_code, ok.headers["location"]) == (303, "/signup/sent")
        assert _user_count(site) == before + 1


def test_session_cookies_are_httponly_lax_and_secure_behind_https(site: Site) -> None:
    seller = make_seller(site.exchange)
    with _client(site) as client:
        response = _log_in(client, seller.email, PASSWORD)
        cookie = next(
            v for k, v in response.headers.multi_items() if k == "set-cookie" and "vx_session=" in v
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        # Logging in starts a new CSRF seed, so a token seen before the log-in is worthless after it.
        before = response.request.content.decode().split("csrf_token=")[1]
        assert any(c.startswith("vx_csrf=") for k, c in response.headers.multi_items() if k == "set-cookie")
        stale = client.post("/account/identity", data={"legal_name": "X", "csrf_token": before})
        assert stale.status_code == 403
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
    # Behind a TLS-terminating proxy (uvicorn trusts X-Forwarded-Proto from 127.0.0.1). The
    # client talks plain HTTP to the test server, so it would withhold Secure cookies: send them by hand.
    with httpx.Client(base_url=site.url, headers={"X-Forwarded-Proto": "https"}, timeout=20) as client:
        form = client.get("/login")
        seed = form.headers["set-cookie"]
        assert "Secure" in seed and "HttpOnly" in seed
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form.text)
        assert token is not None
        response = client.post(
            "/login",
            data={"email": seller.email, "password": PASSWORD, "csrf_token": token.group(1)},
            headers={"Cookie": seed.split(";")[0]},
        )
        cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
        assert response.status_code == 303 and any("vx_session=" in c for c in cookies)
        assert all("Secure" in c and "HttpOnly" in c and "SameSite=lax" in c for c in cookies)


def test_log_out_ends_the_session(site: Site) -> None:
    seller = make_seller(site.exchange)
    with _client(site) as client:
        _log_in(client, seller.email, PASSWORD)
        stolen = client.cookies["vx_session"]
        assert client.get("/account").status_code == 200
        client.post("/logout", data={"csrf_token": _csrf(client, "/account")})
    with _client(site) as replay:
        replay.cookies.set("vx_session", stolen)
        response = replay.get("/account")
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=/account")


def test_five_wrong_passwords_lock_the_e_mail_from_that_address_for_a_while(site: Site) -> None:
    ctx = site.exchange.ctx
    seller = make_seller(site.exchange)
    # The shared site runs with relaxed limits (tests sign up many sellers); here the real ones apply,
    # in windows of their own: the other tests' log-ins from this address in the last 15 minutes
    # would otherwise count against the per-address limit.
    relaxed, ctx.settings = ctx.settings, ctx.settings.with_overrides(rate_limit_multiplier=1)
    site.exchange.clock.offset += timedelta(minutes=16)
    try:
        with _client(site) as client:
            for _ in range(5):
                wrong = _log_in(client, seller.email, "not-the-password")
                assert wrong.status_code == 401 and "The e-mail or password is wrong." in wrong.text
            locked = _log_in(client, seller.email, PASSWORD)
            assert locked.status_code == 429 and "Too many attempts" in locked.text
            assert "vx_session" not in client.cookies
        api = httpx.post(site.url + "/api/v1/sessions", json={"email": seller.email, "password": PASSWORD})
        assert (api.status_code, api.json()["error"]["code"]) == (429, "rate_limited")
        assert 0 < int(api.headers["Retry-After"]) <= 15 * 60
        ctx.settings = relaxed
        site.exchange.clock.offset += timedelta(minutes=16)
        with _client(site) as client:
            assert _log_in(client, seller.email, PASSWORD).status_code == 303
    finally:
        ctx.settings = relaxed
        site.exchange.reset_clock()


def test_a_seller_cannot_see_another_sellers_trade_or_staff_pages(site: Site) -> None:
    owner = make_seller(site.exchange)
    voucher = site.exchange.mint("cultureland", 5000)
    trade_id = owner.sell(voucher, "cultureland", 5000)
    intruder = make_seller(site.exchange)
    with _client(site) as client:
        _log_in(client, intruder.email, PASSWORD)
        for path in (f"/trades/{trade_id}", f"/trades/{trade_id}/timeline", f"/trades/{trade_id}/receipt"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert voucher["code"][-4:] not in response.text
        for path in ("/staff", "/staff/review", "/staff/ledger", f"/staff/review/{trade_id}"):
            assert client.get(path).status_code == 403, path
        refused = client.post(
            f"/staff/review/{trade_id}/reveal", data={"csrf_token": _csrf(client, "/account")}
        )
        assert refused.status_code == 403 and voucher["code"] not in refused.text


def test_an_operator_cannot_retry_what_the_bank_refused_and_nothing_moves(site: Site) -> None:
    seller = make_seller(site.exchange)
    site.exchange.sandbox(
        "POST",
        "/rail/accounts",
        {
            "bank_code": "004",
            "account_number": seller.account_number,
            "holder_name": seller.legal_name,
            "behavior": "reject",
        },
    )
    voucher = site.exchange.mint("cultureland", 5000)
    trade = seller.api.wait_for(seller.sell(voucher, "cultureland", 5000), {"failed"})
    transfers_before = _ledger_transfers(site, trade["id"])
    assert [phase for phase, _ in transfers_before if phase != "single"] == ["pending", "void"]
    with _client(site) as client:
        _log_in(client, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
        page = client.get("/staff/payouts")
        assert trade["id"] in page.text
        refused = client.post(
            f"/staff/payouts/{trade['id']}/retry", data={"csrf_token": _csrf(client, "/staff/payouts")}
        )
        # The demo operator reads Korean (the account's language).
        assert refused.status_code == 409 and "은행이 이 송금을 거절했습니다." in refused.text
    assert seller.api.get(f"/trades/{trade['id']}").json()["status"] == "failed"
    assert site.exchange.rail_transfers(seller.account_number) == []
    assert _ledger_transfers(site, trade["id"]) == transfers_before


def test_a_web_session_ends_after_fourteen_days_but_an_api_token_does_not(site: Site) -> None:
    seller = make_seller(site.exchange)
    with _client(site) as client:
        _log_in(client, seller.email, PASSWORD)
        assert client.get("/account").status_code == 200
        site.exchange.clock.offset += timedelta(days=14, minutes=1)
        try:
            expired = client.get("/account")
            assert (expired.status_code, expired.headers["location"]) == (303, "/login?next=/account")
            assert seller.api.get("/me").status_code == 200
        finally:
            site.exchange.reset_clock()


def test_forged_money_forms_move_nothing(site: Site) -> None:
    """Without our CSRF token a sale, a treasury deposit or a retry does nothing at all."""
    seller = make_seller(site.exchange)
    quote = seller.quote("cultureland", 10000)
    voucher = site.exchange.mint("cultureland", 10000)
    with site.exchange.ctx.uow(readonly=True) as uow:
        before = uow.conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one()
    with _client(site) as client:
        _log_in(client, seller.email, PASSWORD)
        sale = {
            "code": voucher["code"],
            "method": "gift",
            "acquired_on": "2026-11-01",
            "payout_destination_id": seller.destination_id,
        }
        assert client.post(f"/sell/{quote['id']}", data=sale).status_code == 403
    with _client(site) as client:
        _log_in(client, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
        deposit = {"amount": "1000000", "reference": f"forged-{uuid.uuid4().hex[:6]}"}
        assert client.post("/staff/treasury/fund", data=deposit).status_code == 403
    assert seller.api.get("/trades").json()["trades"] == []
    with site.exchange.ctx.uow(readonly=True) as uow:
        after = uow.conn.execute(select(func.count()).select_from(ledger_transfers)).scalar_one()
    assert after == before
    assert_nothing_moved(site.exchange, seller, None, voucher, face_value=10000)
    # The quote is still unused: the real form can still sell under it.
    assert seller.api.post("/trades", seller.trade_body(quote["id"], voucher["code"])).status_code == 202
