"""The second factor binds the session (security issue 22, item 1), over HTTP: API and web.

A token or web session signed in with the password alone never becomes a staff session:
enrolling ends every session of the account but the one that enrolled, and a token issued
without a code is refused on staff routes. Enrolment is one-shot: the key is made once,
shown once, and only the session that began it may confirm it or start over. Enrolling, a
role granted or removed and a new password end the account's other sessions and tokens,
audited. A code of full-width (or any non-ASCII) digits is a 422 that is not counted.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from tests.support.mailbox import Mailed
from tests.support.staff import bootstrap_staff, grant_roles
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.db.schema import api_tokens, audit_log, rate_counters, staff_totp, users
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL
from voucher_exchange.security.passwords import token_hash

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "a-brand-new-passphrase"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
KEY = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
FULL_WIDTH = "１２３４５６"
ARABIC_INDIC = "١٢٣٤٥٦"


# ---- helpers ----------------------------------------------------------------------------------


def _staff(mailed: Mailed, role: Role = Role.REVIEWER) -> User:
    ctx = mailed.exchange.ctx
    with ctx.uow() as uow:
        user = accounts.create_staff(
            uow.conn, f"staff-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, role, ctx.clock.now()
        )
        uow.commit()
    return user


def _api_log_in(mailed: Mailed, email: str, totp: str | None = None) -> httpx.Response:
    body = {"email": email, "password": PASSWORD} | ({"totp": totp} if totp else {})
    with mailed.api() as api:
        return api.post("/sessions", json=body)


def _api_token(mailed: Mailed, email: str, totp: str | None = None) -> str:
    answer = _api_log_in(mailed, email, totp)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def _csrf(client: httpx.Client, path: str = "/account/security") -> str:
    found = CSRF.search(client.get(path).text)
    assert found
    return found.group(1)


def _browser(mailed: Mailed) -> httpx.Client:
    """A browser-like client reading English (staff accounts default to Korean)."""
    client = httpx.Client(base_url=mailed.exchange.base_url, timeout=30, follow_redirects=False)
    client.cookies.set("vx_lang", "en")
    return client


def _web(mailed: Mailed, email: str, password: str = PASSWORD, code: str | None = None) -> httpx.Client:
    """A browser-like client signed in on the site (with the code step when `code` is given)."""
    client = _browser(mailed)
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": _csrf(client, "/login")}
    )
    assert answer.status_code == 303, answer.text
    if code is not None:
        assert answer.headers["location"].startswith("/login/code")
        done = client.post("/login/code", data={"totp": code, "csrf_token": _csrf(client, "/login/code")})
        assert (done.status_code, done.headers["location"]) == (303, "/staff"), done.text
    return client


def _session(client: httpx.Client) -> str:
    return str(client.cookies["vx_session"])


def _error(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


def _tokens(mailed: Mailed, user_id: str) -> dict[str, bool]:
    """The account's live tokens: hash → passed the second factor."""
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(api_tokens.c.token_hash, api_tokens.c.second_factor).where(api_tokens.c.user_id == user_id)
        ).all()
    return {row.token_hash: bool(row.second_factor) for row in rows}


def _setup(mailed: Mailed, user_id: str) -> tuple[Any, ...] | None:
    """The stored two-factor row: (sealed key, session that began it, enrolled at)."""
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(
            select(staff_totp.c.secret_enc, staff_totp.c.begun_by, staff_totp.c.enrolled_at).where(
                staff_totp.c.user_id == user_id
            )
        ).first()
    return tuple(row) if row else None


def _revocations(mailed: Mailed, user_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(actor, details) of the account's `account.sessions_revoked` audit entries, oldest first."""
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(audit_log.c.actor, audit_log.c.details)
            .where((audit_log.c.action == "account.sessions_revoked") & (audit_log.c.subject == user_id))
            .order_by(audit_log.c.id)
        ).all()
    return [(row.actor, dict(row.details)) for row in rows]


def _audit_entries(mailed: Mailed) -> int:
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def _counters(mailed: Mailed, *names: str) -> list[tuple[Any, ...]]:
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(rate_counters).where(rate_counters.c.name.in_(names)).order_by(*rate_counters.primary_key)
        ).all()
    return [tuple(row) for row in rows]


def _begin_setup(web: httpx.Client) -> str:
    """Open the setup page for the first time: the key it shows."""
    answer = web.get("/account/two-factor")
    assert answer.status_code == 200, answer.text
    found = KEY.search(answer.text)
    assert found, answer.text
    return found.group(1)


# ---- the second factor binds the session --------------------------------------------------------


def test_enrolling_ends_every_session_from_before_it_but_the_one_that_enrolled(required: Mailed) -> None:
    user = _staff(required)
    early_token = _api_token(required, user.email)  # password only, before enrolment
    early_web = _web(required, user.email)
    with required.api(early_token) as api:
        assert _error(api.get("/review/trades")) == (403, "totp_enrolment_required")
    enrolling = _web(required, user.email)
    key = _begin_setup(enrolling)
    done = enrolling.post(
        "/account/two-factor", data={"totp": pyotp.TOTP(key).now(), "csrf_token": _csrf(enrolling)}
    )
    assert done.status_code == 200 and 'id="recovery-codes"' in done.text

    # The pen test's token: 200 on the review queue after enrolment. Now it has ended.
    with required.api(early_token) as api:
        assert api.get("/review/trades").status_code == 401
        assert api.get("/me").status_code == 401
    refused = early_web.get("/staff/review")
    assert (refused.status_code, refused.headers["location"]) == (303, "/login?next=/staff/review")
    assert _tokens(required, user.id) == {token_hash(_session(enrolling)): True}
    # The API token and web session from before, and the token the account was created with.
    assert _revocations(required, user.id) == [(user.email, {"tokens": 3, "reason": "two_factor_enrolled"})]
    # The session that gave the first code is a staff session; a new API token needs a code.
    assert enrolling.get("/staff/review").status_code == 200
    assert _error(_api_log_in(required, user.email)) == (401, "totp_required")
    fresh = _api_token(required, user.email, pyotp.TOTP(key).at(time.time() + 30))
    with required.api(fresh) as api:
        assert api.get("/review/trades").status_code == 200


def test_a_session_signed_in_without_the_code_is_refused_on_staff_routes_and_pages(required: Mailed) -> None:
    ctx = required.exchange.ctx
    user = _staff(required)
    two_factor.enrol_with(ctx, user, SECRET)
    # A mailed link signs a person in without a code: such a session is a seller's at best.
    linked = accounts.start_session(ctx, user, timedelta(hours=1))
    tokens, entries = _tokens(required, user.id), _audit_entries(required)
    assert tokens == {token_hash(linked.token): False}
    with required.api(linked.token) as api:
        refused = api.get("/review/trades")
        assert _error(refused) == (403, "totp_session_required")
        assert "sign in again with your password and the code" in refused.json()["error"]["message"]
        assert _error(api.get("/ledger/balances")) == (403, "forbidden")  # the role is checked first
        assert api.get("/me").status_code == 200  # their own account still answers
    web = _browser(required)
    web.cookies.set("vx_session", linked.token)
    page = web.get("/staff/review")
    assert page.status_code == 403
    assert "This sign-in did not use your two-factor code" in page.text
    assert web.get("/account").status_code == 200
    # Nothing moved: the token is still there, still without the second factor, nothing audited.
    assert _tokens(required, user.id) == tokens
    assert _audit_entries(required) == entries


# ---- enrolment is one-shot ---------------------------------------------------------------------------


def test_loading_the_setup_page_again_keeps_the_key(required: Mailed) -> None:
    user = _staff(required)
    web = _web(required, user.email)
    key = _begin_setup(web)
    stored = _setup(required, user.id)
    assert stored is not None and stored[1:] == (token_hash(_session(web)), None)
    again = web.get("/account/two-factor")
    assert again.status_code == 200
    assert 'id="two-factor-in-progress"' in again.text and "totp-secret" not in again.text
    assert key not in again.text
    assert _setup(required, user.id) == stored  # the same sealed key, owner, not enrolled
    done = web.post("/account/two-factor", data={"totp": pyotp.TOTP(key).now(), "csrf_token": _csrf(web)})
    assert done.status_code == 200 and 'id="recovery-codes"' in done.text


def test_only_the_session_that_began_the_setup_may_finish_it_or_start_over(required: Mailed) -> None:
    user = _staff(required)
    first, second = _web(required, user.email), _web(required, user.email)
    key = _begin_setup(first)
    stored = _setup(required, user.id)
    assert stored is not None
    counters, tokens = _counters(required, "totp:account"), _tokens(required, user.id)

    elsewhere = second.get("/account/two-factor")
    assert elsewhere.status_code == 200
    assert 'id="two-factor-elsewhere"' in elsewhere.text and "totp-secret" not in elsewhere.text
    restart = second.post("/account/two-factor/restart", data={"csrf_token": _csrf(second)})
    assert restart.status_code == 409 and "only that one can finish it or start over" in restart.text
    finish = second.post(
        "/account/two-factor", data={"totp": pyotp.TOTP(key).now(), "csrf_token": _csrf(second)}
    )
    assert finish.status_code == 409 and "recovery-codes" not in finish.text
    # Nothing moved: the same key and owner, not enrolled, no code counted, both sessions alive.
    assert _setup(required, user.id) == stored
    assert _counters(required, "totp:account") == counters
    assert _tokens(required, user.id) == tokens
    assert {token_hash(_session(first)), token_hash(_session(second))} <= set(tokens)

    # The session that began it may start over: a new key, shown once.
    again = first.post("/account/two-factor/restart", data={"csrf_token": _csrf(first)})
    assert again.status_code == 200
    found = KEY.search(again.text)
    assert found and found.group(1) != key
    restarted = _setup(required, user.id)
    assert restarted is not None and restarted[0] != stored[0]
    assert restarted[1] == token_hash(_session(first))

    # Once that session has ended, the setup it began is abandoned: another may start over.
    assert first.post("/logout", data={"csrf_token": _csrf(first)}).status_code == 303
    abandoned = second.get("/account/two-factor")
    assert 'id="two-factor-abandoned"' in abandoned.text and "totp-secret" not in abandoned.text
    assert _setup(required, user.id) == restarted
    taken = second.post("/account/two-factor/restart", data={"csrf_token": _csrf(second)})
    assert taken.status_code == 200
    new_key = KEY.search(taken.text)
    assert new_key
    done = second.post(
        "/account/two-factor", data={"totp": pyotp.TOTP(new_key.group(1)).now(), "csrf_token": _csrf(second)}
    )
    assert done.status_code == 200 and 'id="recovery-codes"' in done.text


@pytest.mark.both_backends
def test_sessions_racing_to_begin_the_setup_make_one_key(required: Mailed) -> None:
    user = _staff(required)
    racers = [_web(required, user.email) for _ in range(6)]
    barrier = threading.Barrier(len(racers))

    def load(web: httpx.Client) -> httpx.Response:
        barrier.wait()
        return web.get("/account/two-factor")

    with ThreadPoolExecutor(len(racers)) as pool:
        answers = list(pool.map(load, racers))
    assert [a.status_code for a in answers] == [200] * len(racers)
    shown = [i for i, a in enumerate(answers) if KEY.search(a.text)]
    assert len(shown) == 1  # one key made and shown; every other page says it was begun elsewhere
    assert sum('id="two-factor-elsewhere"' in a.text for a in answers) == len(racers) - 1
    stored = _setup(required, user.id)
    assert stored is not None and stored[1] == token_hash(_session(racers[shown[0]]))


# ---- what ends the other sessions ----------------------------------------------------------------


def test_a_role_granted_or_removed_ends_the_accounts_sessions_and_tokens(mailed: Mailed) -> None:
    ctx = mailed.exchange.ctx
    email = f"seller-{uuid.uuid4().hex[:8]}@example.com"
    with mailed.api() as api:
        signed_up = api.post("/accounts", json={"email": email, "password": PASSWORD})
    assert signed_up.status_code == 201
    user_id, token = signed_up.json()["id"], signed_up.json()["token"]
    seller_web = _web(mailed, email)
    # Roles change by request and a second operator's approval (four eyes); the approval ends them.
    first = _account(mailed, _user_id(mailed, DEMO_OPERATOR_EMAIL))
    second = bootstrap_staff(ctx, Role.OPERATOR)
    first_sessions = len(_tokens(mailed, first.id))

    grant_roles(ctx, first, second, _account(mailed, user_id), {Role.REVIEWER})
    with mailed.api(token) as api:
        assert api.get("/me").status_code == 401
    assert seller_web.get("/account").headers["location"] == "/login?next=/account"
    assert _tokens(mailed, user_id) == {}
    assert len(_tokens(mailed, first.id)) == first_sessions  # the operators' own sessions stay

    # A role added ends them too.
    reviewer_token = _api_token(mailed, email)
    with mailed.api(reviewer_token) as api:
        assert api.get("/review/trades").status_code == 200
    grant_roles(ctx, second, first, _account(mailed, user_id), {Role.REVIEWER, Role.REVEAL_CODES})
    with mailed.api(reviewer_token) as api:
        assert api.get("/review/trades").status_code == 401

    # And a role taken away.
    last_token = _api_token(mailed, email)
    grant_roles(ctx, first, second, _account(mailed, user_id), {Role.REVEAL_CODES})
    with mailed.api(last_token) as api:
        assert api.get("/me").status_code == 401
    assert _revocations(mailed, user_id) == [
        (second.email, {"tokens": 2, "reason": "roles_changed"}),
        (first.email, {"tokens": 1, "reason": "roles_changed"}),
        (second.email, {"tokens": 1, "reason": "roles_changed"}),
    ]


def _account(mailed: Mailed, user_id: str) -> User:
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        found = account_repo.by_id(uow.conn, user_id)
    assert found is not None
    return found


def _user_id(mailed: Mailed, email: str) -> str:
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        return str(uow.conn.execute(select(users.c.id).where(users.c.email == email)).scalar_one())


def test_a_new_password_ends_other_sessions_tokens_and_half_finished_sign_ins(required: Mailed) -> None:
    user = _staff(required)
    codes = two_factor.enrol_with(required.exchange.ctx, user, SECRET)
    owner = _web(required, user.email, code=codes[0])
    owner_token = _api_token(required, user.email, codes[1])
    # Someone else got as far as the code step with the password.
    intruder = _browser(required)
    step = intruder.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": _csrf(intruder, "/login")}
    )
    assert step.headers["location"].startswith("/login/code")

    changed = owner.post(
        "/account/security/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "csrf_token": _csrf(owner)},
    )
    assert (changed.status_code, changed.headers["location"]) == (303, "/account/security?notice=password")
    with required.api(owner_token) as api:
        assert api.get("/me").status_code == 401
    # Even a right code no longer finishes the intruder's sign-in.
    late = intruder.post("/login/code", data={"totp": codes[2], "csrf_token": _csrf(intruder, "/login/code")})
    assert (late.status_code, late.headers["location"]) == (303, "/login")
    assert _tokens(required, user.id) == {token_hash(_session(owner)): True}
    assert owner.get("/staff/review").status_code == 200  # this session stays, a staff session still
    assert _revocations(required, user.id)[-1] == (user.email, {"tokens": 1, "reason": "password_changed"})


# ---- codes are ASCII digits --------------------------------------------------------------------------


def test_a_code_of_full_width_digits_is_refused_and_not_counted(required: Mailed) -> None:
    ctx = required.exchange.ctx
    ctx.settings = ctx.settings.with_overrides(rate_limit_multiplier=1)
    user = _staff(required)
    codes = two_factor.enrol_with(ctx, user, SECRET)
    counted = ("totp:account",)
    before = _counters(required, *counted)
    # More than the five wrong codes the limit allows: none is a guess, none is counted.
    for typed in [FULL_WIDTH] * 5 + [ARABIC_INDIC, "12345", "1234567", "12 34 56"]:
        answer = _api_log_in(required, user.email, typed)
        assert _error(answer) == (422, "totp_malformed"), typed
        assert answer.json()["error"]["field"] == "totp"
    assert _counters(required, *counted) == before
    assert _tokens(required, user.id) == {}
    token = _api_token(required, user.email, pyotp.TOTP(SECRET).at(time.time() + 30))
    with required.api(token) as api:
        assert api.get("/review/trades").status_code == 200

    web = _browser(required)
    step = web.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": _csrf(web, "/login")}
    )
    assert step.headers["location"].startswith("/login/code")
    before = _counters(required, *counted)
    refused = web.post("/login/code", data={"totp": FULL_WIDTH, "csrf_token": _csrf(web, "/login/code")})
    assert refused.status_code == 422
    assert "with the digits 0 to 9 (half-width)" in refused.text
    assert _counters(required, *counted) == before
    assert len(_tokens(required, user.id)) == 1
    # The sign-in carries on: the password step still holds.
    done = web.post("/login/code", data={"totp": codes[0], "csrf_token": _csrf(web, "/login/code")})
    assert (done.status_code, done.headers["location"]) == (303, "/staff")
