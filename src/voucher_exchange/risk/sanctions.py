"""Sanctions screening of people's names against an OFAC "legacy" CSV list (SDN + aliases).

A name is reduced to a canonical key (`normalise`) and compared with every listed key
by an Indel similarity on 0..1 (`rapidfuzz`). Keys are token-sorted, so the similarity
is a token-sort ratio: "MUSTERMANN, Erika" and "Erika Mustermann" share one key.

Thresholds, on that similarity:
- `STRONG_AT` = 0.92: one substitution in a key of 13+ characters, or one dropped letter
  in a key of 7+ characters, still scores at least 0.92, so ordinary typos of a full
  name reject; two edits in a typical two-part name (~16 characters) fall below it.
- `WEAK_AT` = 0.80: names sharing most letters (same given name, surname differing in
  its last few letters) go to a person; a different surname scores well below.
A fuzzy STRONG also needs at least two tokens on both sides and 8+ letters in the
query, so a lone given name or a short name never rejects by accident; an exact key
match is STRONG whatever its length.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Final

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, func, insert, select

from voucher_exchange.db.schema import sanctions_lists, sanctions_names
from voucher_exchange.errors import InvalidInput

# Name similarity thresholds (0–1, token-sorted rapidfuzz ratio), not amounts.
STRONG_AT: float = 0.92
WEAK_AT: float = 0.80
_MIN_PARTS_FOR_FUZZY_STRONG = 2
_MIN_LETTERS_FOR_FUZZY_STRONG = 8
NULL = "-0-"
SDN_COLUMNS = 12
ALT_COLUMNS = 5
SKIPPED_TYPES = frozenset({"vessel", "aircraft"})
# Columns are String(400); longer names are entity descriptions whose first 400 characters identify them.
_MAX_NAME = 400


class Strength(StrEnum):
    """How closely a name matched the sanctions list."""

    NONE = "none"
    """No listed name is similar enough to look at."""
    WEAK = "weak"
    """Similar to a listed name: a person decides."""
    STRONG = "strong"
    """The same name as a listed one, up to order, spelling and a typo: refuse."""


@dataclass(frozen=True)
class SanctionsMatch:
    """The best match for one screened name; `score` is 0.0 when nothing reached WEAK_AT."""

    strength: Strength
    score: float
    listed_name: str | None
    ent_num: int | None
    program: str | None

    def as_evidence(self) -> dict[str, object]:
        """A JSON-safe dict for decision evidence."""
        return {
            "strength": self.strength.value,
            "score": round(self.score, 4),
            "listed_name": self.listed_name,
            "ent_num": self.ent_num,
            "program": self.program,
        }


NO_MATCH = SanctionsMatch(Strength.NONE, 0.0, None, None, None)


class SanctionsFileInvalid(InvalidInput):
    """A sanctions list file is not in the OFAC legacy CSV format."""

    def __init__(self, file: str, line: int, problem: str) -> None:
        super().__init__("sanctions_file_invalid", f"{file} line {line}: {problem}")
        self.line = line


# ---------------------------------------------------------------------------- normalising

# Revised Romanisation, by jamo index of a precomposed Hangul syllable (U+AC00..U+D7A3); "-" is silent.
# Written as split strings (SIM905) so each table reads like the one in the RR standard.
_INITIALS = "g kk n d tt r m b pp s ss - j jj ch k t p h".split()  # noqa: SIM905
_MEDIALS = "a ae ya yae eo e yeo ye o wa wae oe yo u wo we wi yu eu ui i".split()  # noqa: SIM905
_FINALS = "- k k k n n n t l k m l l l p l m p p t t ng t t k t p t".split()  # noqa: SIM905
_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3


def _romanise_syllable(char: str) -> str:
    index = ord(char) - _HANGUL_FIRST
    initial, rest = divmod(index, len(_MEDIALS) * len(_FINALS))
    medial, final = divmod(rest, len(_FINALS))
    parts = (_INITIALS[initial], _MEDIALS[medial], _FINALS[final])
    return "".join(part for part in parts if part != "-")


def romanise_hangul(text: str) -> str:
    """Hangul syllables in `text` written in Revised Romanisation, one syllable at a time."""
    return "".join(
        _romanise_syllable(char) if _HANGUL_FIRST <= ord(char) <= _HANGUL_LAST else char for char in text
    )


def _romanise_spaced(text: str) -> str:
    # Each Hangul syllable becomes its own token: re-splitting "iminho" is ambiguous ("im in ho").
    return "".join(
        f" {_romanise_syllable(char)} " if _HANGUL_FIRST <= ord(char) <= _HANGUL_LAST else char
        for char in text
    )


# A romanised Korean syllable: optional initial, vowel, optional final (longest alternatives first).
_RR_SYLLABLE = re.compile(
    r"(?:kk|tt|pp|ss|jj|ch|[gndrmbsjktphl])?"
    r"(?:yae|wae|yeo|ae|ya|eo|ye|wa|oe|yo|wo|we|wi|yu|eu|ui|[aeoui])"
    r"(?:ng|[kntlmp])?"
)
# Latin letters NFKD does not decompose into a base letter plus marks.
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d", "ł": "l", "ı": "i", "þ": "th"}
)
_APOSTROPHES = re.compile(r"['`´ʼ’‘]")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=65_536)  # bounded: a long-running screen sees an open-ended set of tokens
def _syllables(token: str) -> tuple[str, ...] | None:
    """`token` split into romanised Korean syllables (longest first), or None if it is not one."""
    if not token:
        return ()
    for match_end in sorted({m.end() for m in _prefixes(token)}, reverse=True):
        rest = _syllables(token[match_end:])
        if rest is not None:
            return (token[:match_end], *rest)
    return None


def _prefixes(token: str) -> Iterable[re.Match[str]]:
    # Every syllable-shaped prefix, not only the regex's greedy one, so backtracking can find a split.
    for end in range(min(len(token), 7), 0, -1):
        match = _RR_SYLLABLE.fullmatch(token, 0, end)
        if match:
            yield match


def _plain_tokens(name: str) -> list[str]:
    text = _romanise_spaced(unicodedata.normalize("NFC", name))
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = _APOSTROPHES.sub("", text.casefold().translate(_UNDECOMPOSED))
    return [token for token in _NON_ALNUM.split(text) if token]


def _plain_key(name: str) -> str:
    return " ".join(sorted(_plain_tokens(name)))


def normalise(name: str) -> str:
    """The canonical comparison key of a name: sorted lowercase ASCII tokens.

    Case, punctuation and spacing are dropped, diacritics stripped (NFKD), Hangul
    romanised (Revised Romanisation). When every token reads as romanised Korean
    syllables, tokens are split into syllables, so "홍길동", "Hong Gildong" and
    "GIL DONG HONG" share one key ("dong gil hong").
    """
    tokens = _plain_tokens(name)
    # Conventional spellings count only if the whole name then reads as Korean ("Harper Lee" stays).
    korean = [_CONVENTIONAL.get(token, token) for token in tokens]
    split = [_syllables(token) for token in korean]
    if tokens and all(parts for parts in split):
        tokens = [_CONVENTIONAL.get(syl, syl) for parts in split if parts for syl in parts]
    return " ".join(sorted(tokens))


# Conventional spellings of Korean names (as lists and passports often write them) mapped to
# Revised Romanisation, so "KIM, Jong Un" meets 김정은. Applied only to Korean-shaped names.
_CONVENTIONAL = {
    "kim": "gim", "lee": "i", "yi": "i", "rhee": "i", "ri": "i", "park": "bak", "pak": "bak",
    "choi": "choe", "jung": "jeong", "chung": "jeong", "jong": "jeong", "cho": "jo", "kang": "gang",
    "shin": "sin", "yoon": "yun", "kwon": "gwon", "koh": "go", "ko": "go", "lim": "im", "rim": "im",
    "un": "eun", "chol": "cheol", "sung": "seong", "song": "song", "hyon": "hyeon", "hyun": "hyeon",
}  # fmt: skip


# ---------------------------------------------------------------------------- parsing


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
    names = [(row, row.name, "primary") for row in kept.values()]
    names += [(kept[a.ent_num], a.alt_name, "alias") for a in aliases if a.ent_num in kept]
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
                }
                for row, name, kind in names
            ],
        )
    return LoadSummary(list_id, len(kept), len(names), len(sdn) - len(kept))


def current_list_id(conn: Connection) -> int | None:
    """The newest loaded list, or None when none was ever loaded."""
    value: int | None = conn.execute(select(func.max(sanctions_lists.c.id))).scalar_one()
    return value


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class ListedName:
    """One listed name (primary or alias) with its comparison key."""

    name: str
    normalised: str
    ent_num: int
    program: str | None


class SanctionsScreen:
    """An in-memory matcher over one list; immutable after construction, so safe to share across threads."""

    def __init__(self, list_id: int | None, names: Sequence[ListedName]) -> None:
        self.list_id: Final = list_id
        self._names = tuple(names)
        keys: list[str] = []
        owners: list[int] = []
        exact: dict[str, int] = {}
        for index, listed in enumerate(self._names):
            # Syllable-split keys are also kept whole, so a typo that breaks the split still matches.
            for key in dict.fromkeys((listed.normalised, _plain_key(listed.name))):
                keys.append(key)
                owners.append(index)
                exact.setdefault(key, index)
        self._keys = tuple(keys)
        self._owners = tuple(owners)
        self._exact = exact

    @classmethod
    def from_db(cls, conn: Connection) -> SanctionsScreen:
        """A matcher over the newest list (matching nothing when no list was loaded)."""
        list_id = current_list_id(conn)
        if list_id is None:
            return cls(None, [])
        rows = conn.execute(
            select(
                sanctions_names.c.name,
                sanctions_names.c.normalised,
                sanctions_names.c.ent_num,
                sanctions_names.c.program,
            )
            .where(sanctions_names.c.list_id == list_id)
            .order_by(sanctions_names.c.id)
        )
        return cls(list_id, [ListedName(r.name, r.normalised, r.ent_num, r.program) for r in rows])

    def __len__(self) -> int:
        return len(self._names)

    def screen(self, name: str) -> SanctionsMatch:
        """The best match for `name` over every listed name and alias."""
        queries = list(dict.fromkeys(key for key in (normalise(name), _plain_key(name)) if key))
        for query in queries:
            if query in self._exact:
                return self._match(Strength.STRONG, 1.0, self._exact[query])
        best: tuple[float, int] | None = None
        for query in queries:
            # Keys are already token-sorted, so plain `ratio` is the token-sort ratio without re-sorting.
            found = process.extractOne(
                query, self._keys, scorer=fuzz.ratio, processor=None, score_cutoff=WEAK_AT * 100
            )
            if found is not None and (best is None or found[1] / 100 > best[0]):
                best = (found[1] / 100, self._owners[found[2]])
        if best is None:
            return NO_MATCH
        score, owner = best
        strong = score >= STRONG_AT and _may_be_strong(name, self._names[owner].name)
        return self._match(Strength.STRONG if strong else Strength.WEAK, score, owner)

    def _match(self, strength: Strength, score: float, owner: int) -> SanctionsMatch:
        listed = self._names[owner]
        return SanctionsMatch(strength, score, listed.name, listed.ent_num, listed.program)


def _may_be_strong(query: str, listed: str) -> bool:
    """Whether a fuzzy (non-exact) match may reject: both names multi-part and the query long enough."""
    letters = len(normalise(query).replace(" ", ""))
    return (
        _part_count(query) >= _MIN_PARTS_FOR_FUZZY_STRONG
        and _part_count(listed) >= _MIN_PARTS_FOR_FUZZY_STRONG
        and letters >= _MIN_LETTERS_FOR_FUZZY_STRONG
    )


_PARTS = re.compile(r"[\uac00-\ud7a3]|[^\W\uac00-\ud7a3]+")


def _part_count(name: str) -> int:
    """Words of a name, counting each Hangul syllable as one (Korean names are written unspaced)."""
    return len(_PARTS.findall(name))
