"""The delivery job: one attempt of one delivery, sent between two short transactions.

Read what to send (transaction 1), sign and POST it with no transaction open, record the
outcome and schedule the next attempt (transaction 2). The job queue's lease keeps a second
worker from sending the same attempt while this one waits (the lease outlasts the timeout);
a worker killed mid-delivery loses nothing: the lease runs out and another worker sends the
same attempt again, with the same `webhook-id` (at least once; receivers deduplicate).
"""

from __future__ import annotations

import random
from datetime import timedelta

from voucher_exchange import logs
from voucher_exchange.accounts import repository as accounts
from voucher_exchange.context import Context
from voucher_exchange.faults import crash_point
from voucher_exchange.jobs import queue
from voucher_exchange.webhooks import repository as repo
from voucher_exchange.webhooks import signing
from voucher_exchange.webhooks.models import DELIVER, MAIL_DISABLED, DeliveryStatus, EndpointStatus, judge

log = logs.get(__name__)
_rng = random.Random()  # jitter only; no security role  # noqa: S311


def secret_context(endpoint_id: str) -> bytes:
    """The vault context binding an encrypted secret to its endpoint."""
    return f"webhook-secret:{endpoint_id}".encode()


def deliver(ctx: Context, ref: str) -> None:
    """The job: attempt `<n>` of delivery `<id>` (ref `<id>:<n>`); a stale or finished one does nothing."""
    delivery_id, _, number = ref.rpartition(":")
    attempt = int(number)
    now = ctx.clock.now()
    with ctx.uow(readonly=True) as uow:
        found = repo.delivery(uow.conn, delivery_id)
        if found is None or found.status is not DeliveryStatus.PENDING or found.attempts != attempt - 1:
            return
        endpoint = repo.endpoint(uow.conn, found.endpoint_id)
        event = repo.event(uow.conn, found.event_id)
    if endpoint is None or endpoint.status is not EndpointStatus.ENABLED or event is None:
        return
    in_use = [ctx.vault.decrypt(endpoint.secret_enc, secret_context(endpoint.id)).decode()]
    if endpoint.old_secret_enc is not None and endpoint.old_secret_until and endpoint.old_secret_until > now:
        in_use.append(ctx.vault.decrypt(endpoint.old_secret_enc, secret_context(endpoint.id)).decode())
    body = event.body.encode()
    headers = signing.headers(event.id, int(now.timestamp()), body, in_use)
    assert ctx.webhooks is not None, "the bootstrap gives every process a webhook sender"
    crash_point("before_webhook_send")
    result = ctx.webhooks.send(endpoint.url, headers, body)
    crash_point("after_webhook_send")
    now = ctx.clock.now()
    outcome = judge(result.status_code, attempt, endpoint.failing_since, now, _rng)
    with ctx.uow() as uow:
        conn = uow.conn
        if outcome.delivered:
            status, next_at = DeliveryStatus.DELIVERED, None
        elif outcome.retry_in is not None:
            status, next_at = DeliveryStatus.PENDING, now + timedelta(seconds=outcome.retry_in)
        else:
            status, next_at = DeliveryStatus.FAILED, None
        if not repo.record_attempt(
            conn, found, attempt, status, result.status_code, result.error, now, next_at
        ):
            return  # another worker recorded this attempt after our lease ran out
        if outcome.delivered:
            repo.mark_healthy(conn, endpoint.id, now)
        else:
            repo.mark_failing(conn, endpoint.id, now)
        if outcome.disable and repo.disable(conn, endpoint.id, outcome.disable, now):
            log.info("webhook_endpoint_disabled", endpoint_id=endpoint.id, reason=outcome.disable)
            queue.enqueue(conn, MAIL_DISABLED, endpoint.id, now)
        if next_at is not None and outcome.retry_in is not None:
            queue.enqueue(conn, DELIVER, f"{found.id}:{attempt + 1}", now, outcome.retry_in)
        uow.commit()


WORDS = {
    "en": (
        "A webhook endpoint was disabled",
        "Your webhook endpoint {url} was disabled ({why}). Events are no longer sent to it.\n"
        "Its delivery log shows each attempt. Fix the endpoint, then add it again and replay "
        "what it missed (POST /api/v1/webhook-endpoints/{{id}}/replay).",
    ),
    "ko": (
        "웹훅 엔드포인트가 비활성화되었습니다",
        "웹훅 엔드포인트 {url} 이(가) 비활성화되었습니다 ({why}). 더 이상 이벤트가 전송되지 않습니다.\n"
        "전송 기록에서 시도별 결과를 확인하고, 엔드포인트를 고친 뒤 다시 등록해 놓친 이벤트를 재전송하세요.",
    ),
}
WHY = {
    "gone": {"en": "it answered 410 Gone", "ko": "410 Gone 응답"},
    "failing": {"en": "it failed for three days", "ko": "3일 동안 전송 실패"},
}


def mail_disabled(ctx: Context, endpoint_id: str) -> None:
    """The job: tell an endpoint's owner it was disabled."""
    with ctx.uow(readonly=True) as uow:
        endpoint = repo.endpoint(uow.conn, endpoint_id)
        user = accounts.by_id(uow.conn, endpoint.user_id) if endpoint else None
    if endpoint is None or user is None or ctx.mailer is None:
        return
    lang = "ko" if user.language == "ko" else "en"
    subject, text = WORDS[lang]
    why = WHY.get(endpoint.disabled_reason or "", WHY["failing"])[lang]
    ctx.mailer.send(user.email, subject, text.format(url=endpoint.url, why=why), lang)
