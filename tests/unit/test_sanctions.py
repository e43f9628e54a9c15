"""Sanctions screening: OFAC legacy CSV parsing, name keys, matching strength, list replacement."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.migrate import upgrade
from voucher_exchange.db.schema import sanctions_lists, sanctions_names
from voucher_exchange.db.uow import UnitOfWork
from voucher_exchange.risk.sanctions import (
    STRONG_AT,
    WEAK_AT,
    ListedName,
    SanctionsMatch,
    SanctionsScreen,
    Strength,
)
from voucher_exchange.risk.sanctions_list import (
    LoadSummary,
    SanctionsFileInvalid,
    current_list_id,
    load,
    parse_alt,
    parse_sdn,
)
from voucher_exchange.risk.sanctions_names import normalise, romanise_hangul

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sanctions"
SDN = (FIXTURES / "sdn.csv").read_text(encoding="utf-8")
ALT = (FIXTURES / "alt.csv").read_text(encoding="utf-8")
NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path}/s.db")
    upgrade(engine)
    yield engine
    engine.dispose()


def load_fixture(engine: Engine, sdn: str = SDN, alt: str | None = ALT) -> LoadSummary:
    with UnitOfWork(engine) as uow:
        summary = load(uow.conn, sdn, alt, "fixtures", NOW)
        uow.commit()
    return summary


def screen_of(engine: Engine) -> SanctionsScreen:
    with UnitOfWork(engine, readonly=True) as uow:
        return SanctionsScreen.from_db(uow.conn)


@pytest.fixture
def screen(engine: Engine) -> SanctionsScreen:
    load_fixture(engine)
    return screen_of(engine)


# ---------------------------------------------------------------------------- parsing


def test_parse_sdn_reads_every_column_and_turns_nulls_into_none() -> None:
    rows = parse_sdn(SDN)
    assert [row.ent_num for row in rows] == [1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]
    erika = rows[0]
    assert (erika.line, erika.name, erika.sdn_type, erika.program) == (
        1,
        "MUSTERMANN, Erika",
        "individual",
        "SDGT",
    )
    assert (erika.title, erika.call_sign, erika.vess_type, erika.tonnage) == (None, None, None, None)
    assert (erika.grt, erika.vess_flag, erika.vess_owner) == (None, None, None)
    assert erika.remarks == "DOB 12 Aug 1964; nationality Germany; fictional test entry."
    company = rows[4]
    assert (company.name, company.sdn_type) == ("ACME FICTIONAL TRADING CO., LTD.", None)
    vessel = rows[5]
    assert (vessel.sdn_type, vessel.call_sign, vessel.tonnage, vessel.vess_flag) == (
        "vessel",
        "9XYZ1",
        "150,000",
        "Panama",
    )
    assert rows[2].name == "홍길동"


def test_parse_alt_reads_aliases_with_their_entry_numbers() -> None:
    rows = parse_alt(ALT)
    assert [(row.ent_num, row.alt_num, row.alt_type, row.alt_name) for row in rows] == [
        (1001, 101, "aka", "MUSTERMANN, Eri"),
        (1002, 102, "aka", "DOE, Johnny"),
        (1004, 103, "aka", "김철수"),
        (1005, 104, "fka", "ACME TRADING HOUSE"),
        (1006, 105, "aka", "PHANTOM OF THE SEA"),
        (1007, 106, "aka", "NOVÁKOVÁ, Zdeňka"),
    ]
    assert rows[0].alt_remarks is None
    assert rows[-1].alt_remarks == "Spelling in Czech."


def test_parse_tolerates_blank_lines_unix_endings_and_the_eof_marker() -> None:
    text = '\n7,"ROE, Richard","individual","SDGT",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\n\n\x1a'
    rows = parse_sdn(text)
    assert [(row.line, row.ent_num, row.name, row.remarks) for row in rows] == [(2, 7, "ROE, Richard", None)]
    assert parse_sdn("") == []
    assert parse_alt("\x1a\r\n") == []


def test_a_row_with_missing_columns_names_its_line() -> None:
    text = SDN.replace('"DOE, John Quincy","individual","CYBER2",', '"DOE, John Quincy",')
    with pytest.raises(SanctionsFileInvalid) as caught:
        parse_sdn(text)
    assert caught.value.code == "sanctions_file_invalid"
    assert caught.value.line == 2
    assert caught.value.message == "SDN file line 2: expected 12 fields, got 10"


def test_a_non_numeric_entry_number_names_its_line() -> None:
    with pytest.raises(SanctionsFileInvalid) as caught:
        parse_alt(ALT.replace("1004,103,", "x1004,103,"))
    assert caught.value.message == "ALT file line 3: ent_num must be a whole number, got 'x1004'"


def test_an_empty_name_names_its_line() -> None:
    with pytest.raises(SanctionsFileInvalid) as caught:
        parse_sdn(SDN.replace('"KIM, Cheol-su"', "-0-"))
    assert caught.value.message == "SDN file line 4: SDN_Name is empty"


# ---------------------------------------------------------------------------- normalising


def test_normalise_ignores_case_punctuation_spacing_and_order() -> None:
    assert normalise("MUSTERMANN, Erika") == "erika mustermann"
    assert normalise("  erika   MUSTERMANN ") == "erika mustermann"
    assert normalise("Mustermann;Erika.") == "erika mustermann"
    assert normalise("O'Brien, Seán") == "obrien sean"
    assert normalise("ACME FICTIONAL TRADING CO., LTD.") == "acme co fictional ltd trading"
    assert normalise("---") == ""


def test_normalise_strips_diacritics() -> None:
    assert normalise("NOVÁKOVÁ, Zdeňka") == "novakova zdenka"
    assert normalise("Müller-Lüdenscheidt Ødegård") == "ludenscheidt muller odegard"


def test_hangul_is_romanised_syllable_by_syllable() -> None:
    assert romanise_hangul("홍길동") == "honggildong"
    assert romanise_hangul("김철수") == "gimcheolsu"
    assert romanise_hangul("정은 Park") == "jeongeun Park"
    assert romanise_hangul("꽃빛") == "kkotbit"


def test_korean_names_share_one_key_however_they_are_written() -> None:
    key = normalise("홍길동")
    assert key == "dong gil hong"
    for spelling in ["Hong Gildong", "GIL DONG HONG", "HONG, Gil-dong", "Gildong Hong", "홍 길동"]:
        assert normalise(spelling) == key, spelling
    assert normalise("KIM, Cheol-su") == normalise("Kim Cheolsu") == "cheol gim su"


# ---------------------------------------------------------------------------- loading


def test_load_stores_primary_names_and_aliases_but_not_vessels(engine: Engine) -> None:
    summary = load_fixture(engine)
    assert summary == LoadSummary(list_id=summary.list_id, entries=7, names=12, skipped=1)
    with engine.connect() as conn:
        stored = conn.execute(
            select(sanctions_names.c.ent_num, sanctions_names.c.kind, sanctions_names.c.name)
            .where(sanctions_names.c.list_id == summary.list_id)
            .order_by(sanctions_names.c.id)
        ).all()
        listed = conn.execute(select(sanctions_lists)).one()
    assert [tuple(row) for row in stored] == [
        (1001, "primary", "MUSTERMANN, Erika"),
        (1002, "primary", "DOE, John Quincy"),
        (1003, "primary", "홍길동"),
        (1004, "primary", "KIM, Cheol-su"),
        (1005, "primary", "ACME FICTIONAL TRADING CO., LTD."),
        (1007, "primary", "NOVAK, Zdenka"),
        (1008, "primary", "RIVERA ORTEGA, Maria Elena"),
        (1001, "alias", "MUSTERMANN, Eri"),
        (1002, "alias", "DOE, Johnny"),
        (1004, "alias", "김철수"),
        (1005, "alias", "ACME TRADING HOUSE"),
        (1007, "alias", "NOVÁKOVÁ, Zdeňka"),
    ]
    assert (listed.source, listed.entries, listed.names, listed.loaded_at) == ("fixtures", 7, 12, NOW)


def test_an_alias_of_an_unknown_entry_is_refused_and_nothing_is_stored(engine: Engine) -> None:
    with pytest.raises(SanctionsFileInvalid) as caught:
        load_fixture(engine, alt=ALT + '4242,999,"aka","NOBODY, Known",-0-\r\n')
    assert caught.value.message == "ALT file line 8: alias of entry 4242, which is not in the SDN file"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sanctions_lists)).scalar_one() == 0
        assert current_list_id(conn) is None


def test_loading_without_an_alias_file_stores_primary_names_only(engine: Engine) -> None:
    summary = load_fixture(engine, alt=None)
    assert (summary.entries, summary.names, summary.skipped) == (7, 7, 1)


# ---------------------------------------------------------------------------- matching


def test_the_exact_listed_name_is_strong(screen: SanctionsScreen) -> None:
    match = screen.screen("MUSTERMANN, Erika")
    assert match == SanctionsMatch(Strength.STRONG, 1.0, "MUSTERMANN, Erika", 1001, "SDGT")
    assert match.as_evidence() == {
        "strength": "strong",
        "score": 1.0,
        "listed_name": "MUSTERMANN, Erika",
        "ent_num": 1001,
        "program": "SDGT",
    }


def test_reordered_name_is_strong(screen: SanctionsScreen) -> None:
    assert screen.screen("Erika Mustermann") == SanctionsMatch(
        Strength.STRONG, 1.0, "MUSTERMANN, Erika", 1001, "SDGT"
    )


def test_a_single_typo_is_strong(screen: SanctionsScreen) -> None:
    match = screen.screen("Erika Musterman")
    assert (match.strength, match.listed_name, match.ent_num) == (Strength.STRONG, "MUSTERMANN, Erika", 1001)
    assert match.score == pytest.approx(30 / 31)
    assert match.score >= STRONG_AT


def test_an_alias_is_strong_and_names_the_alias(screen: SanctionsScreen) -> None:
    assert screen.screen("Johnny Doe") == SanctionsMatch(Strength.STRONG, 1.0, "DOE, Johnny", 1002, "CYBER2")
    assert screen.screen("Zdeňka Nováková") == SanctionsMatch(
        Strength.STRONG, 1.0, "NOVÁKOVÁ, Zdeňka", 1007, "UKRAINE-EO13660"
    )


def test_korean_names_match_across_scripts(screen: SanctionsScreen) -> None:
    assert screen.screen("Hong Gil-dong").listed_name == "홍길동"
    assert screen.screen("Hong Gil-dong").strength is Strength.STRONG
    # Both spellings share one key now; the entry's primary name is the one reported.
    assert screen.screen("김철수") == SanctionsMatch(Strength.STRONG, 1.0, "KIM, Cheol-su", 1004, "DPRK2")
    assert screen.screen("김정은").strength is Strength.NONE
    assert screen.screen("Cheolsu Kim").listed_name == "KIM, Cheol-su"
    assert screen.screen("Cheolsu Kim").strength is Strength.STRONG


def test_a_similar_unlisted_name_is_not_strong(screen: SanctionsScreen) -> None:
    assert screen.screen("Erik Mustermeyer") == SanctionsMatch(Strength.NONE, 0.0, None, None, None)
    weak = screen.screen("Erika Musterfrau")
    assert (weak.strength, weak.listed_name, weak.ent_num) == (Strength.WEAK, "MUSTERMANN, Erika", 1001)
    assert weak.score == pytest.approx(0.8125)
    assert WEAK_AT <= weak.score < STRONG_AT


def test_the_same_given_name_with_another_surname_is_none(screen: SanctionsScreen) -> None:
    assert screen.screen("Erika Schmidt").strength is Strength.NONE


def test_an_unrelated_name_is_none(screen: SanctionsScreen) -> None:
    assert screen.screen("Jane Roe") == SanctionsMatch(Strength.NONE, 0.0, None, None, None)
    assert screen.screen("이순신").strength is Strength.NONE
    assert screen.screen("!!!").strength is Strength.NONE


def test_a_lone_given_name_is_never_strong(screen: SanctionsScreen) -> None:
    assert screen.screen("Erika").strength is Strength.NONE


def test_a_short_name_one_letter_off_is_only_weak() -> None:
    short = SanctionsScreen(1, [ListedName("XU, Zhen", normalise("XU, Zhen"), 1, None)])
    match = short.screen("Xu Zhe")
    assert match.score == pytest.approx(12 / 13)
    assert match.score >= STRONG_AT
    assert match.strength is Strength.WEAK
    assert short.screen("Zhen Xu").strength is Strength.STRONG


def test_no_list_loaded_matches_nothing(engine: Engine) -> None:
    screen = screen_of(engine)
    assert screen.list_id is None
    assert screen.screen("MUSTERMANN, Erika") == SanctionsMatch(Strength.NONE, 0.0, None, None, None)


def test_loading_again_replaces_the_list(engine: Engine) -> None:
    first = load_fixture(engine)
    other = '2001,"ROE, Richard","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    second = load_fixture(engine, sdn=other, alt=None)
    assert second.list_id > first.list_id
    with engine.connect() as conn:
        assert current_list_id(conn) == second.list_id
    screen = screen_of(engine)
    assert screen.list_id == second.list_id
    assert screen.screen("Erika Mustermann").strength is Strength.NONE
    assert screen.screen("Richard Roe").strength is Strength.STRONG


def test_screening_twenty_thousand_names_takes_well_under_ten_milliseconds() -> None:
    given = ["Anna", "Boris", "Chen", "Dmitri", "Elena", "Farid", "Gustavo", "Hana", "Ivan", "Jae"]
    middle = ["", "Maria ", "Ali ", "Jose ", "Min ", "Petrov ", "Lee ", "Abdul ", "Yuri ", "Sofia "]
    surnames = [f"{stem}{suffix}" for stem in ["Ivanov", "Rahman", "Garcia", "Nowak", "Okafor"]
                for suffix in ["", "a", "sky", "ez", "ovich", "i", "son", "berg", "ski", "ian"]]  # fmt: skip
    names = [
        ListedName(f"{surname}{n}, {first} {mid}".strip(), normalise(f"{surname}{n} {first} {mid}"), n, None)
        for n, (first, mid, surname) in enumerate(itertools.product(given, middle, surnames * 4))
    ]
    assert len(names) == 20_000
    screen = SanctionsScreen(1, names)
    queries = ["Erika Mustermann", "Elena Maria Garcia17", "홍길동", "Boris Nowakowski"] * 5
    # CPU time of this thread, not wall-clock: other processes on a busy machine do not count.
    started = time.thread_time()
    results = [screen.screen(query) for query in queries]
    per_name = (time.thread_time() - started) / len(queries)
    assert per_name < 0.010
    assert results[0].strength is Strength.NONE


def test_conventional_korean_spellings_meet_hangul() -> None:
    assert normalise("KIM, Jong Un") == normalise("김정은") == "eun gim jeong"
    assert normalise("LEE Min-ho") == normalise("이민호")
    assert normalise("Park Chol") == normalise("박철")
    # Western names are left alone: "Lee" is only a Korean surname inside a Korean-shaped name.
    assert normalise("Harper Lee") == "harper lee"
