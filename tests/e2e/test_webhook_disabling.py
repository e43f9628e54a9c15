"""An endpoint failing for three days is disabled and its owner told by e-mail (the retry schedule
runs on the exchange's clock, moved by the test; no sleeping)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.exchange import make_seller
from tests.support.mailbox import Mailed
from tests.support.partner import Partner, partner_server
from tests.support.polling import poll_until
from voucher_exchange.webhooks.models import RETRY_SCHEDULE, judge, next_delay


@pytest.fixture(scope="module")
def partner() -> Iterator[Partner]:
    with partner_server() as running:
        yield running


def test_the_retry_schedule_lasts_more_than_a_day_with_any_jitter() -> None:
    low, high = random.Random(1), random.Random(2)
    for rng in (low, high):
        delays = [next_delay(n, rng) for n in range(1, len(RETRY_SCHEDULE) + 2)]
        assert delays[-1] is None  # then the delivery is given up
        total = sum(d for d in delays if d is not None)
        assert 24 * 3600 < total < 31 * 3600
    worst = sum(base * 0.9 for base in RETRY_SCHEDULE)
    assert worst > 24 * 3600


def test_the_answers_mean_what_the_contract_says() -> None:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    rng = random.Random(0)
    assert judge(204, 1, None, now, rng).delivered
    gone = judge(410, 1, None, now, rng)
    assert (gone.delivered, gone.disable, gone.retry_in) == (False, "gone", None)
    for status in (None, 301, 400, 429, 500, 503):
        failed = judge(status, 1, now - timedelta(days=2), now, rng)
        assert failed.disable is None and failed.retry_in is not None and 4.5 <= failed.retry_in <= 5.5
    assert judge(500, 3, now - timedelta(days=3), now, rng).disable == "failing"


@pytest.mark.both_backends
def test_an_endpoint_failing_for_three_days_is_disabled_and_its_owner_mailed(
    mailed: Mailed, partner: Partner
) -> None:
    exchange = mailed.exchange
    seller = make_seller(exchange)
    name = f"down-{uuid.uuid4().hex[:8]}"
    partner.answers[f"/{name}"] = [500] * 10
    created = seller.api.post("/webhook-endpoints", {"url": partner.path(name), "events": ["trade.paid"]})
    endpoint: dict[str, Any] = created.json()
    seller.api.post(f"/webhook-endpoints/{endpoint['id']}/test")
    partner.wait(name, 1)

    def first_recorded() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = seller.api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()[
            "deliveries"
        ]
        return rows if [(r["attempt"], r["status_code"]) for r in rows] == [(1, 500)] else None

    # The exchange records the first attempt after the partner answered it: move the clock only
    # then, or the endpoint would be failing only from three days later.
    poll_until(first_recorded, 20, what="the first attempt recorded")
    try:
        exchange.clock.offset = timedelta(days=3, minutes=1)  # the endpoint stays down meanwhile
        partner.wait(name, 2)

        def disabled() -> dict[str, Any] | None:
            found: dict[str, Any] = seller.api.get(f"/webhook-endpoints/{endpoint['id']}").json()
            return found if found["status"] == "disabled" else None

        assert poll_until(disabled, 20)["disabled_reason"] == "failing"
    finally:
        exchange.reset_clock()
    mail = mailed.mails(seller.email, 2)[-1]  # after the sign-up's address check
    assert mail["Subject"] in ("A webhook endpoint was disabled", "웹훅 엔드포인트가 비활성화되었습니다")
    assert partner.path(name) in mail.get_content()
    log = seller.api.get(f"/webhook-endpoints/{endpoint['id']}/deliveries").json()["deliveries"]
    assert [(r["attempt"], r["status_code"], r["next_attempt_at"]) for r in log] == [
        (2, 500, None),
        (1, 500, log[1]["next_attempt_at"]),
    ]
