"""Four eyes on insider powers (security issue 22, item 2), over the real site and API.

The theft this closes: one operator granted themselves reviewer and reveal_codes, revealed a
held, unredeemed voucher's code, redeemed it at the issuer and rejected the trade. And a
reviewer with no identity on file approved their alter ego's held trade. Each refusal here
asserts nothing moved: roles as they were, no reveal written, the trade where it was, no
ledger transfer or payout, the voucher's full value still at the issuer.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.support.assertions import assert_nothing_moved
from tests.support.exchange import Exchange, Seller, make_seller
from tests.support.staff import PASSWORD, bootstrap_staff
from voucher_exchange.accounts import repository as account_repo
from voucher_exchange.accounts.models import Role, User
from voucher_exchange.db.schema import audit_log, reveal_requests, role_requests


class Web:
    """A staff member signed in on the site (httpx, no browser), with the form token."""

    def __init__(self, exchange: Exchange, user: User) -> None:
        self.user = user
        self.http = httpx.Client(
            base_url=exchange.base_url, timeout=30, follow_redirects=False, cookies={"vx_lang": "en"}
        )
        self.csrf = self._token("/login")
        signed = self.http.post(
            "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": self.csrf}
        )
        assert signed.status_code == 303, signed.text
        self.csrf = self._token("/account")

    def _token(self, path: str) -> str:
        found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', self.http.get(path).text)
        assert found
        return found.group(1)

    def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        return self.http.post(path, data={**(data or {}), "csrf_token": self.csrf})


def _roles(exchange: Exchange, user: User) -> set[str]:
    with exchange.ctx.uow(readonly=True) as uow:
        found = account_repo.by_id(uow.conn, user.id)
    assert found is not None
    return {r.value for r in found.roles}


def _audit(exchange: Exchange, action: str, subject: str) -> list[tuple[str, dict[str, Any]]]:
    with exchange.ctx.uow(readonly=True) as uow:
        rows = uow.conn.execute(
            select(audit_log.c.actor, audit_log.c.details)
            .where((audit_log.c.action == action) & (audit_log.c.subject == subject))
            .order_by(audit_log.c.id)
        )
        return [(r.actor, r.details) for r in rows]


def _count(exchange: Exchange, table: Any, **where: str) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with exchange.ctx.uow(readonly=True) as uow:
        return int(uow.conn.execute(query).scalar_one())


def _held(exchange: Exchange, seller: Seller) -> tuple[dict[str, Any], dict[str, Any]]:
    # Its own address (the test server trusts X-Forwarded-For from loopback, as behind a proxy).
    seller.api.http.headers["X-Forwarded-For"] = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.9"
    voucher = exchange.mint("google-play-kr", 150000)
    trade = seller.api.wait_for(seller.sell(voucher, "google-play-kr", 150000))
    assert trade["status"] == "in_review"
    return trade, voucher


def _trade_status(seller: Seller, trade_id: str) -> str:
    status: str = seller.api.get(f"/trades/{trade_id}").json()["status"]
    return status


def _ask_roles(web: Web, target: User, *roles: Role) -> httpx.Response:
    return web.post(f"/staff/team/{target.id}/roles", {"roles": [r.value for r in roles]})


def _open_request(exchange: Exchange, target: User) -> str:
    with exchange.ctx.uow(readonly=True) as uow:
        found = uow.conn.execute(
            select(role_requests.c.id).where(
                (role_requests.c.target_user_id == target.id) & (role_requests.c.status == "pending")
            )
        ).scalar_one()
    return str(found)


def test_the_insider_theft_is_refused_at_self_grant_and_again_at_the_reveal(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    trade, voucher = _held(exchange, seller)
    insider = bootstrap_staff(exchange.ctx, Role.OPERATOR)
    second, third = bootstrap_staff(exchange.ctx, Role.OPERATOR), bootstrap_staff(exchange.ctx, Role.OPERATOR)
    web = Web(exchange, insider)

    # Step 1: the operator grants themselves reviewer and reveal_codes. Refused; nothing asked.
    refused = _ask_roles(web, insider, Role.OPERATOR, Role.REVIEWER, Role.REVEAL_CODES)
    assert refused.status_code == 403 and "Nobody changes their own roles" in refused.text
    assert _roles(exchange, insider) == {"operator"}
    assert _count(exchange, role_requests, target_user_id=insider.id) == 0
    assert _audit(exchange, "staff.roles", insider.id) == []

    # Granted properly: one operator asks, a second approves (both audited, before → after).
    asking = Web(exchange, second)
    assert _ask_roles(asking, insider, Role.OPERATOR, Role.REVIEWER, Role.REVEAL_CODES).status_code == 303
    assert _roles(exchange, insider) == {"operator"}  # asked, not yet granted
    approved = Web(exchange, third).post(f"/staff/team/requests/{_open_request(exchange, insider)}/approve")
    assert approved.status_code == 303, approved.text
    assert _roles(exchange, insider) == {"operator", "reviewer", "reveal_codes"}
    [(actor, details)] = _audit(exchange, "staff.roles", insider.id)
    assert actor == third.email and details["requested_by"] == second.email
    assert (details["before"], details["after"]) == (
        {"roles": ["operator"]},
        {"roles": ["operator", "reveal_codes", "reviewer"]},
    )

    # Step 2: reveal the held, unredeemed voucher's code alone. Refused: nothing shown or written.
    web = Web(exchange, insider)  # the session now sees the new roles
    reveal = web.post(f"/staff/review/{trade['id']}/reveal")
    assert reveal.status_code == 403 and voucher["code"] not in reveal.text
    assert "not redeemed yet" in reveal.text
    assert _audit(exchange, "voucher.reveal", trade["id"]) == []
    assert _count(exchange, reveal_requests, trade_id=trade["id"], status="revealed") == 0
    # Steps 3 and 4 cannot happen: the code was never seen, so the issuer still holds it all.
    assert _trade_status(seller, trade["id"]) == "in_review"
    assert_nothing_moved(exchange, seller, trade["id"], voucher, face_value=150000)


def test_a_reveal_needs_a_second_staff_member_and_the_revealer_cannot_decide(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    trade, voucher = _held(exchange, seller)
    asker = bootstrap_staff(exchange.ctx, Role.REVIEWER, Role.REVEAL_CODES)
    approver = bootstrap_staff(exchange.ctx, Role.REVIEWER, Role.REVEAL_CODES)
    web = Web(exchange, asker)

    assert web.post(f"/staff/review/{trade['id']}/reveal-request").status_code == 303
    page = Web(exchange, approver).http.get(f"/staff/review/{trade['id']}").text
    [request_id] = re.findall(r"/staff/review/reveal-requests/([0-9a-f-]{36})/approve", page)
    # The asker cannot approve their own request, and the request alone shows nothing.
    own = web.post(f"/staff/review/reveal-requests/{request_id}/approve", {"trade_id": trade["id"]})
    assert own.status_code == 403 and "You asked to reveal this code" in own.text
    assert web.post(f"/staff/review/{trade['id']}/reveal").status_code == 403
    assert _audit(exchange, "voucher.reveal", trade["id"]) == []

    second = Web(exchange, approver).post(
        f"/staff/review/reveal-requests/{request_id}/approve", {"trade_id": trade["id"]}
    )
    assert second.status_code == 303, second.text
    shown = web.post(f"/staff/review/{trade['id']}/reveal")
    assert shown.status_code == 200 and voucher["code"] in shown.text
    [(actor, details)] = _audit(exchange, "voucher.reveal", trade["id"])
    assert actor == asker.email and details["approved_by"] == approver.email
    assert (details["before"], details["after"]) == ({"status": "approved"}, {"status": "revealed"})
    # One approval, one reveal.
    assert web.post(f"/staff/review/{trade['id']}/reveal").status_code == 403

    # Whoever saw the code cannot decide the trade, over the API too.
    token = exchange.client().post("/sessions", {"email": asker.email, "password": PASSWORD}).json()["token"]
    decided = exchange.client(token).post(
        f"/review/trades/{trade['id']}/decision", {"outcome": "reject", "note": "mine now"}
    )
    assert (decided.status_code, decided.json()["error"]["code"]) == (403, "reviewer_saw_code")
    assert _trade_status(seller, trade["id"]) == "in_review"
    assert_nothing_moved(exchange, seller, trade["id"], voucher, face_value=150000)


def test_a_redeemed_vouchers_code_is_revealed_without_a_second_approval(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    voucher = exchange.mint("cultureland", 50000)
    trade = seller.api.wait_for(seller.sell(voucher, "cultureland", 50000), {"paid"}, timeout=30)
    staff = bootstrap_staff(exchange.ctx, Role.REVIEWER, Role.REVEAL_CODES)

    shown = Web(exchange, staff).post(f"/staff/review/{trade['id']}/reveal")

    assert shown.status_code == 200 and voucher["code"] in shown.text
    [(actor, details)] = _audit(exchange, "voucher.reveal", trade["id"])
    assert actor == staff.email and details["approved_by"] is None


def test_a_reviewer_without_an_identity_on_file_cannot_decide_their_alter_egos_trade(
    exchange: Exchange,
) -> None:
    alter_ego = make_seller(exchange)
    trade, voucher = _held(exchange, alter_ego)
    puppet = bootstrap_staff(exchange.ctx, Role.REVIEWER, verified=False)
    token = exchange.client().post("/sessions", {"email": puppet.email, "password": PASSWORD}).json()["token"]

    decided = exchange.client(token).post(
        f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "fine"}
    )

    assert (decided.status_code, decided.json()["error"]["code"]) == (403, "reviewer_identity_required")
    assert _trade_status(alter_ego, trade["id"]) == "in_review"
    assert _audit(exchange, "review.approve", trade["id"]) == []
    assert_nothing_moved(exchange, alter_ego, trade["id"], voucher, face_value=150000)


def test_a_reviewer_cannot_decide_a_trade_sold_from_an_address_they_sold_from(exchange: Exchange) -> None:
    # The reviewer sold once themselves (a seller account that later became staff).
    staff_seller = make_seller(exchange)
    address = f"198.51.100.{uuid.uuid4().int % 250}"
    staff_seller.api.http.headers["X-Forwarded-For"] = address
    staff_seller.api.wait_for(
        staff_seller.sell(exchange.mint("cultureland", 10000), "cultureland", 10000), {"paid"}, timeout=30
    )
    with exchange.ctx.uow(readonly=True) as uow:
        found = account_repo.by_email(uow.conn, staff_seller.email)
    assert found is not None
    reviewer = bootstrap_staff(exchange.ctx, Role.REVIEWER, email=found[0].email, verified=False)
    # A second account from the same address, in another name, with another bank account.
    other = make_seller(exchange)
    other.api.http.headers["X-Forwarded-For"] = address
    voucher = exchange.mint("google-play-kr", 150000)
    trade = other.api.wait_for(other.sell(voucher, "google-play-kr", 150000))
    assert trade["status"] == "in_review"
    token = (
        exchange.client()
        .post("/sessions", {"email": staff_seller.email, "password": PASSWORD})
        .json()["token"]
    )

    decided = exchange.client(token).post(
        f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "ok"}
    )

    assert (decided.status_code, decided.json()["error"]["code"]) == (403, "reviewer_conflict")
    assert "an address you sold from" in decided.json()["error"]["message"]
    assert _roles(exchange, reviewer) == {"reviewer"}
    assert _trade_status(other, trade["id"]) == "in_review"
    assert_nothing_moved(exchange, other, trade["id"], voucher, face_value=150000)


def test_a_reviewer_cannot_decide_a_trade_sold_from_an_address_they_are_signed_in_from(
    exchange: Exchange,
) -> None:
    # A reviewer who never sold, signed in from one address; a puppet account sells from it.
    reviewer = bootstrap_staff(exchange.ctx, Role.REVIEWER)
    address = f"203.0.113.{uuid.uuid4().int % 250}"
    signed_in = httpx.post(
        exchange.base_url + "/api/v1/sessions",
        json={"email": reviewer.email, "password": PASSWORD},
        headers={"X-Forwarded-For": address},
        timeout=30,
    )
    assert signed_in.status_code == 201, signed_in.text
    puppet = make_seller(exchange)
    puppet.api.http.headers["X-Forwarded-For"] = address
    voucher = exchange.mint("google-play-kr", 150000)
    trade = puppet.api.wait_for(puppet.sell(voucher, "google-play-kr", 150000))
    assert trade["status"] == "in_review"

    decided = exchange.client(signed_in.json()["token"]).post(
        f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "ok"}
    )

    assert (decided.status_code, decided.json()["error"]["code"]) == (403, "reviewer_conflict")
    assert "an address you are signed in from" in decided.json()["error"]["message"]
    assert _trade_status(puppet, trade["id"]) == "in_review"
    assert_nothing_moved(exchange, puppet, trade["id"], voucher, face_value=150000)
    # Another reviewer, signed in elsewhere, may decide it.
    other = bootstrap_staff(exchange.ctx, Role.REVIEWER)
    elsewhere = httpx.post(
        exchange.base_url + "/api/v1/sessions",
        json={"email": other.email, "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.77"},
        timeout=30,
    ).json()["token"]
    approved = exchange.client(elsewhere).post(
        f"/review/trades/{trade['id']}/decision", {"outcome": "approve", "note": "checked"}
    )
    assert approved.status_code == 200, approved.text
