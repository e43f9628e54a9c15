"""API keys as plain values: scopes, the key's shape, and the rules that decide whether one may act."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Every key starts with this. Session tokens start "vx_" and mailed links "vxl_", so the auth path
# tells a key from a session token by its first characters, without a lookup.
KEY_MARK = "vxk_"
# `prefix` = the mark and the key's first 8 random characters: enough to tell keys apart in a list.
PREFIX_CHARS = len(KEY_MARK) + 8
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP_HOURS = 24 * 30
# last_used_at is written at most this often per key (a conditional UPDATE), not on every request.
TOUCH_EVERY = timedelta(minutes=5)
MAX_ACTIVE_KEYS = 25
MAX_LIFETIME = timedelta(days=3650)
MAX_ALLOWED_IPS = 20
MAX_NAME = 100
# The job that mails the account owner that a key was created, rolled or revoked.
API_KEY_MAIL = "apikeys.mail"


class Scope(StrEnum):
    """What a key may do; each API route a key may call needs exactly one (api/scopes.py)."""

    QUOTES_WRITE = "quotes:write"
    """Ask for quotes."""
    TRADES_WRITE = "trades:write"
    """Sell, cancel, redirect a payout, appeal."""
    TRADES_READ = "trades:read"
    """Read the account's trades."""
    PAYOUT_DESTINATIONS_READ = "payout_destinations:read"
    """Read the account's bank accounts (masked)."""
    RECEIPTS_READ = "receipts:read"
    """Fetch signed receipts of paid trades."""
    WEBHOOKS_MANAGE = "webhooks:manage"
    """Manage webhook endpoints and their deliveries."""
    FRAUD_REPORTS_WRITE = "fraud_reports:write"
    """Report vouchers as stolen or scam-sourced (issuers)."""


class KeyEvent(StrEnum):
    """What happened to a key (audited, and mailed to the owner)."""

    CREATED = "created"
    """A key was made."""
    ROLLED = "rolled"
    """A key was replaced by a new one; the old one works for the overlap."""
    REVOKED = "revoked"
    """A key stopped working at once."""


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    id: str
    user_id: str
    name: str
    prefix: str
    scopes: tuple[Scope, ...]
    allowed_ips: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None

    def active(self, now: datetime) -> bool:
        """Not revoked and not past its expiry (a rolled key works until its overlap ends)."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def is_key(token: str) -> bool:
    """True when a bearer token is an API key rather than a session token."""
    return token.startswith(KEY_MARK)


def parse_networks(values: list[str]) -> tuple[str, ...] | None:
    """The CIDRs in normal form (e.g. "203.0.113.0/24"), or None when one is not a network."""
    networks = []
    for value in values:
        try:
            networks.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:
            return None
    return tuple(dict.fromkeys(networks))


def address_allowed(allowed: tuple[str, ...], address: str | None) -> bool:
    """True when there is no allow-list, or the address lies in one of its networks."""
    if not allowed:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network) for network in allowed)


def needs_touch(last_used_at: datetime | None, now: datetime) -> bool:
    """True when last_used_at is unset or older than TOUCH_EVERY."""
    return last_used_at is None or now - last_used_at >= TOUCH_EVERY
