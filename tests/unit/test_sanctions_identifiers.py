"""Identifiers from OFAC Remarks, and how name + identifiers combine into a match strength."""

from __future__ import annotations

from datetime import date

import pytest

from voucher_exchange.risk.sanctions import ListedName, SanctionsScreen, Strength, judge
from voucher_exchange.risk.sanctions_identifiers import (
    Agreement,
    DobSpan,
    Identifiers,
    PersonFacts,
    compare_dob,
    compare_nationality,
    country_code,
    parse_dob,
    parse_remarks,
)
from voucher_exchange.risk.sanctions_names import korean_sound, match_key, normalise


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("18 Feb 1962", DobSpan(date(1962, 2, 18), date(1962, 2, 18))),
        ("1947", DobSpan(date(1947, 1, 1), date(1947, 12, 31))),
        ("Dec 1960", DobSpan(date(1960, 12, 1), date(1960, 12, 31))),
        ("circa 1947", DobSpan(date(1945, 1, 1), date(1949, 12, 31), circa=True)),
        ("1964 to 1966", DobSpan(date(1964, 1, 1), date(1966, 12, 31))),
        ("01 Jan 1960 to 31 Dec 1962", DobSpan(date(1960, 1, 1), date(1962, 12, 31))),
        ("Mar 1960 to Feb 1962", DobSpan(date(1960, 3, 1), date(1962, 2, 28))),
        ("circa 1979-1981", DobSpan(date(1977, 1, 1), date(1983, 12, 31), circa=True)),
        ("1966.", DobSpan(date(1966, 1, 1), date(1966, 12, 31))),
    ],
)
def test_every_dob_form_the_list_uses_is_read(text: str, span: DobSpan) -> None:
    assert parse_dob(text) == span


def test_text_that_is_not_a_date_is_not_a_dob() -> None:
    assert parse_dob("unknown") is None
    assert parse_dob("31 Feb 1962") is None


def test_remarks_give_dobs_countries_places_gender_and_aliases() -> None:
    remarks = (
        "DOB 1964; alt. DOB 28 Aug 1962; POB Pyongan-Pukto, North Korea; nationality Korea, North; "
        "alt. citizen Russia; Gender Male; Passport 290320764; a.k.a. 'KIM, JIN SOK'; Linked To: A BANK."
    )
    found = parse_remarks(remarks, "individual")
    assert found == Identifiers(
        individual=True,
        dobs=(DobSpan(date(1964, 1, 1), date(1964, 12, 31)), DobSpan(date(1962, 8, 28), date(1962, 8, 28))),
        nationalities=("KP", "RU"),
        places_of_birth=("Pyongan-Pukto, North Korea",),
        gender="male",
    )
    assert found.aliases == ("KIM, JIN SOK",)
    assert found.for_evidence()["dates_of_birth"] == ["1964", "1962-08-28"]
    assert Identifiers.from_json(found.as_json(), True) == found
    assert parse_remarks("Website www.example.invalid.", None).individual is False


def test_countries_as_ofac_writes_them() -> None:
    assert [country_code(n) for n in ["Korea, North", "Korea, South", "Burma", "Russia", "Germany"]] == [
        "KP", "KR", "MM", "RU", "DE",
    ]  # fmt: skip
    assert country_code("Bosnia and Herzegovina") == "BA"
    assert country_code("Atlantis") == "Atlantis"


def test_a_birth_date_matches_is_near_or_contradicts() -> None:
    listed = [DobSpan(date(1962, 2, 18), date(1962, 2, 18)), DobSpan(date(1964, 1, 1), date(1964, 12, 31))]
    assert compare_dob(listed, date(1962, 2, 18)) is Agreement.MATCH
    assert compare_dob(listed, date(1964, 7, 1)) is Agreement.MATCH
    assert compare_dob(listed, date(1962, 7, 1)) is Agreement.NEAR
    assert compare_dob(listed, date(1965, 12, 31)) is Agreement.NEAR
    assert compare_dob(listed, date(1990, 1, 1)) is Agreement.CONTRADICTS
    assert compare_dob([], date(1990, 1, 1)) is Agreement.UNKNOWN
    assert compare_dob(listed, None) is Agreement.UNKNOWN
    assert compare_nationality(["KP"], "KR") is Agreement.CONTRADICTS
    assert compare_nationality(["KP", "RU"], "ru") is Agreement.MATCH
    assert compare_nationality([], "KR") is Agreement.UNKNOWN


LISTED = Identifiers(True, (DobSpan(date(1962, 2, 18), date(1962, 2, 18)),), ("KP",))


@pytest.mark.parametrize(
    ("agrees", "listed", "person", "expected"),
    [
        (True, LISTED, PersonFacts(date(1962, 2, 18), "KP"), (Strength.STRONG, "name_and_dob")),
        (True, LISTED, PersonFacts(date(1962, 2, 18), None), (Strength.STRONG, "name_and_dob")),
        (True, LISTED, PersonFacts(date(1962, 2, 18), "KR"), (Strength.WEAK, "nationality_differs")),
        (True, LISTED, PersonFacts(date(1962, 9, 1), None), (Strength.WEAK, "dob_near")),
        (True, LISTED, PersonFacts(date(1962, 9, 1), "KR"), (Strength.NONE, "nationality_differs")),
        (True, LISTED, PersonFacts(date(1990, 1, 1), "KP"), (Strength.NONE, "dob_differs")),
        (True, Identifiers(True), PersonFacts(date(1990, 1, 1), "KR"), (Strength.WEAK, "name_only")),
        (False, LISTED, PersonFacts(date(1962, 2, 18), None), (Strength.WEAK, "similar_name_and_dob")),
        (False, LISTED, PersonFacts(date(1962, 2, 18), "KR"), (Strength.NONE, "similar_name_only")),
        (False, Identifiers(True), PersonFacts(date(1990, 1, 1), None), (Strength.NONE, "similar_name_only")),
    ],
)
def test_judge_weighs_the_identifiers(
    agrees: bool, listed: Identifiers, person: PersonFacts, expected: tuple[Strength, str]
) -> None:
    assert judge(agrees, listed, person) == expected


def test_korean_romanisations_share_a_sound_key() -> None:
    for group in [
        ["Ri", "Rhee", "Lee", "Yi", "이", "리"], ["Pak", "Park", "Bak", "박"], ["Choe", "Choi", "최"],
        ["Chol", "Cheol", "Chul", "철"], ["Yong", "Young", "Yeong", "영"], ["Kwang", "Gwang", "광"],
        ["Jong", "Jung", "정"],
    ]:  # fmt: skip
        assert len({match_key(f"Kim {syllable}")[0] for syllable in group}) == 1, group
    assert korean_sound("cheol") == korean_sound("chul") == "col"
    assert match_key("KIM, Tong-Myo'ng") == match_key("Kim Tongmyong") == match_key("김동명")
    assert match_key("Harper Lee") == ("harper lee", False)


def listed(name: str, ent_num: int, identifiers: Identifiers, version: str = "v1") -> ListedName:
    return ListedName(name, normalise(name), ent_num, "SDGT", identifiers, version)


def test_only_individuals_are_compared_with_a_person_and_a_partial_name_is_a_candidate() -> None:
    person = Identifiers(True, (DobSpan(date(1964, 8, 16), date(1964, 8, 16)),), ("RU",))
    screen = SanctionsScreen(
        1,
        [
            listed("BELYKH, Irina Viktorovna", 1, person),
            listed("IRINA BELYKH TRADING", 2, Identifiers(False)),
        ],
    )
    match = screen.screen("Irina Belykh", PersonFacts(date(1964, 8, 16), "RU"))
    assert (match.strength, match.ent_num, match.reason) == (Strength.STRONG, 1, "name_and_dob")
    assert match.listed == {
        "dates_of_birth": ["1964-08-16"], "nationalities": ["RU"], "places_of_birth": [], "gender": None,
    }  # fmt: skip
    assert match.customer == {"date_of_birth": "1964-08-16", "nationality": "RU"}
    assert (
        screen.screen("Irina Belykh Trading", PersonFacts(date(1980, 1, 1), "KR")).strength is Strength.NONE
    )


def test_a_cleared_entry_is_skipped_until_its_version_changes() -> None:
    entry = Identifiers(True)
    screen = SanctionsScreen(1, [listed("KIM, Cheol-su", 1004, entry, "v1")])
    person = PersonFacts(date(1985, 3, 3), "KR")
    assert screen.screen("김철수", person).strength is Strength.WEAK
    cleared = screen.screen("김철수", person, frozenset({(1004, "v1")}))
    assert cleared.strength is Strength.NONE
    assert cleared.cleared == ({"ent_num": 1004, "entry_version": "v1"},)
    changed = SanctionsScreen(2, [listed("KIM, Cheol-su", 1004, entry, "v2")])
    assert changed.screen("김철수", person, frozenset({(1004, "v1")})).strength is Strength.WEAK
