"""A victim reports a voucher: held before payout, or a frozen payout that nets (real HTTP, both databases).

The report's answer is the same whatever the codes; what a code matched is decided after the answer.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.support.assertions import assert_no_money_for
from tests.support.exchange import Exchange, make_seller
from tests.support.polling import poll_until
from tests.support.staff import bootstrap_staff
from voucher_exchange.accounts.models import Role
from voucher_exchange.db.schema import fraud_report_codes, fraud_reports, jobs
from voucher_exchange.errors import Conflict
from voucher_exchange.fraud import repository as fraud_repo
from voucher_exchange.fraud import service as fraud_service
from voucher_exchange.fraud.models import Action, Outcome
from voucher_exchange.payouts import freezes
from voucher_exchange.reconcile import service as reconcile_service

pytestmark = pytest.mark.both_backends


def _report(exchange: Exchange, codes: list[str], contact: str | None = None, **headers: str) -> Any:
    body = {
        "codes": codes,
        "reporter": {"name": "김피해", "contact": contact or f"victim-{uuid.uuid4().hex[:8]}@example.com"},
        "police_case_number": "2026-서울중앙-01234",
        "description": "보이스피싱으로 상품권 번호를 빼앗겼습니다.",
    }
    return exchange.client().post("/fraud-reports", body, headers=headers)


def _case_of(exchange: Exchange, report_id: str) -> Any:
    def probe() -> Any:
        with exchange.ctx.uow(readonly=True) as uow:
            found = [c for c in fraud_repo.cases(uow.conn, 1000) if c.report_id == report_id]
        return found[0] if found else None

    return poll_until(probe, 30, what="the report's case")


def _matched(exchange: Exchange, report_id: str) -> bool:
    with exchange.ctx.uow(readonly=True) as uow:
        row = fraud_repo.report(uow.conn, report_id)
    return row is not None and row.matched_at is not None


def _settled(exchange: Exchange, trade_id: str) -> bool:
    """No job is waiting or running for the trade (the worker finished what it was doing)."""
    with exchange.ctx.uow(readonly=True) as uow:
        live = uow.conn.execute(
            select(func.count())
            .select_from(jobs)
            .where((jobs.c.kind == "trade.process") & (jobs.c.ref == trade_id) & (jobs.c.status != "done"))
        ).scalar_one()
    return live == 0


def _balances(exchange: Exchange) -> dict[str, tuple[int, int]]:
    found = exchange.operator().get("/ledger/balances").json()["accounts"]
    return {a["account"]: (a["balance"], a["pending"]) for a in found}


def test_a_report_holds_a_trade_in_verifying_before_anything_is_paid(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    voucher = exchange.mint("cultureland", 50000, latency_ms=1500)
    trade_id = seller.sell(voucher)
    seller.api.wait_for(trade_id, {"verifying"}, timeout=30)

    answer = _report(exchange, [voucher["code"]])

    assert answer.status_code == 202, answer.text
    assert set(answer.json()) == {"report_id"}
    held = seller.api.wait_for(trade_id, {"in_review"}, timeout=30)
    assert [r["code"] for r in held["decision"]["reasons"]] == ["fraud_report"]
    poll_until(lambda: _settled(exchange, trade_id), 30, what="the worker to let go of the trade")
    assert seller.api.get(f"/trades/{trade_id}").json()["status"] == "in_review"
    assert_no_money_for(exchange, trade_id)
    assert exchange.rail_transfers(seller.account_number) == []
    assert exchange.lookup(voucher["code"])["state"] == "active"
    case = _case_of(exchange, answer.json()["report_id"])
    with exchange.ctx.uow(readonly=True) as uow:
        matches = fraud_repo.matches(uow.conn, case.id)
        stored = uow.conn.execute(
            select(fraud_report_codes.c.masked, fraud_report_codes.c.fingerprint).where(
                fraud_report_codes.c.report_id == answer.json()["report_id"]
            )
        ).all()
    assert [(m.trade_id, m.status_at_match, m.action) for m in matches] == [
        (trade_id, "verifying", Action.HELD)
    ]
    assert case.frozen_at is not None and case.seconds_to_freeze is not None
    # The transparency report's figures for a period holding just this report.
    with exchange.ctx.uow(readonly=True) as uow:
        figures = fraud_service.figures(
            uow.conn, case.received_at, case.received_at + timedelta(microseconds=1)
        )
        empty = fraud_service.figures(
            uow.conn, case.received_at - timedelta(days=3650), case.received_at - timedelta(days=3649)
        )
    assert figures == (1, 1, case.seconds_to_freeze) and empty == (0, 0, None)
    # Only fingerprints and the masked form are kept: never the code.
    assert {row.masked for row in stored} == {"••••" + voucher["code"][-4:]}
    with exchange.ctx.uow(readonly=True) as uow:
        rows = [
            *uow.conn.execute(select(fraud_reports).where(fraud_reports.c.id == answer.json()["report_id"])),
            *uow.conn.execute(
                select(fraud_report_codes).where(fraud_report_codes.c.report_id == answer.json()["report_id"])
            ),
        ]
    # Neither the code nor the reporter's name is in any column (the reporter is encrypted).
    assert len(rows) > 1 and not [r for r in rows if voucher["code"] in repr(tuple(r))]
    assert not [r for r in rows if "김피해" in repr(tuple(r))]

    # A reviewer finds the report false: the trade goes back to ask the issuer (it was held before
    # the answer came), not on to redemption.
    decided = exchange.operator().post(
        f"/review/trades/{trade_id}/decision", {"outcome": "approve", "note": "The reporter withdrew it."}
    )
    assert decided.status_code == 200, decided.text
    statuses = [e["status"] for e in seller.api.get(f"/trades/{trade_id}").json()["events"]]
    assert statuses[statuses.index("in_review") + 1] == "verifying"


def test_a_report_on_a_paid_trade_freezes_the_next_payout_and_the_issuer_reversal_nets_it(
    exchange: Exchange,
) -> None:
    seller = make_seller(exchange)
    user_id = seller.api.get("/me").json()["id"]
    first = exchange.mint("cultureland", 50000)
    paid = seller.api.wait_for(seller.sell(first), {"paid"}, timeout=30)

    answer = _report(exchange, [first["code"].lower()])  # typed any way: matched all the same

    assert answer.status_code == 202, answer.text
    case = _case_of(exchange, answer.json()["report_id"])
    with exchange.ctx.uow(readonly=True) as uow:
        (match,) = fraud_repo.matches(uow.conn, case.id)
    assert (match.trade_id, match.status_at_match, match.action, match.amount.amount) == (
        paid["id"],
        "paid",
        Action.FROZEN,
        45500,
    )
    poll_until(
        lambda: _block_answer(exchange, case.id) == "redeemed", 30, what="the issuer's answer to the block"
    )

    # The seller's next sale is credited but not paid: the freeze holds it (up to 45,500).
    second = exchange.mint("cultureland", 50000)
    second_id = seller.sell(second)
    seller.api.wait_for(second_id, {"credited"}, timeout=30)
    poll_until(lambda: _settled(exchange, second_id), 30, what="the held payout to rest")
    with exchange.ctx.uow(readonly=True) as uow:
        held = fraud_service.held_amount(uow.conn, case.id, paid["id"])
    assert held is not None and held.amount == 45500
    assert seller.api.get(f"/trades/{second_id}").json()["status"] == "credited"
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]

    # Staff reverse through the issuer's chargeback: the debt nets against the held payout.
    staff = bootstrap_staff(exchange.ctx, Role.REVIEWER)
    # While another request is with the issuer, a second one is refused and nothing moves.
    with exchange.ctx.uow() as uow:
        (match,) = fraud_repo.matches(uow.conn, case.id)
        assert fraud_repo.claim_charge_back(uow.conn, match.id)
        uow.commit()
    before = _balances(exchange)
    with pytest.raises(Conflict) as pending:
        fraud_service.reverse(exchange.ctx, staff, case.id, paid["id"], "Clicked twice.")
    assert pending.value.code == "charge_back_pending"
    assert seller.api.get(f"/trades/{paid['id']}").json()["status"] == "paid"
    assert _balances(exchange) == before
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]
    with exchange.ctx.uow() as uow:
        (still,) = fraud_repo.matches(uow.conn, case.id)
        assert still.outcome is None
        assert freezes.by_reference(uow.conn, f"fraud_case:{case.id}:{paid['id']}").released_at is None  # type: ignore[union-attr]
        fraud_repo.set_issuer_block(uow.conn, match.id, match.issuer_block or "blocked")  # that one answered
        uow.commit()
    assert (
        fraud_service.reverse(exchange.ctx, staff, case.id, paid["id"], "Police confirmed.")
        is Outcome.REVERSED
    )
    assert seller.api.wait_for(paid["id"], {"reversed"}, timeout=30)["status"] == "reversed"
    settled = seller.api.wait_for(second_id, {"paid"}, timeout=30)
    assert settled["events"][-1]["note"] == "settled against the amount owed after a reversal"
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]
    balances = _balances(exchange)
    assert balances[f"seller_receivable:{user_id}"] == (0, 0)
    assert balances[f"seller_payable:{user_id}"] == (0, 0)
    with exchange.ctx.uow(readonly=True) as uow:
        assert reconcile_service.verify(uow.conn).violations == []
        (after,) = fraud_repo.matches(uow.conn, case.id)
        freeze = freezes.by_reference(uow.conn, f"fraud_case:{case.id}:{paid['id']}")
    assert (after.outcome, after.outcome_by) == (Outcome.REVERSED, staff.email)
    assert freeze is not None and freeze.released_at is not None
    # A second click changes nothing and asks the issuer nothing.
    assert fraud_service.reverse(exchange.ctx, staff, case.id, paid["id"], "Again.") is Outcome.REVERSED
    assert _balances(exchange) == balances
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]


def _block_answer(exchange: Exchange, case_id: str) -> str | None:
    with exchange.ctx.uow(readonly=True) as uow:
        found = fraud_repo.matches(uow.conn, case_id)
    return found[0].issuer_block if found else None


def test_an_unknown_code_gets_the_same_answer_in_the_same_time(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    known = exchange.mint("cultureland", 10000)
    seller.api.wait_for(seller.sell(known, "cultureland", 10000), {"paid"}, timeout=30)

    def timed(code: str) -> tuple[float, Any]:
        start = time.perf_counter()
        response = _report(exchange, [code])
        return time.perf_counter() - start, response

    known_times, unknown_times = [], []
    for _ in range(7):  # interleaved, so a burst of load hits both alike
        spent, answer = timed(known["code"])
        known_times.append(spent)
        unknown = exchange.mint("cultureland", 10000)["code"]  # never sold here
        spent_unknown, other = timed(unknown)
        unknown_times.append(spent_unknown)
        assert (answer.status_code, other.status_code) == (202, 202)
        assert set(answer.json()) == set(other.json()) == {"report_id"}
        assert answer.headers.keys() - {"date", "x-request-id"} == other.headers.keys() - {
            "date",
            "x-request-id",
        }
    # Equal behaviour, not speed: the medians are within a generous factor of each other.
    known_median, unknown_median = statistics.median(known_times), statistics.median(unknown_times)
    assert known_median < 3 * unknown_median + 0.05 and unknown_median < 3 * known_median + 0.05


def test_bad_reports_are_refused_with_stable_codes_and_store_nothing(exchange: Exchange) -> None:
    with exchange.ctx.uow(readonly=True) as uow:
        before = uow.conn.execute(select(func.count()).select_from(fraud_reports)).scalar_one()
    good = {"name": "김피해", "contact": "010-1234-5678"}
    cases = [
        ({"codes": [], "reporter": good, "description": "x"}, "codes_required"),
        ({"codes": ["A1B2C3D4E5"] * 21, "reporter": good, "description": "x"}, "too_many_codes"),
        ({"codes": ["abc"], "reporter": good, "description": "x"}, "code_invalid"),
        ({"codes": ["ABCD-EF/12"], "reporter": good, "description": "x"}, "code_invalid"),
        (
            {"codes": ["A1B2C3D4E5"], "reporter": {**good, "name": " "}, "description": "x"},
            "reporter_name_invalid",
        ),
        (
            {"codes": ["A1B2C3D4E5"], "reporter": {**good, "contact": "1"}, "description": "x"},
            "reporter_contact_invalid",
        ),
        ({"codes": ["A1B2C3D4E5"], "reporter": good, "description": " "}, "description_invalid"),
        (
            {"codes": ["A1B2C3D4E5"], "reporter": good, "police_case_number": "9" * 65, "description": "x"},
            "police_case_number_invalid",
        ),
        ({"codes": "A1B2C3D4E5", "reporter": good, "description": "x"}, "invalid_request"),
    ]
    for body, code in cases:
        answer = exchange.client().post("/fraud-reports", body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (422, code), body
    with exchange.ctx.uow(readonly=True) as uow:
        assert uow.conn.execute(select(func.count()).select_from(fraud_reports)).scalar_one() == before


def test_reports_are_limited_per_contact_and_per_address(exchange: Exchange) -> None:
    ctx = exchange.ctx
    settings = ctx.settings
    # A fresh window of its own, with the real limits.
    exchange.clock.offset += timedelta(hours=5)
    ctx.settings = settings.with_overrides(rate_limit_multiplier=1)
    try:
        contact = f"flood-{uuid.uuid4().hex[:8]}@example.com"
        answers = [_report(exchange, ["A1B2C3D4E5"], contact).status_code for _ in range(6)]
        assert answers == [202] * 5 + [429]
        refused = _report(exchange, ["A1B2C3D4E5"], contact)
        assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["retry-after"]) > 0
        # Other contacts from this address: 20 an hour in all, then refused too.
        others = [_report(exchange, ["A1B2C3D4E5"]).status_code for _ in range(16)]
        assert others == [202] * 13 + [429] * 3
    finally:
        ctx.settings = settings
        exchange.reset_clock()


def test_an_issuer_reports_with_its_api_key(exchange: Exchange) -> None:
    operator = exchange.operator()
    created = operator.post("/api-keys", {"name": "issuer feed", "scopes": ["fraud_reports:write"]})
    assert created.status_code == 201, created.text
    wrong = operator.post("/api-keys", {"name": "no scope", "scopes": ["trades:read"]}).json()["key"]

    answer = _report(exchange, ["A1B2C3D4E5"], Authorization=f"Bearer {created.json()['key']}")
    refused = _report(exchange, ["A1B2C3D4E5"], Authorization=f"Bearer {wrong}")

    assert answer.status_code == 202, answer.text
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "insufficient_scope")
    with exchange.ctx.uow(readonly=True) as uow:
        row = fraud_repo.report(uow.conn, answer.json()["report_id"])
    assert row.source == "issuer"
    poll_until(lambda: _matched(exchange, answer.json()["report_id"]), 30, what="the match job")
