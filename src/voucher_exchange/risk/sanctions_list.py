"""OFAC legacy CSV files (SDN.CSV, ALT.CSV): parsing, and storing a list for screening."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from voucher_exchange.db.schema import sanctions_lists, sanctions_names
from voucher_exchange.errors import InvalidInput
from voucher_exchange.risk.sanctions_identifiers import parse_remarks
from voucher_exchange.risk.sanctions_names import normalise

NULL = "-0-"
SDN_COLUMNS = 12
ALT_COLUMNS = 5
SKIPPED_TYPES = frozenset({"vessel", "aircraft"})
# Columns are String(400); longer names are entity descriptions whose first 400 characters identify them.
_MAX_NAME = 400


class SanctionsFileInvalid(InvalidInput):
    """A sanctions list file is not in the OFAC legacy CSV format."""

    def __init__(self, file: str, line: int, problem: str) -> None:
        super().__init__("sanctions_file_invalid", f"{file} line {line}: {problem}")
        self.line = line


@dataclass(frozen=True)
class SdnRow:
    """One entry of SDN.CSV; "-0-" fields are None."""

    line: int
    ent_num: int
    name: str
    sdn_type: str | None
    program: str | None
    title: str | None
    call_sign: str | None
    vess_type: str | None
    tonnage: str | None
    grt: str | None
    vess_flag: str | None
    vess_owner: str | None
    remarks: str | None


@dataclass(frozen=True)
class AltRow:
    """One alias of ALT.CSV, joined to its entry by `ent_num`."""

    line: int
    ent_num: int
    alt_num: int
    alt_type: str | None
    alt_name: str
    alt_remarks: str | None


def _rows(text: str, file: str, width: int) -> Iterable[tuple[int, list[str | None]]]:
    # newline="" lets csv see quoted line breaks; splitlines() would also split on \x85 in latin-1 text.
    reader = csv.reader(io.StringIO(text, newline=""), skipinitialspace=True)
    try:
        for row in reader:
            fields = [field.strip() for field in row]
            if not "".join(fields).strip("\x1a \t"):
                continue  # blank line, or the DOS end-of-file marker OFAC still appends
            if len(fields) != width:
                raise SanctionsFileInvalid(
                    file, reader.line_num, f"expected {width} fields, got {len(fields)}"
                )
            yield reader.line_num, [None if field in {NULL, ""} else field for field in fields]
    except csv.Error as exc:
        raise SanctionsFileInvalid(file, reader.line_num, str(exc)) from exc


def _number(value: str | None, file: str, line: int, column: str) -> int:
    if value is None or not value.isdigit():
        raise SanctionsFileInvalid(file, line, f"{column} must be a whole number, got {value!r}")
    return int(value)


def _required(value: str | None, file: str, line: int, column: str) -> str:
    if value is None:
        raise SanctionsFileInvalid(file, line, f"{column} is empty")
    return value


def parse_sdn(text: str) -> list[SdnRow]:
    """The entries of an OFAC legacy SDN.CSV (no header row; "-0-" means null)."""
    rows = []
    for line, f in _rows(text, "SDN file", SDN_COLUMNS):
        ent_num = _number(f[0], "SDN file", line, "ent_num")
        name = _required(f[1], "SDN file", line, "SDN_Name")
        rows.append(SdnRow(line, ent_num, name, *f[2:]))
    return rows


def parse_alt(text: str) -> list[AltRow]:
    """The aliases of an OFAC legacy ALT.CSV (no header row; "-0-" means null)."""
    rows = []
    for line, f in _rows(text, "ALT file", ALT_COLUMNS):
        ent_num = _number(f[0], "ALT file", line, "ent_num")
        alt_num = _number(f[1], "ALT file", line, "alt_num")
        name = _required(f[3], "ALT file", line, "alt_name")
        rows.append(AltRow(line, ent_num, alt_num, f[2], name, f[4]))
    return rows


# ---------------------------------------------------------------------------- storing


@dataclass(frozen=True)
class LoadSummary:
    """What `load` stored: screened entries, names (primary + aliases), skipped vessels/aircraft."""

    list_id: int
    entries: int
    names: int
    skipped: int


def load(conn: Connection, sdn_text: str, alt_text: str | None, source: str, now: datetime) -> LoadSummary:
    """Store a new list from SDN (+ ALT) CSV text; it replaces the current one for screening.

    Older lists stay in the database so past decisions can be traced to the list they used.
    Vessels and aircraft are skipped: we screen people and entities.
    """
    sdn = parse_sdn(sdn_text)
    aliases = parse_alt(alt_text) if alt_text is not None else []
    kept = {row.ent_num: row for row in sdn if (row.sdn_type or "").casefold() not in SKIPPED_TYPES}
    known = {row.ent_num for row in sdn}
    for alias in aliases:
        if alias.ent_num not in known:
            raise SanctionsFileInvalid(
                "ALT file", alias.line, f"alias of entry {alias.ent_num}, which is not in the SDN file"
            )
    identifiers = {ent_num: parse_remarks(row.remarks, row.sdn_type) for ent_num, row in kept.items()}
    by_entry: dict[int, list[AltRow]] = {}
    for alias in aliases:
        by_entry.setdefault(alias.ent_num, []).append(alias)
    versions = {ent_num: entry_version(row, by_entry.get(ent_num, [])) for ent_num, row in kept.items()}
    names = [(row, row.name, "primary") for row in kept.values()]
    names += [(kept[a.ent_num], a.alt_name, "alias") for a in aliases if a.ent_num in kept]
    # Aliases written only in Remarks ("a.k.a. 'KIM, JIN SOK'"), as the 2024 files carry them.
    names += [
        (row, alias, "alias")
        for row in kept.values()
        for alias in identifiers[row.ent_num].aliases
        if alias.casefold() not in {a.alt_name.casefold() for a in by_entry.get(row.ent_num, [])}
    ]
    list_id = conn.execute(
        insert(sanctions_lists)
        .values(source=source[:200], entries=len(kept), names=len(names), loaded_at=now)
        .returning(sanctions_lists.c.id)
    ).scalar_one()
    if names:
        conn.execute(
            insert(sanctions_names),
            [
                {
                    "list_id": list_id,
                    "ent_num": row.ent_num,
                    "name": name[:_MAX_NAME],
                    "normalised": normalise(name)[:_MAX_NAME],
                    "kind": kind,
                    "sdn_type": row.sdn_type,
                    "program": row.program[:200] if row.program else None,
                    "identifiers": identifiers[row.ent_num].as_json(),
                    "entry_version": versions[row.ent_num],
                }
                for row, name, kind in names
            ],
        )
    return LoadSummary(list_id, len(kept), len(names), len(sdn) - len(kept))


def entry_version(row: SdnRow, aliases: Sequence[AltRow]) -> str:
    """A short digest of everything the list says about one entry: it changes when the entry does."""
    parts = [row.name, row.sdn_type, row.program, row.title, row.remarks]
    parts += sorted(f"{a.alt_type}|{a.alt_name}|{a.alt_remarks}" for a in aliases)
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:16]


def current_list_id(conn: Connection) -> int | None:
    """The newest loaded list, or None when none was ever loaded."""
    value: int | None = conn.execute(select(func.max(sanctions_lists.c.id))).scalar_one()
    return value
