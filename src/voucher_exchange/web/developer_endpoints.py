"""Webhook endpoints on the developers page: add (the secret shown once), test, rotate, replay, delete.

An endpoint's page shows its delivery log, every attempt with its answer and the next attempt's
time. As with keys, a new signing secret is shown on the page the POST answers with, never again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response
from pydantic import AfterValidator

from voucher_exchange import i18n
from voucher_exchange.errors import InvalidInput
from voucher_exchange.i18n import N_
from voucher_exchange.risk.screening import JURISDICTION_TZ
from voucher_exchange.security.input_policy import single_line
from voucher_exchange.web.developers import (
    DEFAULT_OVERLAP,
    DISABLED_BECAUSE,
    EVENTS,
    PATH,
    SECRET_OVERLAPS,
    Choice,
    Choices,
    seller_only,
    show,
)
from voucher_exchange.web.refusals import on_refusal
from voucher_exchange.web.render import page, redirect
from voucher_exchange.web.session import Page, Visitor, check_csrf
from voucher_exchange.webhooks import service as webhooks

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
ENDPOINTS = PATH + "/endpoints"

Url = Annotated[str, Form(max_length=2048), AfterValidator(single_line)]
Description = Annotated[str, Form(max_length=200), AfterValidator(single_line)]
Moment = Annotated[str, Form(max_length=25)]

DONE = {
    "test_sent": N_("A test event is on its way. It shows in the log below once it was sent."),
    "replayed": N_("Events since that time being delivered again: %(count)s."),
}
# A replay starts this long ago unless the seller picks another time.
REPLAY_DEFAULT = timedelta(hours=24)


def _zone(v: Visitor) -> ZoneInfo:
    return ZoneInfo(JURISDICTION_TZ[v.ctx.settings.jurisdiction])


def _endpoint_page(v: Visitor, endpoint_id: str, status: int = 200, **values: Any) -> Response:
    user = seller_only(v)
    endpoint = webhooks.get_own(v.ctx, user, endpoint_id[:64])
    log = webhooks.deliveries(v.ctx, user, endpoint["id"])
    since = (v.ctx.clock.now() - REPLAY_DEFAULT).astimezone(_zone(v)).strftime("%Y-%m-%dT%H:%M")
    return page(
        v,
        "developers_endpoint.html",
        status=status,
        endpoint=endpoint,
        log=log,
        events=EVENTS,
        disabled_because=DISABLED_BECAUSE,
        secret_overlaps=SECRET_OVERLAPS,
        since=values.pop("since", since),
        **values,
    )


@router.post(ENDPOINTS)
def add_endpoint(
    v: Page, url: Url = "", description: Description = "", events: Choices | None = None
) -> Response:
    """Receive these events at this URL; its signing secret is shown on this answer only."""
    user = seller_only(v)
    kept = {"url": url, "description": description, "events": events or []}
    on_refusal(
        v,
        lambda refused: show(
            v,
            status=refused.status,
            endpoint_error=refused.message,
            endpoint_field=refused.field,
            endpoint_form=kept,
        ),
    )
    cmd = webhooks.NewEndpoint(url=url.strip(), events=events or [], description=description.strip() or None)
    made = webhooks.create(v.ctx, user, cmd)
    return _endpoint_page(v, made["id"], status=201, secret=made["secret"], made_how="created")


@router.get(ENDPOINTS + "/{endpoint_id}")
def endpoint(v: Page, endpoint_id: str, notice: str = "", count: str = "") -> Response:
    """One endpoint: its events, the delivery log, and what can be done with it."""
    known = DONE.get(notice)
    done = i18n.gettext(v.lang, known) % {"count": int(count[:6]) if count.isdigit() else 0} if known else ""
    return _endpoint_page(v, endpoint_id, done=done)


def _refusal_here(v: Visitor, endpoint_id: str) -> None:
    """A refused action shows the endpoint's page again with the reason (its list, when it is not ours)."""
    on_refusal(
        v,
        lambda refused: (
            _endpoint_page(v, endpoint_id, status=refused.status, action_error=refused.message)
            if refused.code != "webhook_endpoint_unknown"
            else show(v, status=refused.status, endpoint_list_error=refused.message)
        ),
    )


@router.post(ENDPOINTS + "/{endpoint_id}/test")
def send_test(v: Page, endpoint_id: str) -> Response:
    """Send a `webhook.test` event to this endpoint only."""
    user = seller_only(v)
    _refusal_here(v, endpoint_id)
    webhooks.send_test(v.ctx, user, endpoint_id[:64])
    return redirect(v, f"{ENDPOINTS}/{endpoint_id[:64]}?notice=test_sent")


@router.post(ENDPOINTS + "/{endpoint_id}/rotate-secret")
def rotate_secret(v: Page, endpoint_id: str, overlap_hours: Choice = DEFAULT_OVERLAP) -> Response:
    """A new signing secret, shown on this answer only; the old one signs too for the overlap."""
    user = seller_only(v)
    _refusal_here(v, endpoint_id)
    if overlap_hours not in SECRET_OVERLAPS:
        raise InvalidInput(
            "overlap_invalid", "Choose how long the old key or secret keeps working.", "overlap_hours"
        )
    secret = webhooks.rotate_secret(v.ctx, user, endpoint_id[:64], int(overlap_hours))
    return _endpoint_page(v, endpoint_id, status=201, secret=secret, made_how="rotated")


def _since(v: Visitor, text: str) -> datetime:
    """'2026-12-07T09:30' in the deployment's time zone (what the form's field shows) → UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=_zone(v))
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # OverflowError: the year 1 in a zone east of UTC
        raise InvalidInput(
            "replay_since_invalid", "Enter a date and time in the past, like 2026-12-07 09:30.", "since"
        ) from exc


@router.post(ENDPOINTS + "/{endpoint_id}/replay")
def replay(v: Page, endpoint_id: str, since: Moment = "") -> Response:
    """Deliver again every event since a time, with the same event ids."""
    user = seller_only(v)
    on_refusal(
        v,
        lambda refused: (
            _endpoint_page(v, endpoint_id, status=refused.status, replay_error=refused.message, since=since)
            if refused.code != "webhook_endpoint_unknown"
            else show(v, status=refused.status, endpoint_list_error=refused.message)
        ),
    )
    count = webhooks.replay(v.ctx, user, endpoint_id[:64], _since(v, since))
    return redirect(v, f"{ENDPOINTS}/{endpoint_id[:64]}?notice=replayed&count={count}")


@router.post(ENDPOINTS + "/{endpoint_id}/delete")
def delete_endpoint(v: Page, endpoint_id: str) -> Response:
    """Delete the endpoint: nothing more is sent to it."""
    user = seller_only(v)
    on_refusal(v, lambda refused: show(v, status=refused.status, endpoint_list_error=refused.message))
    webhooks.delete(v.ctx, user, endpoint_id[:64])
    return redirect(v, PATH + "?notice=endpoint_deleted")
