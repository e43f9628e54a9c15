"""Sanctions screening over real HTTP, with the fixture list loaded through the CLI.

The fixture list: MUSTERMANN, Erika (DOB 12 Aug 1964, nationality Germany), 홍길동 (DOB 1970),
KIM, Cheol-su (no identifiers), DOE, John Quincy (no identifiers) and others.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.assertions import assert_nothing_moved, reason_codes
from tests.support.cli import invoke_cli
from tests.support.exchange import Exchange, Seller, make_seller, new_account
from voucher_exchange.db.schema import audit_log, decisions, sanctions_clearances, users
from voucher_exchange.demo import DEMO_OPERATOR_EMAIL
from voucher_exchange.risk.sanctions_customers import payouts_frozen

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sanctions"
SDN = (FIXTURES / "sdn.csv").read_text(encoding="utf-8")


def load_list(exchange: Exchange, directory: Path, sdn: str) -> str:
    path = directory / "sdn.csv"
    path.write_text(sdn, encoding="utf-8")
    result = invoke_cli(
        directory, "sanctions", "load", str(path), str(FIXTURES / "alt.csv"),
        "--database-url", exchange.database_url,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def listed(exchange: Exchange, tmp_path: Path) -> Exchange:
    output = load_list(exchange, tmp_path, SDN)
    assert "loaded 7 entries" in output
    assert "re-screened" in output
    return exchange


def old_voucher(exchange: Exchange) -> dict[str, Any]:
    """A voucher issued weeks ago, so the fresh-voucher rules stay out of the way."""
    return exchange.mint(issued_at=(exchange.clock.now() - timedelta(days=30)).isoformat())


def risk_evidence(exchange: Exchange, trade_id: str) -> dict[str, Any]:
    with exchange.ctx.uow(readonly=True) as uow:
        row = uow.conn.execute(
            select(decisions.c.evidence).where(
                (decisions.c.trade_id == trade_id) & (decisions.c.stage == "risk")
            )
        ).one()
    return dict(row.evidence)


def user_id(exchange: Exchange, seller: Seller) -> str:
    with exchange.ctx.uow(readonly=True) as uow:
        return str(uow.conn.execute(select(users.c.id).where(users.c.email == seller.email)).scalar_one())


@pytest.mark.parametrize(
    ("name", "born", "nationality"),
    [
        ("MUSTERMANN, Erika", "1964-08-12", "DE"),
        ("Erika Mustermann", "1964-08-12", "DE"),
        ("Erika Musterman", "1964-08-12", "DE"),
        ("홍길동", "1970-03-01", None),
        ("Hong Gil-dong", "1970-11-30", None),
    ],
)
def test_a_listed_name_with_its_birth_date_is_refused_at_identity(
    listed: Exchange, name: str, born: str, nationality: str | None
) -> None:
    api, _ = new_account(listed)
    person = {"legal_name": name, "birth_date": born, "phone": "010-1111-2222"}
    response = api.post("/me/identity", person | ({"nationality": nationality} if nationality else {}))
    assert (response.status_code, response.json()["error"]["code"]) == (403, "sanctions_match")
    me = api.get("/me").json()
    assert (me["kyc_tier"], me["identity_status"]) == (0, "failed")


def test_a_nationality_that_is_not_a_country_code_is_refused(listed: Exchange) -> None:
    api, _ = new_account(listed)
    person = {"legal_name": "Lee Minho", "birth_date": "1990-01-01", "phone": "010-1111-2222"}
    response = api.post("/me/identity", person | {"nationality": "ZZ"})
    assert (response.status_code, response.json()["error"]["code"]) == (422, "nationality_invalid")
    assert api.get("/me").json()["kyc_tier"] == 0


def test_a_seller_named_like_a_listed_person_but_born_decades_apart_is_paid_without_review(
    listed: Exchange,
) -> None:
    seller = make_seller(listed, legal_name="Erika Mustermann", birth_date="1994-08-12")
    trade = seller.api.wait_for(seller.sell(listed.mint()))
    assert (trade["status"], trade["decision"]["outcome"]) == ("paid", "approve")
    assert [t["amount"] for t in listed.rail_transfers(seller.account_number)] == [45500]
    detail = risk_evidence(listed, str(trade["id"]))["features"]["sanctions_detail"]["legal_name"]
    assert (detail["strength"], detail["reason"]) == ("none", "no_match")
    assert detail["customer"] == {"date_of_birth": "1994-08-12", "nationality": "KR"}
    miss = detail["near_misses"][0]
    assert (miss["ent_num"], miss["listed_name"], miss["reason"]) == (
        1001,
        "MUSTERMANN, Erika",
        "dob_differs",
    )
    assert miss["listed"]["dates_of_birth"] == ["1964-08-12"]
    assert miss["listed"]["nationalities"] == ["DE"]


def test_a_listed_name_and_birth_date_with_another_nationality_is_held_not_cleared(listed: Exchange) -> None:
    seller = make_seller(listed, legal_name="Erika Mustermann", birth_date="1964-08-12")
    voucher = listed.mint()
    trade = seller.api.wait_for(seller.sell(voucher))
    assert trade["status"] == "in_review"
    assert reason_codes(trade) == ["sanctions_match"]
    assert_nothing_moved(listed, seller, str(trade["id"]), voucher)


def test_an_unlisted_similar_name_sells_normally(listed: Exchange) -> None:
    seller = make_seller(listed, legal_name="Erik Mustermeyer")
    trade = seller.api.wait_for(seller.sell(listed.mint()))
    assert trade["status"] == "paid"


def test_a_similar_name_with_the_listed_birth_date_is_held_for_a_person(listed: Exchange) -> None:
    seller = make_seller(listed, legal_name="Erika Musterfrau", birth_date="1964-08-12", nationality="DE")
    voucher = listed.mint()
    trade = seller.api.wait_for(seller.sell(voucher))
    assert trade["status"] == "in_review"
    assert reason_codes(trade) == ["sanctions_match"]
    assert listed.lookup(voucher["code"])["state"] == "active"


def test_a_reviewer_clears_a_possible_match_and_a_changed_entry_reopens_it(
    listed: Exchange, tmp_path: Path
) -> None:
    # KIM, Cheol-su carries no identifiers on the list: the name alone makes a possible match.
    seller = make_seller(listed, legal_name="Kim Cheol Su", birth_date="1985-03-03")
    held = seller.api.wait_for(seller.sell(old_voucher(listed)))
    assert (held["status"], reason_codes(held)) == ("in_review", ["sanctions_match"])
    reviewer = listed.operator()
    queued = reviewer.get("/review/trades", params={"reason": "sanctions_match"}).json()["trades"]
    item = next(t for t in queued if t["id"] == held["id"])
    match = item["evidence"]["features"]["sanctions_detail"]["legal_name"]
    assert (match["strength"], match["reason"], match["ent_num"]) == ("weak", "name_only", 1004)
    assert match["listed"]["dates_of_birth"] == [] and match["customer"]["date_of_birth"] == "1985-03-03"

    decided = reviewer.post(
        f"/review/trades/{held['id']}/decision",
        {
            "outcome": "approve",
            "note": "Born 1985 in Busan; not the listed director.",
            "reason": "not_listed_person",
        },
    )
    assert decided.status_code == 200, decided.text
    assert seller.api.wait_for(str(held["id"]), {"paid"})["status"] == "paid"
    uid = user_id(listed, seller)
    with listed.ctx.uow(readonly=True) as uow:
        cleared = uow.conn.execute(
            select(sanctions_clearances.c.ent_num, sanctions_clearances.c.cleared_by).where(
                sanctions_clearances.c.user_id == uid
            )
        ).all()
        audited = uow.conn.execute(
            select(audit_log.c.action, audit_log.c.details).where(
                (audit_log.c.subject == uid) & (audit_log.c.action == "sanctions.clear")
            )
        ).all()
    assert [(row.ent_num, row.cleared_by) for row in cleared] == [(1004, DEMO_OPERATOR_EMAIL)]
    assert len(audited) == 1 and audited[0].details["ent_num"] == 1004

    again = seller.api.wait_for(seller.sell(old_voucher(listed)))
    assert (again["status"], again["decision"]["outcome"]) == ("paid", "approve")

    # The list changes the entry: the old clearance no longer covers it, the next trade is held again.
    changed = SDN.replace(
        '"Director",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Fictional test entry."',
        '"Director",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"Fictional test entry; POB Pyongyang."',
    )
    assert changed != SDN
    try:
        output = load_list(listed, tmp_path, changed)
        assert f"{seller.email}: none → weak (KIM, Cheol-su, entry 1004)" in output
        reopened = seller.api.wait_for(seller.sell(old_voucher(listed)))
        assert (reopened["status"], reason_codes(reopened)) == ("in_review", ["sanctions_match"])
        queued = reviewer.get("/review/trades", params={"reason": "sanctions_match"}).json()["trades"]
        file = next(t for t in queued if t["id"] == reopened["id"])["sanctions"]
        assert file["legal_name"]["entry_version"] != file["clearances"][0]["entry_version"]
        assert [(c["ent_num"], c["cleared_by"]) for c in file["clearances"]] == [(1004, DEMO_OPERATOR_EMAIL)]
    finally:
        load_list(listed, tmp_path, SDN)


def test_a_new_strong_hit_on_a_list_load_freezes_payouts(listed: Exchange, tmp_path: Path) -> None:
    seller = make_seller(listed, legal_name="Richard Roe", birth_date="1971-02-03")
    first = seller.api.wait_for(seller.sell(listed.mint()))
    assert first["status"] == "paid"
    newer = (
        SDN
        + '2001,"ROE, Richard","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 03 Feb 1971."\r\n'
    )
    try:
        output = load_list(listed, tmp_path, newer)
        assert f"{seller.email}: none → strong (ROE, Richard, entry 2001)" in output
        with listed.ctx.uow(readonly=True) as uow:
            assert payouts_frozen(uow.conn, user_id(listed, seller))
        voucher = listed.mint()
        refused = seller.api.wait_for(seller.sell(voucher))
        assert (refused["status"], reason_codes(refused)) == ("rejected", ["sanctions_match"])
        assert [t["amount"] for t in listed.rail_transfers(seller.account_number)] == [45500]
        assert listed.lookup(voucher["code"])["state"] == "active"

        frozen = invoke_cli(tmp_path, "sanctions", "freezes", "--database-url", listed.database_url)
        assert f"{seller.email} · Richard Roe · ROE, Richard (entry 2001)" in frozen.stdout
        released = invoke_cli(
            tmp_path, "sanctions", "release", seller.email, "--reviewer", "reviewer@example.com",
            "--database-url", listed.database_url,
        )  # fmt: skip
        assert released.returncode == 0, released.stdout + released.stderr
        assert f"released {seller.email}: 0 held trades resume paying out" in released.stdout
        with listed.ctx.uow(readonly=True) as uow:
            assert not payouts_frozen(uow.conn, user_id(listed, seller))
    finally:
        load_list(listed, tmp_path, SDN)
