"""The issuer takes a paid voucher back: reversal, receivable, netting, appeal (real HTTP, both databases)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.exchange import Exchange, Seller, make_seller
from tests.support.polling import poll_until

pytestmark = pytest.mark.both_backends


def _balances(exchange: Exchange) -> dict[str, tuple[int, int]]:
    found = exchange.operator().get("/ledger/balances").json()["accounts"]
    return {a["account"]: (a["balance"], a["pending"]) for a in found}


def _chargeback(exchange: Exchange, voucher: dict[str, Any], reason: str = "stolen") -> None:
    response = exchange.sandbox("POST", "/issuer/chargebacks", {"code": voucher["code"], "reason": reason})
    assert response.status_code == 202, response.text


def _paid(exchange: Exchange, seller: Seller, amount: int = 50000) -> tuple[dict[str, Any], dict[str, Any]]:
    voucher = exchange.mint("cultureland", amount)
    trade = seller.api.wait_for(seller.sell(voucher, "cultureland", amount), timeout=30)
    assert trade["status"] == "paid"
    return trade, voucher


def test_a_chargeback_reverses_the_trade_and_the_next_payouts_settle_the_debt(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    user_id = seller.api.get("/me").json()["id"]
    trade, voucher = _paid(exchange, seller)
    before = _balances(exchange)

    _chargeback(exchange, voucher, "stolen")
    reversed_ = seller.api.wait_for(trade["id"], {"reversed"}, timeout=30)

    assert [r["code"] for r in reversed_["decision"]["reasons"]] == ["voucher_reversed"]
    assert reversed_["reversal"]["reason"] == "stolen"
    assert reversed_["reversal"]["seller_liable"] is True
    assert reversed_["reversal"]["owed"] == {"amount": 45500, "currency": "KRW"}
    assert reversed_["reversal"]["can_appeal"] is True
    after = _balances(exchange)
    assert after[f"seller_receivable:{user_id}"] == (45500, 0)
    assert after[f"seller_payable:{user_id}"] == (0, 0)
    assert after["reversals"][0] - before.get("reversals", (0, 0))[0] == 50000 - 45500
    assert after["inventory:cultureland"][0] == before["inventory:cultureland"][0] - 50000
    assert after["treasury"] == before["treasury"]
    assert seller.api.get("/me").json()["receivable"] == {"amount": 45500, "currency": "KRW"}

    # The next sale (payout 91,000) first settles the 45,500 owed; only the rest reaches the bank.
    second, _ = _paid(exchange, seller, 100000)
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500, 45500]
    settled = _balances(exchange)
    assert settled[f"seller_receivable:{user_id}"] == (0, 0)
    assert settled[f"seller_payable:{user_id}"] == (0, 0)
    assert settled["treasury"][0] == before["treasury"][0] - 45500
    assert seller.api.get("/me").json()["receivable"] == {"amount": 0, "currency": "KRW"}
    assert second["payout"] == {"amount": 91000, "currency": "KRW"}

    # The issuer repeating its report is the same report (one per voucher): nothing moves twice.
    again = exchange.sandbox("POST", "/issuer/chargebacks", {"code": voucher["code"], "reason": "fraud"})
    assert (again.status_code, again.json()["reason"]) == (202, "stolen")


def test_a_payout_fully_absorbed_by_the_debt_is_paid_without_a_bank_transfer(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    user_id = seller.api.get("/me").json()["id"]
    _, voucher = _paid(exchange, seller)
    _chargeback(exchange, voucher, "chargeback")
    poll_until(
        lambda: seller.api.get("/me").json()["receivable"]["amount"] == 45500 or None, 30, what="the reversal"
    )
    small, _ = _paid(exchange, seller, 10000)  # payout 9,000, all of it owed
    assert small["events"][-1]["note"] == "settled against the amount owed after a reversal"
    assert [t["amount"] for t in exchange.rail_transfers(seller.account_number)] == [45500]
    assert _balances(exchange)[f"seller_receivable:{user_id}"] == (45500 - 9000, 0)


def test_the_seller_appeals_once_and_a_reviewer_writes_the_debt_off(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    user_id = seller.api.get("/me").json()["id"]
    trade, voucher = _paid(exchange, seller)
    _chargeback(exchange, voucher, "fraud")
    seller.api.wait_for(trade["id"], {"reversed"}, timeout=30)
    losses_before = _balances(exchange).get("losses", (0, 0))[0]

    first = seller.api.post(
        f"/trades/{trade['id']}/appeal", {"note": "I bought it myself; receipt attached."}
    )
    second = seller.api.post(f"/trades/{trade['id']}/appeal", {"note": "again"})
    assert first.status_code == 202, first.text
    assert first.json()["reversal"]["appeal"] == "appealed"
    assert (second.status_code, second.json()["error"]["code"]) == (409, "appeal_already_made")

    reviewer = exchange.operator()
    waiting = reviewer.get("/review/appeals").json()["appeals"]
    mine = next(a for a in waiting if a["trade_id"] == trade["id"])
    assert (mine["reason"], mine["owed"], mine["note"]) == (
        "fraud",
        {"amount": 45500, "currency": "KRW"},
        "I bought it myself; receipt attached.",
    )
    answer = reviewer.post(
        f"/review/appeals/{trade['id']}/decision", {"outcome": "written_off", "note": "Issuer error."}
    )
    assert answer.status_code == 200, answer.text
    again = reviewer.post(f"/review/appeals/{trade['id']}/decision", {"outcome": "upheld", "note": "no"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "appeal_already_answered")

    balances = _balances(exchange)
    assert balances[f"seller_receivable:{user_id}"] == (0, 0)
    assert balances["losses"][0] - losses_before == 45500
    view = seller.api.get(f"/trades/{trade['id']}").json()
    assert (view["status"], view["reversal"]["appeal"], view["reversal"]["can_appeal"]) == (
        "reversed",
        "written_off",
        False,
    )
    assert seller.api.get("/me").json()["receivable"] == {"amount": 0, "currency": "KRW"}


def test_a_new_account_of_the_same_person_sees_and_settles_the_debt_over_http(exchange: Exchange) -> None:
    name = f"Choi Minho {uuid.uuid4().hex[:6]}"
    choi = make_seller(exchange, legal_name=name, birth_date="1988-03-14")
    choi_id = choi.api.get("/me").json()["id"]
    trade, voucher = _paid(exchange, choi)
    _chargeback(exchange, voucher, "stolen")
    choi.api.wait_for(trade["id"], {"reversed"}, timeout=30)

    namesake = make_seller(exchange, legal_name=name, birth_date="1991-07-02")  # another person
    assert namesake.api.get("/me").json()["receivable"] == {"amount": 0, "currency": "KRW"}
    again = make_seller(exchange, legal_name=name, birth_date="1988-03-14")
    me = again.api.get("/me").json()
    assert (me["receivable"], me["receivable_linked"]) == (
        {"amount": 45500, "currency": "KRW"},
        {"amount": 45500, "currency": "KRW"},
    )

    sold, _ = _paid(exchange, again, 100000)  # payout 91,000: 45,500 settles Choi's debt first
    assert [t["amount"] for t in exchange.rail_transfers(again.account_number)] == [91000 - 45500]
    assert "settled what another account of the same person owed after a reversal" in [
        e["note"] for e in sold["events"]
    ]
    assert _balances(exchange)[f"seller_receivable:{choi_id}"] == (0, 0)
    assert again.api.get("/me").json()["receivable"] == {"amount": 0, "currency": "KRW"}
