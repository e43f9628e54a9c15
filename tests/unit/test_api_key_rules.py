"""The API key rules as plain values: telling a key from a token, allow-lists, when to touch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from voucher_exchange.apikeys.models import (
    TOUCH_EVERY,
    ApiKey,
    Scope,
    address_allowed,
    is_key,
    needs_touch,
    parse_networks,
)
from voucher_exchange.security.passwords import new_token

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


def test_a_key_is_told_from_a_session_token_by_its_mark_alone() -> None:
    assert is_key("vxk_abc")
    assert not any(is_key(new_token()) for _ in range(200))  # session tokens are "vx_" + random
    assert not is_key("vxl_link") and not is_key("")


def test_networks_are_normalised_and_anything_else_is_refused() -> None:
    assert parse_networks([" 203.0.113.7/24", "10.0.0.1", "2001:db8::/32", "10.0.0.1/32"]) == (
        "203.0.113.0/24",
        "10.0.0.1/32",
        "2001:db8::/32",
    )
    for bad in (["10.0.0.0/33"], ["nonsense"], ["1.2.3.4/-1"], [""], ["::/129"]):
        assert parse_networks(bad) is None, bad


def test_the_allow_list_admits_only_its_networks() -> None:
    allowed = ("203.0.113.0/24", "2001:db8::/32")
    assert address_allowed((), "198.51.100.1")
    assert address_allowed(allowed, "203.0.113.200")
    assert address_allowed(allowed, "2001:db8::1")
    assert address_allowed(allowed, "::ffff:203.0.113.9")  # an IPv4 peer seen on a dual-stack socket
    assert not address_allowed(allowed, "127.0.0.1")
    assert not address_allowed(allowed, None)
    assert not address_allowed(allowed, "testclient")


def test_last_use_is_written_only_when_it_is_old() -> None:
    assert needs_touch(None, NOW)
    assert not needs_touch(NOW - TOUCH_EVERY + timedelta(seconds=1), NOW)
    assert needs_touch(NOW - TOUCH_EVERY, NOW)


def test_a_key_works_until_revoked_or_expired() -> None:
    key = ApiKey("k", "u", "n", "vxk_12345678", (Scope.TRADES_READ,), (), NOW, None, None, None, None)
    assert key.active(NOW)
    assert not ApiKey(**{**key.__dict__, "revoked_at": NOW}).active(NOW)
    assert not ApiKey(**{**key.__dict__, "expires_at": NOW}).active(NOW)
    assert ApiKey(**{**key.__dict__, "expires_at": NOW + timedelta(seconds=1)}).active(NOW)
