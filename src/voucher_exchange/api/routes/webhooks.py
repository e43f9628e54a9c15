"""Webhook endpoints: add, list, read, delete, rotate the secret, the delivery log, replay, test.

Every route here is for the endpoint's owner and needs the `webhooks:manage` scope when called
with an API key; with a session token, the seller's own login.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse

from voucher_exchange.api.deps import Ctx, CurrentUser, IdempotencyKey
from voucher_exchange.api.schemas import ReplayIn, RotateSecretIn, WebhookEndpointIn
from voucher_exchange.webhooks import service

router = APIRouter()
# An API key needs `webhooks:manage` for every route here (api/scopes.py).
EndpointId = Annotated[str, Path(max_length=64)]


@router.post("/webhook-endpoints", status_code=201)
def create_endpoint(
    body: WebhookEndpointIn, user: CurrentUser, ctx: Ctx, key: IdempotencyKey = None
) -> dict[str, Any]:
    """Receive events at a URL; the answer shows the signing secret once."""
    cmd = service.NewEndpoint(url=body.url, events=list(body.events), description=body.description)
    return service.create(ctx, user, cmd, key)


@router.get("/webhook-endpoints")
def list_endpoints(user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """My endpoints (never a secret)."""
    return {"endpoints": service.list_own(ctx, user)}


@router.get("/webhook-endpoints/{endpoint_id}")
def get_endpoint(endpoint_id: EndpointId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """One of my endpoints."""
    return service.get_own(ctx, user, endpoint_id)


@router.delete("/webhook-endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: EndpointId, user: CurrentUser, ctx: Ctx) -> Response:
    """Stop sending to this endpoint."""
    service.delete(ctx, user, endpoint_id)
    return Response(status_code=204)


@router.post("/webhook-endpoints/{endpoint_id}/rotate-secret", status_code=201)
def rotate_secret(
    endpoint_id: EndpointId,
    user: CurrentUser,
    ctx: Ctx,
    body: RotateSecretIn | None = None,
    key: IdempotencyKey = None,
) -> dict[str, str | None]:
    """A new signing secret; the old one signs too for the overlap (default 24 h)."""
    overlap = body.overlap_hours if body else None
    return {"secret": service.rotate_secret(ctx, user, endpoint_id, overlap, key)}


@router.get("/webhook-endpoints/{endpoint_id}/deliveries")
def deliveries(endpoint_id: EndpointId, user: CurrentUser, ctx: Ctx) -> dict[str, Any]:
    """The delivery log: every attempt, newest first."""
    return {"deliveries": service.deliveries(ctx, user, endpoint_id)}


@router.post("/webhook-endpoints/{endpoint_id}/replay", status_code=202)
def replay(
    endpoint_id: EndpointId, body: ReplayIn, user: CurrentUser, ctx: Ctx, key: IdempotencyKey = None
) -> JSONResponse:
    """Deliver again every event since a time (the same event ids)."""
    count = service.replay(ctx, user, endpoint_id, body.since, key)
    return JSONResponse({"events": count}, status_code=202)


@router.post("/webhook-endpoints/{endpoint_id}/test", status_code=202)
def send_test(
    endpoint_id: EndpointId, user: CurrentUser, ctx: Ctx, key: IdempotencyKey = None
) -> JSONResponse:
    """Send a `webhook.test` event to this endpoint."""
    return JSONResponse({"event_id": service.send_test(ctx, user, endpoint_id, key)}, status_code=202)
