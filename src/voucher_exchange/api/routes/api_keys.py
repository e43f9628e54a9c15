"""Partner API keys: create (the key shown once), list, roll, revoke. A signed-in session only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from voucher_exchange.api.deps import Ctx, CurrentUser
from voucher_exchange.api.schemas import ApiKeyIn, ApiKeyRollIn
from voucher_exchange.apikeys import service as api_keys
from voucher_exchange.apikeys.models import ApiKey

router = APIRouter()
# The answer carries a secret: no cache may keep it.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def key_json(key: ApiKey) -> dict[str, Any]:
    """A key as the API lists it: never the secret."""
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": [s.value for s in key.scopes],
        "allowed_ips": list(key.allowed_ips),
        "created_at": _when(key.created_at),
        "expires_at": _when(key.expires_at),
        "last_used_at": _when(key.last_used_at),
        "revoked_at": _when(key.revoked_at),
    }


def _made(made: api_keys.NewKey) -> JSONResponse:
    shown = {k: v for k, v in key_json(made.key).items() if k not in ("last_used_at", "revoked_at")}
    return JSONResponse({**shown, "key": made.secret}, status_code=201, headers=NO_STORE)


@router.post("/api-keys", status_code=201)
def create_key(body: ApiKeyIn, user: CurrentUser, ctx: Ctx) -> JSONResponse:
    """A new key with these scopes (and optional allow-list and expiry); `key` is shown only here."""
    made = api_keys.create_key(ctx, user, body.name, body.scopes, body.allowed_ips, body.expires_at)
    return _made(made)


@router.get("/api-keys")
def list_keys(user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """My keys, newest first, with when each was last used; never a secret."""
    return {"api_keys": [key_json(k) for k in api_keys.list_keys(ctx, user)]}


@router.post("/api-keys/{key_id}/roll", status_code=201)
def roll_key(key_id: str, user: CurrentUser, ctx: Ctx, body: ApiKeyRollIn | None = None) -> JSONResponse:
    """A new key with the same name and scopes; the old one works for the overlap (default 24 h)."""
    hours = body.overlap_hours if body is not None else None
    overlap = timedelta(hours=hours) if hours is not None else None
    return _made(api_keys.roll_key(ctx, user, key_id[:36], overlap))


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_key(key_id: str, user: CurrentUser, ctx: Ctx) -> Response:
    """Revoke a key: it stops working at once, on every API process."""
    api_keys.revoke_key(ctx, user, key_id[:36])
    return Response(status_code=204)
