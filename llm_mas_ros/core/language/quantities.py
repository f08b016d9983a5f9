"""Numbers and units in text: '45 degrees', '-0.5 rad', '20 mm', 'ninety', 'in 1.5 s'.

Shared by the agent language (what agents accept) and the planner's number-copy constraint
(which numbers a language model may write): both must agree on what a number in text is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..robot.model import Dimension

# Unit words -> (dimension, factor to SI). An angle (a joint Dimension) is in rad, a length in m,
# "fraction" is a share of the joint's range, "time" is s.
UNITS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("deg", "degs", "degree", "degrees", "°"), (Dimension.ANGLE, math.pi / 180.0)),
    **dict.fromkeys(("rad", "rads", "radian", "radians"), (Dimension.ANGLE, 1.0)),
    **dict.fromkeys(("m", "meter", "meters", "metre", "metres"), (Dimension.LENGTH, 1.0)),
    **dict.fromkeys(
        ("cm", "centimeter", "centimeters", "centimetre", "centimetres"), (Dimension.LENGTH, 0.01)
    ),
    **dict.fromkeys(
        ("mm", "millimeter", "millimeters", "millimetre", "millimetres"), (Dimension.LENGTH, 0.001)
    ),
    **dict.fromkeys(("%", "percent", "per cent", "pct"), ("fraction", 0.01)),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), ("time", 1.0)),
}

# Scientific notation is one number: '1e308' is never read as 308.
NUMBER_PATTERN = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?"
# A dot ends a sentence unless a digit follows it, where it is a decimal point: '.5', '-.5' and
# '0.5' keep theirs; 'to 5.' is 5 and 'to 30 deg. then ...' is two sentences.
SENTENCE_DOT_PATTERN = r"\.(?!\d)"
_SENTENCE_DOT_RE = re.compile(SENTENCE_DOT_PATTERN)
_UNIT_ALTERNATIVES = "|".join(sorted((re.escape(u) for u in UNITS), key=len, reverse=True))
QUANTITY_RE = re.compile(
    rf"(?P<number>{NUMBER_PATTERN})\s*(?P<unit>{_UNIT_ALTERNATIVES})?(?![a-z])", re.IGNORECASE
)

_ONES = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_FRACTIONS = {"half": 0.5, "quarter": 0.25}
# Words that state a number's sign: 'minus ten', 'negative 0.5 rad'.
SIGN_WORDS = {"minus": -1, "negative": -1, "plus": 1, "positive": 1}
_SIGN_WORD_BEFORE_RE = re.compile(rf"\b({'|'.join(SIGN_WORDS)})\s+$", re.IGNORECASE)
_NUMBER_WORDS = set(_ONES) | set(_TENS) | {"hundred", "a", "and"} | set(_FRACTIONS)
# Every word an amount is said in ('ninety degrees', 'a quarter turn', 'minus pi'): the words
# of a number are never a thing a verb takes ('turn right ninety degrees').
AMOUNT_WORDS = frozenset(
    _NUMBER_WORDS
    | set(SIGN_WORDS)
    | set(UNITS)
    | {"pi", "turn", "turns", "revolution", "revolutions", "rotation", "rotations", "full"}
    | {"halfway", "midway", "percent", "range"}
)


@dataclass(frozen=True)
class Quantity:
    """A number as written, its unit word (or None) and where it stood in the text. `sign` is
    the sign the text states (-1 for '-10' or 'minus 10', +1 for '+10' or 'plus 10'), 0 when
    it states none; a '-' glued to a word or number ('wrist-1', '10-20') states none."""

    value: float
    unit: str | None
    start: int
    end: int
    sign: int = 0

    @property
    def dimension(self) -> str | None:
        return UNITS[self.unit][0] if self.unit else None

    def si(self) -> float:
        """The value in SI units (rad, m, s) or as a fraction for percentages."""
        return self.value * (UNITS[self.unit][1] if self.unit else 1.0)


def parse_number(text: str) -> float:
    """A finite float from digits; ValueError otherwise (NaN and inf are not numbers here)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def drop_sentence_dots(text: str) -> str:
    """`text` with every full stop turned into a space and every decimal point kept: the one
    rule for telling them apart, used by the agent language, the planner's normal form and the
    rule planner's step split (which the grammar shares). NUMBER_PATTERN agrees with it."""
    return _SENTENCE_DOT_RE.sub(" ", text)


def find_quantities(text: str) -> list[Quantity]:
    """Every digit-written number in `text`, with its unit when one follows."""
    found = []
    for match in QUANTITY_RE.finditer(text):
        try:
            value = parse_number(match.group("number"))
        except ValueError:
            continue
        unit = match.group("unit")
        found.append(
            Quantity(
                value,
                unit.lower() if unit else None,
                match.start(),
                match.end(),
                _stated_sign(text[: match.start()], match.group("number")),
            )
        )
    return found


def _stated_sign(before: str, number: str) -> int:
    """The sign stated for `number` (digits) that follows the text `before`."""
    if number[0] in "+-":
        return 0 if before[-1:].isalnum() else (-1 if number[0] == "-" else 1)
    word = _SIGN_WORD_BEFORE_RE.search(before)
    return SIGN_WORDS[word.group(1).lower()] if word else 0


def _words_value(words: list[str]) -> float | None:
    """Value of a run of number words ('one hundred and twenty', 'forty five', 'a half',
    'one and a half' = 1.5, 'two quarter' = 0.5)."""
    value, seen, joined = 0.0, False, False
    for word in words:
        if word in _ONES:
            value += _ONES[word]
        elif word in _TENS:
            value += _TENS[word]
        elif word == "hundred":
            value = (value or 1) * 100
        elif word in _FRACTIONS:
            fraction = _FRACTIONS[word]
            value = value + fraction if joined or not value else value * fraction
        else:
            joined = joined or (word == "and" and seen)  # 'a' and 'and' are glue words
            continue
        seen = True
    return value if seen else None


def number_words(text: str) -> list[tuple[float, int]]:
    """Numbers spelled in words and the sign a word before each states (as `Quantity.sign`):
    'ninety' -> (90, 0), 'minus forty-five' -> (45, -1), 'half' -> (0.5, 0)."""
    words = re.findall(r"[a-z]+", text.lower().replace("-", " "))
    found: list[tuple[float, int]] = []
    run: list[str] = []
    before = ""  # the word before the run
    for word in [*words, "."]:
        if word in _NUMBER_WORDS:
            run.append(word)
            continue
        value = _words_value(run)
        if value is not None:
            found.append((value, SIGN_WORDS.get(before, 0)))
        run, before = [], word
    return found


def number_words_values(text: str) -> list[float]:
    """Numbers spelled in words: 'ninety' -> 90, 'forty-five' -> 45, 'half' -> 0.5."""
    return [value for value, _ in number_words(text)]


def stated_numbers(text: str) -> set[float]:
    """Magnitudes of every number an instruction states, in digits or in words."""
    magnitudes = {abs(q.value) for q in find_quantities(text)}
    magnitudes.update(abs(v) for v in number_words_values(text))
    return magnitudes


HUGE = 1e15  # numbers from here on are written in scientific notation


def format_number(value: float, decimals: int = 3) -> str:
    """Shortest decimal for `value` at `decimals` places: 45.0 -> '45', -0.5236 -> '-0.524';
    in scientific notation from 1e15 on, far beyond any joint ('1e+308', not 309 digits)."""
    if abs(value) >= HUGE:
        return f"{value:.{decimals}g}"
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
