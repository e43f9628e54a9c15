"""Standard Webhooks v1: secrets (`whsec_` + base64) and the `webhook-*` headers of one attempt."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec allows 24–64


def new_secret() -> str:
    """A fresh signing secret, shown to its owner once."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">` with the secret's decoded bytes."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(msg_id: str, timestamp: int, body: bytes, secrets_in_use: list[str]) -> dict[str, str]:
    """The headers of one attempt: one signature per secret in use (two while a rotation overlaps)."""
    return {
        "content-type": "application/json",
        "user-agent": "voucher-exchange-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_in_use),
    }
