"""The account's security page over HTTP: password, e-mail, other sessions, deletion (both databases)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from tests.e2e.test_account_recovery import NEW_PASSWORD, PASSWORD
from tests.support.exchange import make_seller, new_account_number
from tests.support.mailbox import Mailed
from voucher_exchange.db.schema import api_tokens, audit_log, payout_destinations, trades, users


def _web(mailed: Mailed, email: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """A browser-like client signed in on the site, and its form token."""
    client = httpx.Client(base_url=mailed.exchange.base_url, timeout=30, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/login").text)
    assert token
    answer = client.post("/login", data={"email": email, "password": password, "csrf_token": token.group(1)})
    assert answer.status_code == 303, answer.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/account/security").text)
    assert token
    return client, token.group(1)


def _api_login(mailed: Mailed, email: str, password: str = PASSWORD) -> httpx.Response:
    with mailed.api() as api:
        return api.post("/sessions", json={"email": email, "password": password})


def _sign_up(mailed: Mailed) -> tuple[str, str]:
    email = f"sec-{uuid.uuid4().hex[:10]}@example.com"
    with mailed.api() as api:
        response = api.post("/accounts", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201
    return email, response.json()["token"]


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(mailed: Mailed) -> None:
    email, api_token = _sign_up(mailed)
    web, csrf = _web(mailed, email)
    wrong = web.post(
        "/account/security/password",
        data={"current_password": "not-my-password", "password": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert wrong.status_code == 401 and "Your current password is not right." in wrong.text
    with mailed.api(api_token) as api:
        assert api.get("/me").status_code == 200  # nothing changed
    done = web.post(
        "/account/security/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "csrf_token": csrf},
    )
    assert (done.status_code, done.headers["location"]) == (303, "/account/security?notice=password")
    assert web.get("/account/security").status_code == 200  # this session stays
    with mailed.api(api_token) as api:
        assert api.get("/me").status_code == 401  # the others ended
    assert _api_login(mailed, email).status_code == 401
    assert _api_login(mailed, email, NEW_PASSWORD).status_code == 201
    notice = mailed.mails(email, 2)[1]  # after the sign-up's verification link
    assert notice["Subject"] == "Your 바우처익스체인지 password was changed"


def test_a_new_address_is_used_once_confirmed_and_the_old_one_is_told(mailed: Mailed) -> None:
    email, api_token = _sign_up(mailed)
    new = f"moved-{uuid.uuid4().hex[:10]}@example.com"
    web, csrf = _web(mailed, email)
    asked = web.post("/account/security/email", data={"email": new, "password": PASSWORD, "csrf_token": csrf})
    assert (asked.status_code, asked.headers["location"]) == (303, "/account/security?notice=email")
    told = mailed.mails(email, 2)[1]
    assert told["Subject"] == "A change of your 바우처익스체인지 e-mail address was asked for"
    with mailed.api(api_token) as api:
        assert api.get("/me").json()["email"] == email  # not moved yet
    link = mailed.link(new, 1)
    with mailed.api() as api:
        assert api.post(f"/email-verifications/{link}").status_code == 204
    with mailed.api(api_token) as api:
        me = api.get("/me").json()
    assert (me["email"], me["email_verified"]) == (new, True)
    assert _api_login(mailed, email).status_code == 401
    assert _api_login(mailed, new).status_code == 201


def test_a_reset_password_cancels_a_pending_change_of_address_and_its_link_signs_nobody_in(
    mailed: Mailed,
) -> None:
    # An intruder who knows the password asks to move the account to their address; the owner,
    # told by mail, resets the password: the intruder's link must be dead.
    email, _ = _sign_up(mailed)
    intruder = f"intruder-{uuid.uuid4().hex[:10]}@example.com"
    web, csrf = _web(mailed, email)
    web.post("/account/security/email", data={"email": intruder, "password": PASSWORD, "csrf_token": csrf})
    their_link = mailed.link(intruder, 1)
    with mailed.api() as api:
        assert api.post("/password-resets", json={"email": email}).status_code == 202
        reset = mailed.link(email, 3)  # after the verification link and the notice of the change
        assert api.post(f"/password-resets/{reset}", json={"password": NEW_PASSWORD}).status_code == 204
        refused = api.post(f"/email-verifications/{their_link}")
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "link_expired")
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        stored = uow.conn.execute(select(users.c.email).where(users.c.email.in_([email, intruder]))).all()
    assert [r.email for r in stored] == [email]
    assert _api_login(mailed, email, NEW_PASSWORD).status_code == 201


def test_a_link_that_moves_the_address_signs_nobody_in(mailed: Mailed) -> None:
    email, _ = _sign_up(mailed)
    new = f"moved-{uuid.uuid4().hex[:10]}@example.com"
    web, csrf = _web(mailed, email)
    web.post("/account/security/email", data={"email": new, "password": PASSWORD, "csrf_token": csrf})
    link = mailed.link(new, 1)
    with httpx.Client(base_url=mailed.exchange.base_url, timeout=30) as stranger:
        page = stranger.get(f"/verify-email/{link}")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token
        answer = stranger.post(f"/verify-email/{link}", data={"csrf_token": token.group(1)})
        assert (answer.status_code, answer.headers["location"]) == (303, "/login?notice=email_verified")
        assert "vx_session" not in answer.cookies
        assert stranger.get("/account", follow_redirects=False).status_code == 303


def test_sign_out_other_sessions_keeps_this_one(mailed: Mailed) -> None:
    email, api_token = _sign_up(mailed)
    web, csrf = _web(mailed, email)
    other, _ = _web(mailed, email)
    done = web.post("/account/security/sign-out-others", data={"csrf_token": csrf})
    assert (done.status_code, done.headers["location"]) == (303, "/account/security?notice=others")
    assert web.get("/account/security").status_code == 200
    assert other.get("/account/security").status_code == 303  # sent to log in
    with mailed.api(api_token) as api:
        assert api.get("/me").status_code == 401


def _counts(mailed: Mailed, user_id: str) -> dict[str, int]:
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        conn = uow.conn

        def count(table, column):  # type: ignore[no-untyped-def]
            return conn.execute(select(func.count()).select_from(table).where(column == user_id)).scalar_one()

        return {
            "trades": count(trades, trades.c.user_id),
            "destinations": count(payout_destinations, payout_destinations.c.user_id),
            "tokens": count(api_tokens, api_tokens.c.user_id),
        }


def test_an_account_with_money_in_flight_cannot_be_deleted_and_a_settled_one_is_erased(
    mailed: Mailed,
) -> None:
    exchange = mailed.exchange
    seller = make_seller(exchange)
    me = seller.api.get("/me").json()
    held = seller.api.wait_for(seller.sell(exchange.mint("google-play-kr", 150000), "google-play-kr", 150000))
    assert held["status"] == "in_review"
    web, csrf = _web(mailed, seller.email)
    before = _counts(mailed, me["id"])
    refused = web.post("/account/security/delete", data={"password": PASSWORD, "csrf_token": csrf})
    assert refused.status_code == 409
    assert "You have a trade, payout or balance still open." in refused.text
    assert _counts(mailed, me["id"]) == before
    assert _api_login(mailed, seller.email).status_code == 201

    settled = make_seller(exchange)
    paid = settled.api.wait_for(settled.sell(exchange.mint("cultureland", 50000)))
    assert paid["status"] == "paid"
    settled_id = settled.api.get("/me").json()["id"]
    # A second bank account, never used: it is forgotten; the one that was paid is kept.
    spare = new_account_number()
    exchange.sandbox(
        "POST",
        "/rail/accounts",
        {"bank_code": "004", "account_number": spare, "holder_name": settled.legal_name},
    )
    added = settled.api.post(
        "/me/payout-destinations",
        {
            "kind": "bank_account",
            "bank_code": "004",
            "account_number": spare,
            "holder_name": settled.legal_name,
        },
    )
    assert added.status_code == 201
    web, csrf = _web(mailed, settled.email)
    # Right after a payout the issuer may still take the voucher back: deletion waits for the
    # liability window, and the page says from when (issue 24).
    page = web.get("/account/security").text
    assert 'data-code="liability_window_open"' in page and 'id="delete-account"' not in page
    before = _counts(mailed, settled_id)
    inside = web.post("/account/security/delete", data={"password": PASSWORD, "csrf_token": csrf})
    assert inside.status_code == 409
    assert "An issuer can still take back a voucher you sold." in inside.text
    assert _counts(mailed, settled_id) == before
    exchange.clock.offset += timedelta(days=exchange.ctx.settings.liability_window_days + 1)
    try:
        web, csrf = _web(mailed, settled.email)
        sessions = _counts(mailed, settled_id)["tokens"]
        wrong = web.post("/account/security/delete", data={"password": "not-my-password", "csrf_token": csrf})
        assert wrong.status_code == 401
        done = web.post("/account/security/delete", data={"password": PASSWORD, "csrf_token": csrf})
        assert (done.status_code, done.headers["location"]) == (303, "/login?notice=account_deleted")
    finally:
        exchange.reset_clock()

    assert _counts(mailed, settled_id) == {"trades": 1, "destinations": 1, "tokens": 0}
    with exchange.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(select(users).where(users.c.id == settled_id)).one()
        kept = uow.conn.execute(
            select(payout_destinations.c.id).where(payout_destinations.c.user_id == settled_id)
        ).scalar_one()
        erased = uow.conn.execute(
            select(audit_log.c.details).where(
                (audit_log.c.action == "account.erased") & (audit_log.c.subject == settled_id)
            )
        ).scalar_one()
    assert row.email == f"erased-{settled_id}@deleted.invalid"
    assert row.password_hash == "!erased"
    assert row.deleted_at is not None and row.email_verified_at is None
    assert row.legal_name == settled.legal_name  # the identity check is kept (AML)
    assert kept == settled.destination_id
    assert erased == {
        "sessions": sessions,
        "links": 1,
        "recovery_codes": 0,
        "two_factor": 0,
        "idempotency_keys": 0,
        "api_keys": 0,
        "payout_destinations": 1,
        "webhook_endpoints": 0,
        "identity_documents": 0,
    }
    assert _api_login(mailed, settled.email).status_code == 401
    with mailed.api() as api:
        assert api.post("/password-resets", json={"email": settled.email}).status_code == 202


def test_an_unconfirmed_address_shows_a_banner_until_the_link_is_opened(mailed: Mailed) -> None:
    email, _ = _sign_up(mailed)
    web, _ = _web(mailed, email)
    assert 'id="verify-banner"' in web.get("/").text
    security = web.get("/account/security").text
    assert 'data-verified="false"' in security and 'id="verify-banner"' not in security
    with mailed.api() as api:
        assert api.post(f"/email-verifications/{mailed.link(email, 1)}").status_code == 204
    assert 'id="verify-banner"' not in web.get("/").text
    assert 'data-verified="true"' in web.get("/account/security").text
