"""Sanctions screening with the fixture list loaded through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.assertions import reason_codes
from tests.support.exchange import Exchange, make_seller, new_account
from tests.support.processes import run_cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sanctions"


@pytest.fixture
def listed(exchange: Exchange, tmp_path: Path) -> Exchange:
    result = run_cli(
        tmp_path, "sanctions", "load", str(FIXTURES / "sdn.csv"), str(FIXTURES / "alt.csv"),
        "--database-url", exchange.database_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded 7 entries" in result.stdout
    return exchange


@pytest.mark.parametrize(
    "name", ["MUSTERMANN, Erika", "Erika Mustermann", "Erika Musterman", "홍길동", "Kim Cheol Su"]
)
def test_listed_names_are_refused_at_identity(listed: Exchange, name: str) -> None:
    api, _ = new_account(listed)
    response = api.post(
        "/me/identity", {"legal_name": name, "birth_date": "1980-01-01", "phone": "010-1111-2222"}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (403, "sanctions_match")
    me = api.get("/me").json()
    assert (me["kyc_tier"], me["identity_status"]) == (0, "failed")


def test_an_unlisted_similar_name_sells_normally(listed: Exchange) -> None:
    seller = make_seller(listed, legal_name="Erik Mustermeyer")
    trade = seller.api.wait_for(seller.sell(listed.mint()))
    assert trade["status"] == "paid"


def test_a_weak_match_is_held_for_a_person(listed: Exchange) -> None:
    seller = make_seller(listed, legal_name="Erika Musterfrau")
    voucher = listed.mint()
    trade = seller.api.wait_for(seller.sell(voucher))
    assert trade["status"] == "in_review"
    assert reason_codes(trade) == ["sanctions_match"]
    assert listed.lookup(voucher["code"])["state"] == "active"
