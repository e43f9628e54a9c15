"""Sanctions screening of people against an OFAC "legacy" CSV list: name first, then identifiers.

A name's keys (`sanctions_names`: plain words sorted, and for Korean-shaped names the sound
of each syllable) are compared with every listed name and alias by an Indel similarity on
0..1 (`rapidfuzz`); keys are token-sorted, so it is a token-sort ratio. A partial name (one
name's words all inside the other's) is a candidate too.

Thresholds, on that similarity:
- `STRONG_AT` = 0.92: one substitution in a key of 13+ characters, or one dropped letter
  in a key of 7+ characters, still scores at least 0.92, so ordinary typos of a full
  name "agree"; two edits in a typical two-part name (~16 characters) fall below it.
- `WEAK_AT` = 0.80: names sharing most letters are "similar".
A fuzzy agreement also needs two tokens on both sides and 8+ letters in the query, and is
never given to Korean keys (one letter off is another syllable, another name); an equal key
always agrees. Then `judge` weighs the customer's date of birth and nationality against the
entry's (docs/risk.md has the table and worked examples). Without a customer's identifiers
the name alone decides: agrees → STRONG, similar → WEAK.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from rapidfuzz import fuzz, process
from sqlalchemy import Connection, select

from voucher_exchange.db.schema import sanctions_names
from voucher_exchange.risk.sanctions_identifiers import (
    Agreement,
    Identifiers,
    PersonFacts,
    compare_dob,
    compare_nationality,
)
from voucher_exchange.risk.sanctions_list import current_list_id
from voucher_exchange.risk.sanctions_names import korean_keys, normalise, part_count, plain_key

# Name-similarity scores in [0, 1] (not money): at or above STRONG_AT a match refuses, at or
# above WEAK_AT it holds the trade for a person.
STRONG_AT: float = 0.92
WEAK_AT: float = 0.80
_MIN_PARTS_FOR_FUZZY_STRONG = 2
_MIN_LETTERS_FOR_FUZZY_STRONG = 8


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
    plain = plain_key(name)
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
        part_count(query) >= _MIN_PARTS_FOR_FUZZY_STRONG
        and part_count(listed) >= _MIN_PARTS_FOR_FUZZY_STRONG
        and letters >= _MIN_LETTERS_FOR_FUZZY_STRONG
    )
