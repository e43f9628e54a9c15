"""Staff two-factor over the API: required, not replayable, throttled; recovery codes work once."""

from __future__ import annotations

import time
import uuid

import pyotp

from tests.support.mailbox import Mailed
from voucher_exchange.accounts import service as accounts
from voucher_exchange.accounts import two_factor
from voucher_exchange.accounts.models import Role, User

PASSWORD = "correct-horse-battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _staff(mailed: Mailed) -> User:
    ctx = mailed.exchange.ctx
    with ctx.uow() as uow:
        user = accounts.create_staff(
            uow.conn, f"staff-{uuid.uuid4().hex[:8]}@example.com", PASSWORD, Role.REVIEWER, ctx.clock.now()
        )
        uow.commit()
    return user


def _log_in(mailed: Mailed, user: User, totp: str | None = None) -> tuple[int, dict[str, object]]:
    body = {"email": user.email, "password": PASSWORD} | ({"totp": totp} if totp else {})
    with mailed.api() as api:
        answer = api.post("/sessions", json=body)
    return answer.status_code, answer.json()


def _next_code() -> str:
    """The next step's code: enrolling spent the current one."""
    return pyotp.TOTP(SECRET).at(time.time() + 30)


def test_staff_without_two_factor_reach_nothing_until_they_enrol(required: Mailed) -> None:
    user = _staff(required)
    status, body = _log_in(required, user)
    assert status == 201
    with required.api(str(body["token"])) as api:
        refused = api.get("/review/trades")
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "totp_enrolment_required")
        assert api.get("/me").status_code == 200  # their own account still answers
    two_factor.enrol_with(required.exchange.ctx, user, SECRET)
    with required.api(str(body["token"])) as api:
        # Enrolling ended it: a token from before never becomes a staff token.
        assert api.get("/review/trades").status_code == 401
    status, body = _log_in(required, user, _next_code())
    with required.api(str(body["token"])) as api:
        assert api.get("/review/trades").status_code == 200


def test_an_enrolled_staff_member_needs_a_fresh_code_that_cannot_be_replayed(required: Mailed) -> None:
    user = _staff(required)
    two_factor.enrol_with(required.exchange.ctx, user, SECRET)
    status, body = _log_in(required, user)
    assert (status, body["error"]["code"]) == (401, "totp_required")  # type: ignore[index]
    status, body = _log_in(required, user, "000000" if _next_code() != "000000" else "111111")
    assert (status, body["error"]["code"]) == (401, "totp_invalid")  # type: ignore[index]
    code = _next_code()
    status, body = _log_in(required, user, code)
    assert status == 201 and set(body) == {"token"}
    status, body = _log_in(required, user, code)  # the same code again, within its window
    assert (status, body["error"]["code"]) == (401, "totp_invalid")  # type: ignore[index]


def test_a_recovery_code_works_once(required: Mailed) -> None:
    user = _staff(required)
    codes = two_factor.enrol_with(required.exchange.ctx, user, SECRET)
    assert len(codes) == 10 and len(set(codes)) == 10
    status, _ = _log_in(required, user, codes[3])
    assert status == 201
    status, body = _log_in(required, user, codes[3])
    assert (status, body["error"]["code"]) == (401, "totp_invalid")  # type: ignore[index]


def test_wrong_codes_are_throttled(required: Mailed) -> None:
    ctx = required.exchange.ctx
    ctx.settings = ctx.settings.with_overrides(rate_limit_multiplier=1)
    user = _staff(required)
    two_factor.enrol_with(ctx, user, SECRET)
    wrong = "123456" if _next_code() != "123456" else "654321"
    statuses = [_log_in(required, user, wrong)[0] for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    # Even the right code waits out the window now.
    assert _log_in(required, user, _next_code())[0] == 429


def test_sellers_sign_in_as_before(required: Mailed) -> None:
    email = f"seller-{uuid.uuid4().hex[:8]}@example.com"
    with required.api() as api:
        assert api.post("/accounts", json={"email": email, "password": PASSWORD}).status_code == 201
        answer = api.post("/sessions", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201 and set(answer.json()) == {"token"}
