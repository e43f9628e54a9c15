"""Names as the sanctions screen compares them: romanised, normalised, and keyed by sound.

`normalise` is the stored, readable key (Revised Romanisation for Korean names);
`match_key` / `korean_keys` are what the screen compares: Korean-shaped names keyed by the
sound of each syllable, so every common spelling of one Korean name shares a key.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

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


def plain_key(name: str) -> str:
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


_PARTS = re.compile(r"[\uac00-\ud7a3]|[^\W\uac00-\ud7a3]+")


def part_count(name: str) -> int:
    """Words of a name, counting each Hangul syllable as one (Korean names are written unspaced)."""
    return len(_PARTS.findall(name))
