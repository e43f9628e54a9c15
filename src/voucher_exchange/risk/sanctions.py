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
import hashlib
import io
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, func, insert, select

from voucher_exchange.db.schema import sanctions_lists, sanctions_names
from voucher_exchange.errors import InvalidInput
from voucher_exchange.risk.sanctions_identifiers import (
    Agreement,
    Identifiers,
    PersonFacts,
    compare_dob,
    compare_nationality,
    parse_remarks,
)

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
    """The best match for one screened name; `score` is 0.0 when nothing reached WEAK_AT.

    The fields after `program` explain the outcome and do not take part in equality: which
    version of the entry matched, why (`reason`), the listed and the customer's identifiers side
    by side, near misses the identifiers ruled out, and entries a reviewer had cleared.
    """

    strength: Strength
    score: float
    listed_name: str | None
    ent_num: int | None
    program: str | None
    entry_version: str | None = field(default=None, compare=False)
    reason: str | None = field(default=None, compare=False)
    listed: dict[str, Any] | None = field(default=None, compare=False)
    customer: dict[str, Any] | None = field(default=None, compare=False)
    near_misses: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    cleared: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    def as_evidence(self) -> dict[str, object]:
        """A JSON-safe dict for decision evidence."""
        evidence: dict[str, object] = {
            "strength": self.strength.value,
            "score": round(self.score, 4),
            "listed_name": self.listed_name,
            "ent_num": self.ent_num,
            "program": self.program,
        }
        if self.reason is not None:
            evidence |= {
                "entry_version": self.entry_version,
                "reason": self.reason,
                "listed": self.listed,
                "customer": self.customer,
                "near_misses": list(self.near_misses),
                "cleared": list(self.cleared),
            }
        return evidence


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
    "young": "yeong", "kyoung": "gyeong", "hee": "hui", "soo": "su", "woo": "u", "joo": "ju",
    "koo": "gu", "moon": "mun", "yoo": "yu", "sook": "suk", "ahn": "an", "oh": "o", "roh": "no",
    "noh": "no", "suh": "seo", "shim": "sim", "seung": "seung", "chul": "cheol", "yeol": "yeol",
    "chae": "chae", "choo": "chu", "shik": "sik", "sup": "seop", "sop": "seop", "bong": "bong",
}  # fmt: skip


# ---------------------------------------------------------------------------- matching keys

# One Korean syllable reduced to a sound key that every common spelling shares: Revised and
# McCune-Reischauer romanisation and passport spellings (Ri/Rhee/Lee/Yi, Pak/Park/Bak, Choe/Choi,
# Chol/Cheol/Chul, Yong/Young/Yeong, Kwang/Gwang, Jong/Jung). Plain/tense/aspirated initials fall
# together (g/k, d/t, b/p, j/ch), the vowels ŏ/ŭ/u/o fall together (lists write them all as "o"
# or "u"), and an initial r/l/n before i/y is silent, as in South Korean usage (리 → 이).
_INITIAL = re.compile(r"^(ch|sh|kk|tt|pp|ss|jj|[gkndtrlmbpsjh])?(.*)$")
_INITIAL_SOUND = {"g": "k", "kk": "k", "d": "t", "tt": "t", "b": "p", "pp": "p", "j": "c", "jj": "c",
                  "ch": "c", "sh": "s", "ss": "s", "r": "l"}  # fmt: skip
_VOWEL_SOUNDS = (("eui", "i"), ("ui", "i"), ("eo", "o"), ("eu", "o"), ("ou", "o"), ("oo", "o"),
                 ("ee", "i"), ("ae", "e"), ("oi", "oe"), ("u", "o"))  # fmt: skip
_FINAL_SOUND = {"g": "k", "r": "l", "b": "p", "d": "t"}


@lru_cache(maxsize=4096)
def korean_sound(syllable: str) -> str:
    """The sound key of one romanised Korean syllable ("cheol", "chul", "chol" → "col")."""
    found = _INITIAL.match(syllable)
    assert found is not None  # the pattern matches any string
    initial, rest = found.group(1) or "", found.group(2)
    initial = _INITIAL_SOUND.get(initial, initial)
    if initial in ("l", "n") and rest[:1] in ("i", "y"):
        initial = ""
    for written, sound in _VOWEL_SOUNDS:
        rest = rest.replace(written, sound)
    if rest.endswith("ng"):
        return initial + rest
    if rest and rest[-1] in _FINAL_SOUND:
        rest = rest[:-1] + _FINAL_SOUND[rest[-1]]
    return initial + rest


_MR_ASPIRATES = re.compile(r"([ktp])h(?=[aeiouwy])")


@lru_cache(maxsize=65_536)
def match_key(name: str) -> tuple[str, bool]:
    """The key the screen compares (sorted tokens) and whether the name reads as Korean.

    Korean-shaped names are keyed by the sound of each syllable (`korean_sound`), so every
    spelling of one Korean name shares a key; other names are keyed like `normalise`.
    """
    keys = korean_keys(name)
    if keys:
        return keys[0], True
    return " ".join(sorted(_plain_tokens(name))), False


_HANGUL = re.compile("[\uac00-\ud7a3]")
# A joined given name may split into syllables more than one way ("Suman": su-man or sum-an).
_MAX_SPLITS = 4


@lru_cache(maxsize=65_536)
def korean_keys(name: str) -> tuple[str, ...]:
    """Every sound key of a Korean-shaped name, one per way its joined words split (first: the likeliest)."""
    tokens = _plain_tokens(name)
    # McCune-Reischauer writes aspirates with an h ("Thaek", "Phyong"); the sound key ignores aspiration.
    korean = [_MR_ASPIRATES.sub(r"\1", _CONVENTIONAL.get(token, token)) for token in tokens]
    splits = [_all_splits(token) for token in korean]
    if not tokens or not all(splits):
        return ()
    if _HANGUL.search(name):
        # Written in Hangul, each syllable is already its own token: only its plain reading counts.
        splits = [parts[:1] for parts in splits]
    keys: dict[str, None] = {}
    for choice in itertools.islice(itertools.product(*splits), _MAX_SPLITS):
        sounds = [korean_sound(_CONVENTIONAL.get(syl, syl)) for parts in choice for syl in parts]
        keys[" ".join(sorted(sounds))] = None
    return tuple(keys)


@lru_cache(maxsize=65_536)
def _all_splits(token: str) -> tuple[tuple[str, ...], ...]:
    """Ways to read `token` as romanised Korean syllables, longest first syllable first (a few at most)."""
    if not token:
        return ((),)
    found: list[tuple[str, ...]] = []
    for match_end in sorted({m.end() for m in _prefixes(token)}, reverse=True):
        found.extend((token[:match_end], *rest) for rest in _all_splits(token[match_end:]))
        if len(found) >= _MAX_SPLITS:
            break
    return tuple(found[:_MAX_SPLITS])


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


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class ListedName:
    """One listed name (primary or alias) with its comparison key and its entry's identifiers."""

    name: str
    normalised: str
    ent_num: int
    program: str | None
    identifiers: Identifiers | None = None
    entry_version: str = ""

    @property
    def individual(self) -> bool:
        """Whether the entry is a person (entries loaded without identifiers count as persons)."""
        return self.identifiers is None or self.identifiers.individual


# How many ruled-out candidates a screening keeps as near misses in its evidence.
NEAR_MISSES_KEPT = 3
# Similarity given to a partial name (one name's words all inside the other's, e.g. without a patronymic).
PARTIAL_SCORE = 0.95
_MIN_PARTIAL_WORDS = 2
_MIN_PARTIAL_SYLLABLES = 3


@dataclass(frozen=True)
class _Candidate:
    index: int
    score: float
    agrees: bool


class SanctionsScreen:
    """An in-memory matcher over one list; immutable after construction, so safe to share across threads."""

    def __init__(self, list_id: int | None, names: Sequence[ListedName]) -> None:
        self.list_id: Final = list_id
        self._names = tuple(names)
        # Two key spaces: "k" holds Korean sound keys, "p" plain word keys (every name has one;
        # it keeps a Korean name findable when a typo breaks its syllable split).
        keys: dict[str, list[str]] = {"k": [], "p": []}
        owners: dict[str, list[int]] = {"k": [], "p": []}
        exact: dict[tuple[str, str], list[int]] = {}
        postings: dict[str, list[int]] = {}
        # Partial names are looked up per key (a name with two readings has two word sets).
        self._key_sizes: list[int] = []
        self._key_owners: list[int] = []
        korean_names: set[int] = set()
        for index, listed in enumerate(self._names):
            for kind, key in _keys_of(listed.name):
                keys[kind].append(key)
                owners[kind].append(index)
                exact.setdefault((kind, key), []).append(index)
                if kind == "k":
                    korean_names.add(index)
                words = _counted_words(kind, key)
                for word in words:
                    postings.setdefault(word, []).append(len(self._key_owners))
                self._key_owners.append(index)
                self._key_sizes.append(len(words))
        self._korean_names = frozenset(korean_names)
        self._keys = {kind: tuple(found) for kind, found in keys.items()}
        self._owners = {kind: tuple(found) for kind, found in owners.items()}
        self._exact = exact
        self._postings = postings

    @classmethod
    def from_db(cls, conn: Connection) -> SanctionsScreen:
        """A matcher over the newest list (matching nothing when no list was loaded)."""
        list_id = current_list_id(conn)
        if list_id is None:
            return cls(None, [])
        n = sanctions_names.c
        rows = conn.execute(
            select(n.name, n.normalised, n.ent_num, n.program, n.sdn_type, n.identifiers, n.entry_version)
            .where(n.list_id == list_id)
            .order_by(n.id)
        )
        return cls(
            list_id,
            [
                ListedName(
                    r.name,
                    r.normalised,
                    r.ent_num,
                    r.program,
                    Identifiers.from_json(r.identifiers, (r.sdn_type or "").casefold() == "individual"),
                    r.entry_version or "",
                )
                for r in rows
            ],
        )

    def __len__(self) -> int:
        return len(self._names)

    def screen(
        self,
        name: str,
        person: PersonFacts | None = None,
        cleared: frozenset[tuple[int, str]] = frozenset(),
    ) -> SanctionsMatch:
        """The strongest match for `name` over every listed name and alias.

        Without `person` the name alone decides (any entry, person or not). With it, only
        listed individuals are compared and their identifiers weigh in (see `judge`);
        entries in `cleared` ((ent_num, entry_version) a reviewer cleared) are skipped.
        """
        candidates = self._candidates(name)
        if person is None:
            if not candidates:
                return NO_MATCH
            best = max(candidates, key=lambda c: (c.agrees, c.score, -c.index))
            listed = self._names[best.index]
            strength = Strength.STRONG if best.agrees else Strength.WEAK
            return SanctionsMatch(strength, best.score, listed.name, listed.ent_num, listed.program)
        return self._judge_all(candidates, person, cleared)

    def _candidates(self, name: str) -> list[_Candidate]:
        queries = _keys_of(name)
        korean = any(kind == "k" for kind, _ in queries)
        found: dict[int, _Candidate] = {}

        def offer(candidate: _Candidate) -> None:
            held = found.get(candidate.index)
            if held is None or (candidate.agrees, candidate.score) > (held.agrees, held.score):
                found[candidate.index] = candidate

        for kind, key in queries:
            for index in self._exact.get((kind, key), []):
                offer(_Candidate(index, 1.0, True))
        for kind, key in queries:
            # Keys are already token-sorted, so plain `ratio` is the token-sort ratio without re-sorting.
            for _, score, position in process.extract(
                key,
                self._keys[kind],
                scorer=fuzz.ratio,
                processor=None,
                score_cutoff=WEAK_AT * 100,
                limit=None,
            ):
                index = self._owners[kind][position]
                # A Korean name is a handful of short syllables: one letter off is another name.
                agrees = (
                    score / 100 >= STRONG_AT
                    and not korean
                    and index not in self._korean_names
                    and _may_be_strong(name, self._names[index].name)
                )
                offer(_Candidate(index, score / 100, agrees))
        for kind, key in queries:
            for index in self._partial(kind, key):
                offer(_Candidate(index, PARTIAL_SCORE, True))
        return list(found.values())

    def _partial(self, kind: str, key: str) -> set[int]:
        """Listed names whose words contain all of the query's, or lie all within it."""
        words = _counted_words(kind, key)
        least = _MIN_PARTIAL_SYLLABLES if kind == "k" else _MIN_PARTIAL_WORDS
        if len(words) < least:
            return set()
        hits: dict[int, int] = {}
        for word in words:
            for key_id in self._postings.get(word, ()):
                hits[key_id] = hits.get(key_id, 0) + 1
        return {
            self._key_owners[key_id]
            for key_id, count in hits.items()
            if count == len(words) or (count == self._key_sizes[key_id] and count >= least)
        }

    def _judge_all(
        self, candidates: list[_Candidate], person: PersonFacts, cleared: frozenset[tuple[int, str]]
    ) -> SanctionsMatch:
        best_per_entry: dict[int, _Candidate] = {}
        for candidate in candidates:
            listed = self._names[candidate.index]
            if not listed.individual:
                continue
            held = best_per_entry.get(listed.ent_num)
            if held is None or (candidate.agrees, candidate.score) > (held.agrees, held.score):
                best_per_entry[listed.ent_num] = candidate
        judged: list[tuple[Strength, str, _Candidate]] = []
        cleared_now: list[dict[str, Any]] = []
        for candidate in best_per_entry.values():
            listed = self._names[candidate.index]
            if (listed.ent_num, listed.entry_version) in cleared:
                cleared_now.append({"ent_num": listed.ent_num, "entry_version": listed.entry_version})
                continue
            identifiers = listed.identifiers or Identifiers(individual=True)
            strength, reason = judge(candidate.agrees, identifiers, person)
            judged.append((strength, reason, candidate))
        order = {Strength.NONE: 0, Strength.WEAK: 1, Strength.STRONG: 2}
        judged.sort(key=lambda j: (order[j[0]], j[2].agrees, j[2].score, -j[2].index), reverse=True)
        misses = tuple(
            self._summary(candidate, reason)
            for strength, reason, candidate in judged
            if strength is Strength.NONE
        )[:NEAR_MISSES_KEPT]
        customer = person.for_evidence()
        if not judged or judged[0][0] is Strength.NONE:
            return SanctionsMatch(
                Strength.NONE,
                0.0,
                None,
                None,
                None,
                None,
                "no_match",
                None,
                customer,
                misses,
                tuple(cleared_now),
            )
        strength, reason, candidate = judged[0]
        listed = self._names[candidate.index]
        identifiers = listed.identifiers or Identifiers(individual=True)
        return SanctionsMatch(
            strength,
            candidate.score,
            listed.name,
            listed.ent_num,
            listed.program,
            listed.entry_version,
            reason,
            identifiers.for_evidence(),
            customer,
            misses,
            tuple(cleared_now),
        )

    def _summary(self, candidate: _Candidate, reason: str) -> dict[str, Any]:
        listed = self._names[candidate.index]
        identifiers = listed.identifiers or Identifiers(individual=True)
        return {
            "listed_name": listed.name,
            "ent_num": listed.ent_num,
            "entry_version": listed.entry_version,
            "score": round(candidate.score, 4),
            "reason": reason,
            "listed": identifiers.for_evidence(),
        }


def _keys_of(name: str) -> list[tuple[str, str]]:
    """A name's keys: ("k", Korean sound key) when it reads as Korean, and always ("p", plain key)."""
    keys = [("k", key) for key in korean_keys(name) if key]
    plain = _plain_key(name)
    return [*keys, ("p", plain)] if plain else keys


def _counted_words(kind: str, key: str) -> set[str]:
    """The key's words as a set that keeps repeats apart ("issa issa" → {"p:issa", "p:issa#2"})."""
    seen: dict[str, int] = {}
    words = set()
    for word in key.split():
        seen[word] = seen.get(word, 0) + 1
        words.add(f"{kind}:{word}" if seen[word] == 1 else f"{kind}:{word}#{seen[word]}")
    return words


def judge(name_agrees: bool, listed: Identifiers, person: PersonFacts) -> tuple[Strength, str]:
    """How strong one name match is once the identifiers are weighed, and why.

    `name_agrees`: the same name up to spelling, order, a typo or a dropped middle name;
    otherwise the name is only similar. Then the date of birth and the nationality:

    | name    | DOB                      | nationality | outcome                     |
    |---------|--------------------------|-------------|-----------------------------|
    | agrees  | match                    | not against | STRONG (`name_and_dob`)     |
    | agrees  | match                    | contradicts | WEAK (`nationality_differs`)|
    | agrees  | near                     | not against | WEAK (`dob_near`)           |
    | agrees  | none listed / not given  | not against | WEAK (`name_only`)          |
    | agrees  | near or none             | contradicts | NONE (`nationality_differs`)|
    | any     | contradicts              | any         | NONE (`dob_differs`)        |
    | similar | match                    | not against | WEAK (`similar_name_and_dob`)|
    | similar | anything else            | any         | NONE (`similar_name_only`)  |
    """
    dob = compare_dob(listed.dobs, person.birth_date)
    nationality = compare_nationality(listed.nationalities, person.nationality)
    against = nationality is Agreement.CONTRADICTS
    if dob is Agreement.CONTRADICTS:
        return Strength.NONE, "dob_differs"
    if not name_agrees:
        if dob is Agreement.MATCH and not against:
            return Strength.WEAK, "similar_name_and_dob"
        return Strength.NONE, "similar_name_only"
    if dob is Agreement.MATCH:
        return (Strength.WEAK, "nationality_differs") if against else (Strength.STRONG, "name_and_dob")
    if against:
        return Strength.NONE, "nationality_differs"
    return Strength.WEAK, ("dob_near" if dob is Agreement.NEAR else "name_only")


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
