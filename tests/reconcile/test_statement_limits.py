"""An untrusted statement stays bounded: refused past its limits with nothing stored, never styled.

Security issue 22, item 4. Each file is generated just over its limit in tmp_path; the
command runs as the operator runs it (`reconcile rail FILE --date D`) on a real SQLite file.
"""

from __future__ import annotations

import io
from datetime import UTC, date
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import invoke_cli
from tests.support.core import Core
from voucher_exchange.audit import service as audit
from voucher_exchange.reconcile import daily
from voucher_exchange.reconcile.statements import LIMITS, Source, read

RAIL_HEADER = (
    "statement_date,line,type,end_to_end_id,bank_reference,bank_code,account,amount,currency,"
    "booked_at_utc\r\n"
)
NEXT = "Nothing was stored. Ask the counterparty for one day's statement as plain CSV and run again."


def _day(core: Core) -> date:
    return core.ctx.clock.now().astimezone(UTC).date()


def _line(day: date, number: int, reference: str) -> str:
    return f"{day},{number},DEBIT,{reference},RAIL-{number},004,****6789,45500,KRW,{day}T10:00:00Z\r\n"


def _reconcile(core: Core, tmp_path: Path, file: Path) -> tuple[int, str, str]:
    env = {"VX_VAR_DIR": str(core.ctx.settings.var_dir)}
    done = invoke_cli(
        tmp_path, "reconcile", "rail", str(file), "--date", _day(core).isoformat(),
        "--database-url", core.ctx.settings.database_url, env=env,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def _stored(core: Core) -> tuple[list[Any], int]:
    with core.ctx.uow(readonly=True) as uow:
        return daily.recent_runs(uow.conn), audit.count(uow.conn)


def _one_line(stderr: str) -> str:
    return " ".join(stderr.split())


def test_a_statement_over_20_mb_is_refused_before_it_is_read_and_nothing_is_stored(
    core: Core, tmp_path: Path
) -> None:
    file = tmp_path / "huge.csv"
    with file.open("w", encoding="utf-8", newline="") as out:
        out.write(RAIL_HEADER)
        out.write("#" * (LIMITS.bytes + 1 - len(RAIL_HEADER)))
    assert file.stat().st_size == 20 * 1024 * 1024 + 1
    before = _stored(core)

    code, stdout, stderr = _reconcile(core, tmp_path, file)

    assert (code, stdout) == (1, "")
    assert _one_line(stderr) == (
        f"statement_too_large: {file} is 20,971,521 bytes; a statement may be at most 20,971,520 bytes "
        f"(20 MB). {NEXT}"
    )
    assert _stored(core) == before == ([], before[1])


def test_a_statement_read_from_a_stream_stops_at_20_mb() -> None:
    # A file that grows while it is read (or a pipe) is still cut off by the reader itself.
    day = date(2026, 11, 27)
    line = _line(day, 1, "r" * 200).encode()  # every line valid, and as wide as the limits allow
    lines = (LIMITS.bytes - len(RAIL_HEADER)) // len(line) + 1
    assert lines < LIMITS.lines
    stream = io.BytesIO(RAIL_HEADER.encode() + line * lines)

    with pytest.raises(Exception) as refused:
        read(Source.RAIL, stream, day)

    assert (type(refused.value).__name__, getattr(refused.value, "code", None)) == (
        "TooLarge",
        "statement_too_large",
    )
    assert getattr(refused.value, "status", None) == 413
    assert stream.tell() <= LIMITS.bytes + LIMITS.line_bytes + 1


def test_a_statement_of_100_001_lines_is_refused_and_nothing_is_stored(core: Core, tmp_path: Path) -> None:
    day = _day(core)
    file = tmp_path / "long.csv"
    with file.open("w", encoding="utf-8", newline="") as out:
        out.write(RAIL_HEADER)
        out.writelines(_line(day, n, f"vx-payout-{n}") for n in range(1, LIMITS.lines + 2))
    before = _stored(core)

    code, stdout, stderr = _reconcile(core, tmp_path, file)

    assert (code, stdout) == (1, "")
    assert _one_line(stderr) == f"statement_too_long: The statement has more than 100,000 lines. {NEXT}"
    assert _stored(core) == before == ([], before[1])


def test_a_field_over_200_characters_is_refused_and_nothing_is_stored(core: Core, tmp_path: Path) -> None:
    day = _day(core)
    file = tmp_path / "wide.csv"
    file.write_text(RAIL_HEADER + _line(day, 1, "r" * 200) + _line(day, 2, "r" * 201), encoding="utf-8")
    before = _stored(core)

    code, stdout, stderr = _reconcile(core, tmp_path, file)

    assert (code, stdout) == (1, "")
    assert _one_line(stderr) == (
        f"statement_field_too_long: Statement line 3: a field is longer than 200 characters. {NEXT}"
    )
    assert _stored(core) == before == ([], before[1])


def test_a_field_over_131072_characters_is_a_clear_refusal_not_a_csv_error(
    core: Core, tmp_path: Path
) -> None:
    day = _day(core)
    file = tmp_path / "csv-bomb.csv"
    file.write_text(RAIL_HEADER + _line(day, 1, '"' + "r" * 131_073 + '"'), encoding="utf-8")
    before = _stored(core)

    code, stdout, stderr = _reconcile(core, tmp_path, file)

    assert (code, stdout) == (1, "")
    assert (
        _one_line(stderr) == f"statement_line_too_long: Statement line 2 is longer than 4,096 bytes. {NEXT}"
    )
    assert "Traceback" not in stderr and "_csv.Error" not in stderr
    assert _stored(core) == before == ([], before[1])


def test_references_are_printed_as_text_never_as_markup_or_terminal_codes(core: Core, tmp_path: Path) -> None:
    day = _day(core)
    file = tmp_path / "hostile.csv"
    styled, clearing = "[bold red]PAID[/bold red]", "\x1b[2Jgone"
    file.write_text(RAIL_HEADER + _line(day, 1, styled) + _line(day, 2, clearing), encoding="utf-8")

    code, stdout, stderr = _reconcile(core, tmp_path, file)

    assert (code, stderr) == (1, ""), stderr
    rows = [line for line in stdout.splitlines() if "missing on our side" in line and "line " in line]
    assert [row.split("│")[2].strip() for row in rows] == ["[bold red]PAID[/bold red]", "\\x1b[2Jgone"]
    assert "\x1b" not in stdout
    assert "reconcile rail: 2 line(s) unmatched" in stdout
    # Stored as given: the page shows it escaped too (tests/web/test_reconciliation_paging.py).
    assert [u["reference"] for u in _stored(core)[0][0].unmatched] == [styled, clearing]


def test_a_refusal_quoting_the_file_is_not_read_as_markup(core: Core, tmp_path: Path) -> None:
    day = _day(core)
    file = tmp_path / "bad-type.csv"
    file.write_text(RAIL_HEADER + _line(day, 1, "r-1").replace("DEBIT", "[blink]X\x1b[0m"), encoding="utf-8")

    code, stdout, stderr = _reconcile(core, tmp_path, file)

    assert (code, stdout) == (1, "")
    assert _one_line(stderr) == "statement_invalid: Statement line 2: unknown type '[blink]X\\x1b[0m'."
    assert _stored(core)[0] == []
