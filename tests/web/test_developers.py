"""The developers page's forms over real HTTP (no browser): API keys made, rolled and revoked.

The key made on the page is used against the API of the same running exchange; refusals are
checked to change nothing in `api_keys`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.support.exchange import new_account
from tests.web.conftest import PAGE, Site, WebAccount
from tests.web.test_hostile_forms import FORMS, text
from tests.web.test_security import _csrf, _log_in
from voucher_exchange.accounts import service as accounts_service
from voucher_exchange.accounts.models import Role
from voucher_exchange.apikeys.models import Scope
from voucher_exchange.db.schema import api_keys
from voucher_exchange.web.developers import EVENTS, SCOPES
from voucher_exchange.webhooks.models import SUBSCRIBABLE

PASSWORD = "correct-horse-battery"
Accounts = Callable[..., WebAccount]
SECRET = re.compile(r"vxk_[A-Za-z0-9_-]{20,}")


def _key_count(site: Site, user_id: str) -> int:
    with site.exchange.ctx.uow(readonly=True) as uow:
        found = uow.conn.execute(select(func.count()).where(api_keys.c.user_id == user_id)).scalar_one()
    return int(found)


def _api_with(site: Site, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=site.url + "/api/v1", headers={"Authorization": f"Bearer {secret}"}, timeout=20
    )


def _secret(page: httpx.Response) -> str:
    found = SECRET.findall(page.text)
    assert len(found) == 1, page.text[:500]
    return found[0]


def test_a_key_made_on_the_page_is_shown_once_and_works_on_the_api(site: Site, accounts: Accounts) -> None:
    me = accounts()
    assert me.web.get(PAGE).status_code == 200
    made = me.create(
        name="Shop backend",
        scopes=["trades:read", "quotes:write"],
        allowed_ips="127.0.0.1, 203.0.113.0/24",
        expires_in_days="90",
    )
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    secret = _secret(made)
    assert 'data-shown-once="/account/developers"' in made.text
    assert "Copy it now: it is shown only this once." in made.text
    listed = me.api.get("/api-keys").json()["api_keys"]
    assert [(k["name"], k["scopes"], k["allowed_ips"]) for k in listed] == [
        ("Shop backend", ["trades:read", "quotes:write"], ["127.0.0.1/32", "203.0.113.0/24"])
    ]
    assert listed[0]["expires_at"] is not None and secret.startswith(listed[0]["prefix"])
    # Never again: the page lists the prefix only.
    again = me.web.get(PAGE)
    assert SECRET.findall(again.text) == [] and listed[0]["prefix"] + "…" in again.text
    assert '<dd class="last-used">never</dd>' in again.text
    with _api_with(site, secret) as program:
        assert program.get("/trades").status_code == 200
        assert program.get("/me/payout-destinations").status_code == 403  # a scope not chosen
    assert '<dd class="last-used">never</dd>' not in me.web.get(PAGE).text


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"scopes": []}, 422, "Choose at least one scope the key may use."),
        ({"name": "  "}, 422, "Give the key a name of up to 100 characters."),
        ({"scopes": ["trades:read", "staff:everything"]}, 422, "Choose scopes from the list."),
        ({"allowed_ips": "203.0.113.0/24, 10.0.0.0/33"}, 422, "such as 203.0.113.0/24"),
        ({"allowed_ips": "localhost"}, 422, "such as 203.0.113.0/24"),
        ({"expires_in_days": "-1"}, 422, "Choose when the key expires."),
    ],
)
def test_a_refused_key_shows_why_keeps_what_was_typed_and_creates_nothing(
    site: Site,
    accounts: Accounts,
    fields: dict[str, str | list[str]],
    status: int,
    message: str,
) -> None:
    me = accounts()
    refused = me.create(**({"name": "kept name"} | fields))
    assert refused.status_code == status
    assert message in refused.text and 'role="alert"' in refused.text
    if "name" not in fields:
        assert 'value="kept name"' in refused.text
    assert SECRET.findall(refused.text) == []
    assert _key_count(site, me.user_id) == 0


def test_a_refusal_reads_in_korean(site: Site, accounts: Accounts) -> None:
    me = accounts("ko")
    assert "<h1>개발자</h1>" in me.web.get(PAGE).text
    refused = me.create(scopes=[])
    assert refused.status_code == 422
    assert "키가 쓸 권한을 하나 이상 고르세요." in refused.text
    assert _key_count(site, me.user_id) == 0


def test_every_form_needs_our_csrf_token(site: Site, accounts: Accounts) -> None:
    me = accounts()
    secret = _secret(me.create())
    key_id = me.api.get("/api-keys").json()["api_keys"][0]["id"]
    for path, data in (
        ("/keys", {"name": "forged", "scopes": "trades:read"}),
        (f"/keys/{key_id}/roll", {"overlap_hours": "0"}),
        (f"/keys/{key_id}/revoke", {}),
    ):
        for token in ({}, {"csrf_token": "0" * 64}):
            answer = me.web.post(PAGE + path, data=data | token)
            assert answer.status_code == 403, path
            assert "did not come from our site" in answer.text
    assert _key_count(site, me.user_id) == 1
    with _api_with(site, secret) as program:
        assert program.get("/trades").status_code == 200


def test_another_sellers_key_answers_as_if_it_did_not_exist(site: Site, accounts: Accounts) -> None:
    owner, other = accounts(), accounts()
    secret = _secret(owner.create())
    key_id = owner.api.get("/api-keys").json()["api_keys"][0]["id"]
    ghost = str(uuid.uuid4())
    for target in (key_id, ghost):
        for action in ("roll", "revoke"):
            answer = other.web.post(f"{PAGE}/keys/{target}/{action}", data={"csrf_token": other.csrf()})
            assert answer.status_code == 404, (target, action)
            assert "There is no such API key of yours." in answer.text
    assert _key_count(site, other.user_id) == 0
    assert [k["revoked_at"] for k in owner.api.get("/api-keys").json()["api_keys"]] == [None]
    with _api_with(site, secret) as program:
        assert program.get("/trades").status_code == 200


def test_rolling_shows_the_new_key_once_and_revoking_stops_it_at_once(site: Site, accounts: Accounts) -> None:
    me = accounts()
    first = _secret(me.create(name="nightly"))
    first_id = me.api.get("/api-keys").json()["api_keys"][0]["id"]
    # Rolled with the default overlap: both work for now, the old one listed as being replaced.
    rolled = me.web.post(f"{PAGE}/keys/{first_id}/roll", data={"csrf_token": me.csrf()})
    assert rolled.status_code == 201 and "Your replacement key" in rolled.text
    second = _secret(rolled)
    assert second != first
    with _api_with(site, first) as old, _api_with(site, second) as new:
        assert (old.get("/trades").status_code, new.get("/trades").status_code) == (200, 200)
    assert "being replaced" in me.web.get(PAGE).text
    # Rolling the old key again is refused: its successor is the one to roll.
    again = me.web.post(f"{PAGE}/keys/{first_id}/roll", data={"csrf_token": me.csrf()})
    assert again.status_code == 409 and "roll its successor" in again.text
    # Rolled with no overlap: the old one stops now.
    second_id = next(k["id"] for k in me.api.get("/api-keys").json()["api_keys"] if k["id"] != first_id)
    third = _secret(
        me.web.post(f"{PAGE}/keys/{second_id}/roll", data={"csrf_token": me.csrf(), "overlap_hours": "0"})
    )
    with _api_with(site, second) as old, _api_with(site, third) as new:
        assert (old.get("/trades").status_code, new.get("/trades").status_code) == (401, 200)
    third_id = next(k["id"] for k in me.api.get("/api-keys").json()["api_keys"] if k["prefix"] == third[:12])
    revoked = me.web.post(f"{PAGE}/keys/{third_id}/revoke", data={"csrf_token": me.csrf()})
    assert (revoked.status_code, revoked.headers["location"]) == (303, PAGE + "?notice=revoked")
    with _api_with(site, third) as gone:
        assert gone.get("/trades").status_code == 401
    shown = me.web.get(PAGE + "?notice=revoked").text
    assert "The key was revoked." in shown and 'id="no-keys"' not in shown  # the first works its overlap
    assert "Revoked and expired keys (2)" in shown


def test_staff_hold_keys_and_endpoints_only_with_the_selling_role(site: Site) -> None:
    email = f"reviewer-{uuid.uuid4().hex[:8]}@example.com"
    ctx = site.exchange.ctx
    with ctx.uow() as uow:
        reviewer = accounts_service.create_staff(uow.conn, email, PASSWORD, Role.REVIEWER, ctx.clock.now())
        uow.commit()
    with httpx.Client(base_url=site.url, timeout=20, cookies={"vx_lang": "en"}) as staff:
        _log_in(staff, email, PASSWORD)
        shown = staff.get(PAGE)
        assert shown.status_code == 200
        assert 'id="sellers-only"' in shown.text and 'id="key-form"' not in shown.text
        for path, data in (
            ("/keys", {"name": "x", "scopes": "trades:read"}),
            ("/endpoints", {"url": "https://example.com/hooks", "events": "trade.paid"}),
        ):
            refused = staff.post(PAGE + path, data=data | {"csrf_token": _csrf(staff, PAGE)})
            assert (
                refused.status_code == 403
                and "API keys and webhooks are for selling accounts" in refused.text
            )
        assert _key_count(site, reviewer.id) == 0
    # An operator allowed this staff member to sell: the page is theirs as well (a new session).
    with ctx.uow() as uow:
        accounts_service.create_staff(uow.conn, email, PASSWORD, Role.MAY_SELL, ctx.clock.now())
        uow.commit()
    with httpx.Client(base_url=site.url, timeout=20, cookies={"vx_lang": "en"}) as staff:
        _log_in(staff, email, PASSWORD)
        assert 'id="key-form"' in staff.get(PAGE).text
        made = staff.post(
            PAGE + "/keys", data={"name": "x", "scopes": "trades:read", "csrf_token": _csrf(staff, PAGE)}
        )
        assert made.status_code == 201 and len(SECRET.findall(made.text)) == 1
        assert _key_count(site, reviewer.id) == 1


@pytest.fixture(scope="module")
def seller_client(site: Site) -> Iterator[httpx.Client]:
    _, email = new_account(site.exchange)
    with httpx.Client(base_url=site.url, timeout=20) as client:
        _log_in(client, email, PASSWORD)
        yield client


DEVELOPER_FORMS = {path: fields for path, fields in FORMS.items() if path.startswith(PAGE)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(sorted(DEVELOPER_FORMS)),
    ident=st.sampled_from(["00000000-0000-0000-0000-000000000000", "x" * 80, "%2e%2e"]),
    values=st.lists(st.one_of(text, st.sampled_from([s.value for s in Scope])), min_size=4, max_size=4),
)
def test_no_developers_form_input_gives_a_server_error_or_shows_a_secret_twice(
    seller_client: httpx.Client, path: str, ident: str, values: list[str]
) -> None:
    # The site-wide fuzzing posts as the operator, whom this page refuses: here a seller posts.
    data = dict(zip(DEVELOPER_FORMS[path], values, strict=False))
    data["csrf_token"] = _csrf(seller_client, PAGE)
    answer = seller_client.post(path.replace("{id}", ident), data=data)
    assert answer.status_code < 500, (path, data, answer.text[:300])
    assert "Traceback" not in answer.text
    assert len(SECRET.findall(answer.text)) <= 1


def test_the_forms_offer_every_scope_and_every_event_a_seller_can_subscribe_to() -> None:
    assert set(SCOPES) == set(Scope)
    assert set(EVENTS) == SUBSCRIBABLE
