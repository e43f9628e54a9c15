"""A seller's bank accounts: Korean bank codes, one default, no removal while money is on its way."""

from __future__ import annotations

import pytest

from tests.support.exchange import Exchange, Seller, make_seller, new_account_number
from voucher_exchange.accounts import repository as accounts
from voucher_exchange.accounts.models import User
from voucher_exchange.errors import Conflict, NotFound
from voucher_exchange.identity import service as identity
from voucher_exchange.payouts import banks
from voucher_exchange.trades import service as trade_service


def _user(exchange: Exchange, seller: Seller) -> User:
    with exchange.ctx.uow(readonly=True) as uow:
        found = accounts.by_email(uow.conn, seller.email)
    assert found is not None
    return found[0]


def _add(exchange: Exchange, seller: Seller, bank_code: str) -> tuple[int, dict[str, object]]:
    number = new_account_number()
    holder = {"bank_code": bank_code, "account_number": number, "holder_name": seller.legal_name}
    exchange.sandbox("POST", "/rail/accounts", holder)
    answer = seller.api.post("/me/payout-destinations", {"kind": "bank_account", **holder})
    return answer.status_code, answer.json()


def _listed(seller: Seller) -> list[str]:
    return [d["id"] for d in seller.api.get("/me/payout-destinations").json()["payout_destinations"]]


def test_the_korean_bank_list_has_the_interbank_codes() -> None:
    listed = {b.code: b.name_ko for b in banks.banks_for("KR")}
    assert (listed["004"], listed["088"], listed["090"], listed["092"], listed["071"]) == (
        "KB국민은행", "신한은행", "카카오뱅크", "토스뱅크", "우체국",
    )  # fmt: skip
    assert len(listed) == len(banks.KR_BANKS)  # no code twice
    assert banks.known("KR", "089") and not banks.known("KR", "999")
    assert banks.known("US", "021000021")  # elsewhere the bank's own identifier is taken as given
    assert banks.bank_name("031", "ko") == "iM뱅크(대구은행)" and banks.bank_name("999", "en") == "999"


def test_an_unknown_bank_code_is_refused_and_nothing_is_stored(exchange: Exchange, seller: Seller) -> None:
    before = _listed(seller)
    status, body = _add(exchange, seller, "999")
    assert (status, body["error"]["code"], body["error"]["field"]) == (422, "bank_code_invalid", "bank_code")  # type: ignore[index]
    assert _listed(seller) == before
    status, body = _add(exchange, seller, "090")
    assert (status, body["status"]) == (201, "verified")


def test_one_default_and_no_removal_while_a_trade_will_pay_there(exchange: Exchange) -> None:
    seller = make_seller(exchange)
    user = _user(exchange, seller)
    first = seller.destination_id
    status, body = _add(exchange, seller, "088")
    second = str(body["id"])
    assert status == 201
    shown = seller.api.get("/me/payout-destinations").json()["payout_destinations"]
    assert [d["id"] for d in shown] == [first, second]  # the default (the first verified) leads
    identity.make_default(exchange.ctx, user, second)
    assert [d.id for d in identity.list_destinations(exchange.ctx, user) if d.is_default] == [second]

    # A held trade will pay into the first account: it may not be removed until the trade rests.
    voucher = exchange.mint("google-play-kr", 150000)
    trade_id = seller.sell(voucher, "google-play-kr", 150000)
    assert seller.api.wait_for(trade_id)["status"] == "in_review"
    with pytest.raises(Conflict) as refused:
        trade_service.remove_payout_destination(exchange.ctx, user, first)
    assert refused.value.code == "payout_destination_in_use"
    assert _listed(seller) == [second, first]
    assert seller.api.post(f"/trades/{trade_id}/cancel").status_code == 200
    trade_service.remove_payout_destination(exchange.ctx, user, first)
    assert _listed(seller) == [second]
    # A removed account takes no new trade and cannot become the default again.
    with pytest.raises(NotFound):
        identity.make_default(exchange.ctx, user, first)
    fresh = exchange.mint("cultureland", 10000)
    quote = seller.quote("cultureland", 10000)
    answer = seller.api.post("/trades", seller.trade_body(quote["id"], fresh["code"]))
    assert (answer.status_code, answer.json()["error"]["code"]) == (404, "payout_destination_unknown")
