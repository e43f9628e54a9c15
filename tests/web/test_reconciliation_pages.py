"""The operator's reconciliation page and the audit chain heads on the dashboard, in English and Korean."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page

from tests.web.conftest import Site, screenshot
from tests.web.flows import log_in
from voucher_exchange.audit import anchoring
from voucher_exchange.audit import service as audit
from voucher_exchange.clock import FrozenClock
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD
from voucher_exchange.reconcile import daily
from voucher_exchange.reconcile.statements import Source

pytestmark = pytest.mark.browser
OpenPage = Callable[..., Page]

QUIET_DAY = date(2020, 1, 2)  # nothing happened in our books that day
RAIL_HEADER = (
    "statement_date,line,type,end_to_end_id,bank_reference,bank_code,account,amount,currency,booked_at_utc"
)


def _run(site: Site, text: str, name: str) -> int:
    statement = daily.Statement(Source.RAIL, QUIET_DAY, name, text)
    with site.exchange.ctx.uow() as uow:
        run, _ = daily.run(
            uow.conn, statement, timedelta(minutes=15), DEMO_OPERATOR_EMAIL, site.exchange.ctx.clock.now()
        )
        uow.commit()
    return run.id


def test_the_reconciliation_page_lists_runs_and_their_unmatched_lines(
    page: Page, new_page: OpenPage, site: Site
) -> None:
    clean = _run(site, RAIL_HEADER + "\r\n", "bank-2020-01-02.csv")
    doctored = _run(
        site,
        RAIL_HEADER
        + "\r\n2020-01-02,1,DEBIT,vx-payout-unknown,RAIL-1,004,****6789,45500,KRW,2020-01-02T10:00:00Z\r\n",
        "bank-2020-01-02-b.csv",
    )
    log_in(page, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    page.click("nav >> text=Reconciliation")
    page.wait_for_url("**/staff/reconciliation")

    assert page.inner_text("h1") == "Reconciliation"
    assert page.inner_text(f"#run-{clean}").split("\t")[1:] == [
        "Bank statement bank-2020-01-02.csv", "2020-01-02", "0", "0", "0", "0", "All matched",
    ]  # fmt: skip
    assert page.inner_text(f"#run-{doctored}").split("\t")[3:] == ["0", "1", "0", "0", "Needs attention"]
    unmatched = page.inner_text(f"#unmatched-{doctored} tbody")
    assert unmatched.startswith("Missing on our side\tvx-payout-unknown\t—\t₩45,500 · ")
    assert unmatched.endswith("· line 2\t—")
    screenshot(page, "staff-reconciliation-en")

    korean = new_page("ko-KR")
    log_in(korean, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    korean.goto("/staff/reconciliation")
    assert korean.inner_text("h1") == "대사"
    assert korean.inner_text(f"#run-{doctored}").split("\t")[-1] == "확인 필요"
    assert korean.inner_text(f"#unmatched-{doctored} tbody").startswith("우리 장부에 없음\tvx-payout-unknown")


def test_the_dashboard_publishes_the_signed_anchor_behind_each_days_head(page: Page, site: Site) -> None:
    ctx = site.exchange.ctx
    today = ctx.clock.now().date()
    # A new entry, anchored yesterday (the worker anchors every 15 minutes; its clock says yesterday here).
    with ctx.uow() as uow:
        audit.record(uow.conn, DEMO_OPERATOR_EMAIL, "brand.status", "cultureland", {}, ctx.clock.now())
        uow.commit()
    yesterdays = anchoring.take(replace(ctx, clock=FrozenClock(ctx.clock.now() - timedelta(days=1)))).anchor
    log_in(page, DEMO_OPERATOR_EMAIL, DEMO_OPERATOR_PASSWORD)
    page.goto("/staff")
    with ctx.uow(readonly=True) as uow:
        last_id, head = audit.current_head(uow.conn)
    published = anchoring.published_heads(ctx, today)

    assert yesterdays is not None and published.days[0] == (today - timedelta(days=1), yesterdays)
    assert page.inner_text("#chain-head-now") == head
    rows = page.locator("#audit-chain tr.chain-head").all_inner_texts()
    assert len(rows) == 7
    assert rows[0].split("\t") == [
        f"Audit chain head for {(today - timedelta(days=1)).isoformat()}",
        f"#{yesterdays.last_id}",
        yesterdays.head,
        f"anchor {yesterdays.seq}",
    ]
    assert rows[1].split("\t")[1:] == ["—", "no anchor yet"]
    assert last_id is not None
