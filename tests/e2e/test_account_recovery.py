"""Getting back in over the API: reset links, e-mail verification, lockouts (SQLite and PostgreSQL).

The exchange mails through a local SMTP server; the tests read the links from the inbox.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.support.mailbox import Mailed
from tests.support.polling import poll_until
from voucher_exchange.db.schema import account_tokens, jobs

PASSWORD = "correct-horse-battery"
NEW_PASSWORD = "purple-lantern-orbit"


def _sign_up(mailed: Mailed) -> tuple[str, str]:
    email = f"rec-{uuid.uuid4().hex[:10]}@example.com"
    with mailed.api() as api:
        response = api.post("/accounts", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return email, response.json()["token"]


def _log_in(mailed: Mailed, email: str, password: str) -> httpx.Response:
    with mailed.api() as api:
        return api.post("/sessions", json={"email": email, "password": password})


def test_a_reset_link_sets_a_new_password_once_and_signs_out_everywhere(mailed: Mailed) -> None:
    email, token = _sign_up(mailed)
    with mailed.api() as api:
        asked = api.post("/password-resets", json={"email": email})
    assert (asked.status_code, asked.json()) == (202, {"status": "accepted"})
    mails = mailed.mails(email, 2)  # the sign-up's verification, then the reset
    assert mails[1]["Subject"] == "Reset your 바우처익스체인지 password"
    link = mailed.link(email, 2)

    def resets() -> list[Any]:
        with mailed.exchange.ctx.uow(readonly=True) as uow:
            return list(
                uow.conn.execute(select(account_tokens).where(account_tokens.c.purpose == "password_reset"))
            )

    # Mailed, so no longer kept even encrypted (the job erases it once the mail server took it).
    stored = poll_until(lambda: (rows := resets()) and all(r.token_enc is None for r in rows) and rows, 15)
    assert link not in {r.token_hash for r in stored}

    with mailed.api() as api:
        weak = api.post(f"/password-resets/{link}", json={"password": "password1234"})
        assert (weak.status_code, weak.json()["error"]["code"]) == (422, "password_common")
        done = api.post(f"/password-resets/{link}", json={"password": NEW_PASSWORD})
        assert done.status_code == 204
        again = api.post(f"/password-resets/{link}", json={"password": "another-fine-phrase"})
    assert (again.status_code, again.json()["error"]["code"]) == (422, "link_expired")
    with mailed.api(token) as old:
        assert old.get("/me").status_code == 401  # the old session ended
    assert _log_in(mailed, email, PASSWORD).status_code == 401
    fresh = _log_in(mailed, email, NEW_PASSWORD)
    assert fresh.status_code == 201
    with mailed.api(fresh.json()["token"]) as api:
        assert api.get("/me").json()["email_verified"] is True  # following the link proved the mailbox
    notice = mailed.mails(email, 3)[2]
    assert notice["Subject"] == "Your 바우처익스체인지 password was changed"


def test_a_reset_link_expires_after_an_hour(mailed: Mailed) -> None:
    email, _ = _sign_up(mailed)
    with mailed.api() as api:
        assert api.post("/password-resets", json={"email": email}).status_code == 202
    link = mailed.link(email, 2)
    mailed.exchange.clock.offset += timedelta(hours=1, seconds=1)
    try:
        with mailed.api() as api:
            late = api.post(f"/password-resets/{link}", json={"password": NEW_PASSWORD})
    finally:
        mailed.exchange.reset_clock()
    assert (late.status_code, late.json()["error"]["code"]) == (422, "link_expired")
    assert _log_in(mailed, email, PASSWORD).status_code == 201  # nothing changed


def test_an_unknown_address_gets_the_same_answer_and_no_mail(mailed: Mailed) -> None:
    ghost = f"ghost-{uuid.uuid4().hex[:10]}@example.com"
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        before = uow.conn.execute(select(func.count()).select_from(account_tokens)).scalar_one()
    with mailed.api() as api:
        answer = api.post("/password-resets", json={"email": ghost})
    assert (answer.status_code, answer.json()) == (202, {"status": "accepted"})

    # The equal work: a job that sends nothing, and it is done.
    def mail_jobs_done() -> bool:
        with mailed.exchange.ctx.uow(readonly=True) as uow:
            waiting = (
                select(func.count())
                .select_from(jobs)
                .where((jobs.c.kind == "account.mail") & (jobs.c.status != "done"))
            )
            return uow.conn.execute(waiting).scalar_one() == 0

    poll_until(mail_jobs_done, 15, what="the mail jobs")
    with mailed.exchange.ctx.uow(readonly=True) as uow:
        after = uow.conn.execute(select(func.count()).select_from(account_tokens)).scalar_one()
    assert after == before
    assert mailed.inbox.to(ghost) == []


def test_a_garbage_link_is_refused_without_a_hint(mailed: Mailed) -> None:
    with mailed.api() as api:
        answer = api.post("/password-resets/vxl_nonsense", json={"password": NEW_PASSWORD})
    assert (answer.status_code, answer.json()["error"]["code"]) == (422, "link_expired")


def test_reset_requests_are_throttled_per_address(mailed: Mailed) -> None:
    email = f"flood-{uuid.uuid4().hex[:10]}@example.com"
    mailed.exchange.ctx.settings = mailed.exchange.ctx.settings.with_overrides(rate_limit_multiplier=1)
    try:
        with mailed.api() as api:
            codes = [api.post("/password-resets", json={"email": email}).status_code for _ in range(6)]
            refused = api.post("/password-resets", json={"email": email})
    finally:
        mailed.exchange.ctx.settings = mailed.exchange.ctx.settings.with_overrides(rate_limit_multiplier=1000)
    assert codes == [202] * 5 + [429]
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_a_reset_lifts_the_lockout_and_a_stranger_cannot_lock_the_owner_out(mailed: Mailed) -> None:
    email, _ = _sign_up(mailed)
    settings = mailed.exchange.ctx.settings
    mailed.exchange.ctx.settings = settings.with_overrides(rate_limit_multiplier=1)
    try:
        with httpx.Client(base_url=mailed.exchange.base_url + "/api/v1", timeout=30) as api:
            guesses = [
                api.post("/sessions", json={"email": email, "password": f"wrong-{i}-guess"}).status_code
                for i in range(6)
            ]
            assert guesses == [401] * 5 + [429]
            # Locked from this address, even with the right password...
            assert api.post("/sessions", json={"email": email, "password": PASSWORD}).status_code == 429
            # ...and the owner's reset link lifts it.
            assert api.post("/password-resets", json={"email": email}).status_code == 202
            link = mailed.link(email, 2)
            assert api.post(f"/password-resets/{link}", json={"password": NEW_PASSWORD}).status_code == 204
            assert api.post("/sessions", json={"email": email, "password": NEW_PASSWORD}).status_code == 201
    finally:
        mailed.exchange.ctx.settings = settings


def test_the_sign_up_link_verifies_the_address_once(mailed: Mailed) -> None:
    email, token = _sign_up(mailed)
    with mailed.api(token) as api:
        assert api.get("/me").json()["email_verified"] is False
    mail = mailed.mails(email, 1)[0]
    assert mail["Subject"] == "Confirm your e-mail address for 바우처익스체인지"
    link = mailed.link(email, 1)
    with mailed.api() as api:
        assert api.post(f"/email-verifications/{link}").status_code == 204
        again = api.post(f"/email-verifications/{link}")
    assert (again.status_code, again.json()["error"]["code"]) == (422, "link_expired")
    with mailed.api(token) as api:
        assert api.get("/me").json()["email_verified"] is True
        # Already verified: asking again sends nothing.
        assert api.post("/me/email-verification").status_code == 202
    assert len(mailed.inbox.to(email)) == 1


def test_a_resent_link_replaces_the_first(mailed: Mailed) -> None:
    email, token = _sign_up(mailed)
    first = mailed.link(email, 1)
    with mailed.api(token) as api:
        assert api.post("/me/email-verification").status_code == 202
    second = mailed.link(email, 2)
    with mailed.api() as api:
        assert api.post(f"/email-verifications/{first}").status_code == 422
        assert api.post(f"/email-verifications/{second}").status_code == 204
