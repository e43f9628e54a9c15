"""`sanctions load` and `sanctions check`, in-process against a migrated SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from voucher_exchange.cli.sanctions import sanctions_app
from voucher_exchange.db.engine import make_engine
from voucher_exchange.db.migrate import upgrade
from voucher_exchange.db.schema import sanctions_lists

FIXTURES = Path(__file__).parents[1] / "fixtures" / "sanctions"
runner = CliRunner()


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/s.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(sanctions_app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_load_then_check_finds_a_listed_name(url: str) -> None:
    sdn, alt = FIXTURES / "sdn.csv", FIXTURES / "alt.csv"
    code, output = invoke("load", str(sdn), str(alt), "--database-url", url)
    assert code == 0, output
    assert f"loaded 7 entries, 12 names from {sdn} (skipped 1 vessels/aircraft)" in output

    code, output = invoke("check", "Erika Mustermann", "--database-url", url)
    assert code == 0, output
    assert output.strip() == "strong score 1.00 MUSTERMANN, Erika (entry 1001, SDGT)"

    code, output = invoke("check", "Jane Roe", "--database-url", url)
    assert code == 0, output
    assert output.strip() == "none score 0.00 (no listed name above the weak threshold)"


def test_load_without_aliases_and_a_latin_1_file(url: str, tmp_path: Path) -> None:
    latin = tmp_path / "sdn-latin1.csv"
    latin.write_bytes(
        '5,"MÜLLER, Jürgen","individual","SDGT",-0-,-0-,-0-,-0-,-0-,-0-,-0-,-0-\r\n'.encode("latin-1")
    )
    code, output = invoke("load", str(latin), "--database-url", url)
    assert code == 0, output
    assert f"loaded 1 entries, 1 names from {latin}" in output
    code, output = invoke("check", "Jurgen Muller", "--database-url", url)
    assert output.strip() == "strong score 1.00 MÜLLER, Jürgen (entry 5, SDGT)"


def test_a_bad_file_is_refused_with_its_line_and_nothing_is_loaded(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text('1,"ROE, Richard","individual"\n', encoding="utf-8")
    code, output = invoke("load", str(bad), "--database-url", url)
    assert code == 1
    assert "sanctions_file_invalid: SDN file line 1: expected 12 fields, got 3" in output
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sanctions_lists)).scalar_one() == 0
    engine.dispose()


def test_check_without_a_list_says_so(url: str) -> None:
    code, output = invoke("check", "Erika Mustermann", "--database-url", url)
    assert code == 0
    assert "no sanctions list loaded" in output
    assert "none score 0.00" in output
