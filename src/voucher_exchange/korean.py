"""Korean text: particles that agree with the word before them, and amounts as people type them.

Korean particles change with the last syllable of the word they follow: 을/를, 은/는, 이/가,
과/와, 으로/로. A sentence that interpolates a brand, a name or an amount cannot know the
form in advance, so the catalogue writes the form for a final consonant (을, 은, 이, 과, 으로)
right after a *marked* placeholder, and `resolve` picks the right one once the value is in.
Only marked boundaries are touched: a word that merely contains 을 (마을) is never changed.
"""

from __future__ import annotations

import re
from decimal import Decimal

# An invisible marker put after an interpolated value; `resolve` consumes it.
MARK = "\u2063"

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # the final-consonant index of ㄹ, which takes 로 (not 으로)
# How Korean reads a final digit or Latin letter: does the reading end in a consonant (and is it ㄹ)?
_DIGIT_FINAL = {
    "0": "o",
    "1": "l",
    "2": "",
    "3": "o",
    "4": "",
    "5": "",
    "6": "o",
    "7": "l",
    "8": "l",
    "9": "",
}
_LATIN_FINAL = {"l": "l", "m": "o", "n": "o"}

# Consonant-final form → vowel-final form.
PARTICLES = {"을": "를", "은": "는", "이": "가", "과": "와", "으로": "로"}
_MARKED = re.compile(MARK + r"(으로|을|를|은|는|이|가|과|와|로)?")
_TRAILING = re.compile(r"(\s*[(\[][^()\[\]]*[)\]])+\s*$")


def final_sound(word: str) -> str:
    """'' (ends in a vowel), 'l' (ends in ㄹ) or 'o' (ends in another consonant)."""
    stripped = _TRAILING.sub("", word).rstrip(" .,!?'\"")
    if not stripped:
        return ""
    if stripped.startswith("$"):  # read 달러
        return ""
    last = stripped[-1]
    code = ord(last)
    if _HANGUL_FIRST <= code <= _HANGUL_LAST:
        final = (code - _HANGUL_FIRST) % 28
        return "" if final == 0 else ("l" if final == _RIEUL else "o")
    if last in _DIGIT_FINAL:
        return _DIGIT_FINAL[last]
    if stripped.lower().endswith("le"):  # Apple, Google → 애플, 구글
        return "l"
    return _LATIN_FINAL.get(last.lower(), "")


def particle(word: str, consonant_form: str) -> str:
    """The particle that follows `word`: particle('컬쳐랜드', '을') → '를'; ('서울', '으로') → '로'."""
    vowel_form = PARTICLES.get(consonant_form)
    if vowel_form is None:
        vowel_form = consonant_form
        consonant_form = next((c for c, v in PARTICLES.items() if v == vowel_form), vowel_form)
    sound = final_sound(word)
    if consonant_form == "으로":
        return "으로" if sound == "o" else "로"
    return consonant_form if sound else vowel_form


def with_particle(word: str, consonant_form: str) -> str:
    """`word` and its particle: with_particle('카카오뱅크', '으로') → '카카오뱅크로'."""
    return word + particle(word, consonant_form)


def resolve(text: str) -> str:
    """Fix the particle after every marked value and drop the markers."""
    out: list[str] = []
    last = 0
    for found in _MARKED.finditer(text):
        before = text[last : found.start()]
        out.append(before)
        given = found.group(1)
        if given:
            out.append(particle("".join(out), given))
        last = found.end()
    out.append(text[last:])
    return "".join(out)


# Typed amounts: '5만원', '5만 5천원', '1억2천만', '1.5만', '천원'.
_SMALL = {"십": 10, "백": 100, "천": 1000}
_BIG = {"만": 10_000, "억": 100_000_000}
# A run of digits is one token (the lookahead), so a long run cannot be split in exponentially
# many ways while the engine backtracks (hostile input like '1' * 59 + 'x').
_KOREAN_AMOUNT = re.compile(r"(?:[0-9]{1,8}(?:\.[0-9]{1,4})?(?![0-9.])|[십백천만억]){1,12}")
_TOKEN = re.compile(r"[0-9]{1,8}(?:\.[0-9]{1,4})?|[십백천만억]")


def korean_number(text: str) -> Decimal | None:
    """'5만5천' → 55000; '1.5만' → 15000; None unless the text is digits with Korean units."""
    if len(text) > 60 or not any(u in text for u in "십백천만억") or not _KOREAN_AMOUNT.fullmatch(text):
        return None
    total = Decimal(0)
    section = Decimal(0)  # the part below the next 만 or 억
    number: Decimal | None = None
    for token in _TOKEN.findall(text):
        if token in _SMALL:
            section += (Decimal(1) if number is None else number) * _SMALL[token]
        elif token in _BIG:
            section += number or 0
            total += (section or Decimal(1)) * _BIG[token]
            section = Decimal(0)
        else:
            number = Decimal(token)
            continue
        number = None
    return total + section + (number or 0)
