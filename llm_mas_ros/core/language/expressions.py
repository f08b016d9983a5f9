"""Everyday ways of writing an amount, rewritten in the digits and units the agent language reads.

    'pi/2 radians'          -> '1.570796 rad'       'minus pi over 4'   -> '-0.785398 rad'
    'a quarter turn'        -> '90 deg'             'half a turn'       -> '180 deg'
    'halfway', 'to half'    -> '50%'                'three quarters of the way' -> '75%'
    'forty-five degrees'    -> '45 degrees'         'minus thirty'      -> '-30'
    '3/4 rad'               -> '0.75 rad'           '1e-3 rad'          -> '0.001 rad'

Every planner reads the rewritten instruction, so the rule planner parses it and a language
model's number-copy constraint offers the number the person meant, never a digit copied out of
an expression ('pi/2' is not 2). What cannot be rewritten safely is an error, never a guess:
'pi/0', 'pi/2 degrees' (pi is an angle in radians). A number too small for any joint to resolve
(1e-308) becomes 0; one too large (1e308) is kept, and the limits reject it by its own value.
"""

from __future__ import annotations

import math
import re

from ..errors import PlanError
from ..robot.model import Dimension
from .quantities import SIGN_WORDS, UNITS, format_number, number_words

DECIMALS = 6  # digits kept of a computed amount: a micro-radian, far below any tolerance
TURN_DEG = 360.0
_UNIT_WORDS = "|".join(sorted((re.escape(u) for u in UNITS if u != "%"), key=len, reverse=True))
_NUMBER = r"\d+(?:\.\d+)?"

_PI_RE = re.compile(
    rf"(?P<sign>[-+]\s*)?(?:(?P<factor>{_NUMBER})\s*\*?\s*)?(?:(?<![a-z])pi(?![a-z])|π)"
    rf"(?:\s*(?:/|\bover\b|\bdivided by\b)\s*(?P<divisor>{_NUMBER}))?"
    rf"(?:\s*(?P<unit>{_UNIT_WORDS})\b)?"
)
_FRACTION_RE = re.compile(rf"(?<![\d.])(?P<num>{_NUMBER})\s*/\s*(?P<den>{_NUMBER})(?![\d.])")
_SCIENTIFIC_RE = re.compile(r"(?<![\w.])(?P<mantissa>\d+(?:\.\d*)?|\.\d+)e(?P<exp>[-+]?\d+)\b")
_TURN_RE = re.compile(rf"(?P<amount>{_NUMBER})\s+(?:full\s+)?(?:turns?|revolutions?|rotations?)\b")
_FULL_TURN_RE = re.compile(
    r"\b(?:a|one)\s+(?:full|complete|whole)\s+(?:turn|revolution|rotation|circle)\b"
)
_A_SECOND_RE = re.compile(r"\b(wait|pause|for)\s+(?:a|one)\s+(?:second|sec)\b")
_HALFWAY_RE = re.compile(r"\b(?:half[- ]?way|half[- ]open|half[- ]closed|midway)\b")
_SHARE_OF_WAY_RE = re.compile(
    rf"(?P<amount>{_NUMBER})\s*(?P<percent>%|percent\b|per cent\b)?\s*of\s+"
    r"(?:the\s+way|(?:its|the)\s+(?:range|travel))\b"
)
_SIGNED_RE = re.compile(rf"\b(?P<word>{'|'.join(SIGN_WORDS)})\s+(?=\d|\.\d)")
_FRACTION_WORDS = frozenset({"half", "quarter"})
_GLUE = frozenset({"a", "an", "and"})
_NUMBER_WORD_RE = (
    r"(?:a|an|and|zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fourty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred|half|quarter)"
)
_NUMBER_WORD_RUN_RE = re.compile(rf"\b{_NUMBER_WORD_RE}(?:[\s-]+{_NUMBER_WORD_RE})*\b")
_AMOUNT_UNIT = rf"(?:{_UNIT_WORDS}|turns?|revolutions?|rotations?)\b"
# 'half a turn', 'a quarter of a radian': the article between a fraction and its unit goes.
_FRACTION_OF_RE = re.compile(rf"\b(half|quarter)\s+(?:of\s+)?an?\s+(?={_AMOUNT_UNIT})")
_UNIT_AFTER_RE = re.compile(rf"\s*(?:{_AMOUNT_UNIT}|%)")


def rewrite_amounts(text: str) -> str:
    """`text` (lower-cased) with every amount it states written as digits and a unit."""
    text = text.lower().replace("°", " deg ")
    text = _SCIENTIFIC_RE.sub(_scientific, text)
    text = _A_SECOND_RE.sub(r"\1 1 second", text)
    text = _HALFWAY_RE.sub(lambda m: _halfway(m.group(0)), text)
    text = _FRACTION_OF_RE.sub(r"\1 ", text)
    text = _NUMBER_WORD_RUN_RE.sub(_number_words, text)
    text = _PI_RE.sub(_pi, text)
    text = _FRACTION_RE.sub(_fraction, text)
    text = _FULL_TURN_RE.sub("1 turn", text)
    text = _TURN_RE.sub(lambda m: f"{_digits(float(m.group('amount')) * TURN_DEG)} deg", text)
    text = _SHARE_OF_WAY_RE.sub(_share_of_way, text)
    text = _SIGNED_RE.sub(lambda m: "-" if SIGN_WORDS[m.group("word")] < 0 else "+", text)
    return " ".join(text.split())


def _digits(value: float) -> str:
    return format_number(value, DECIMALS)


def _scientific(match: re.Match[str]) -> str:
    value = float(f"{match.group('mantissa')}e{match.group('exp')}")
    if value != 0 and not 10.0**-DECIMALS <= value < 1e9:
        return match.group(0) if value >= 1e9 else "0"  # too large: the limits say so by value
    return _digits(value)


def _share_of_way(match: re.Match[str]) -> str:
    """'0.75 of the way' and '75% of its range' are both 75%."""
    amount = float(match.group("amount"))
    return f"{_digits(amount if match.group('percent') else amount * 100)}%"


def _halfway(phrase: str) -> str:
    if "open" in phrase:
        return "open 50%"
    if "closed" in phrase:
        return "close 50%"
    return "50%"


def _number_words(match: re.Match[str]) -> str:
    """A run of number words as digits ('forty-five' -> '45', 'a quarter' -> '0.25'); a lone
    fraction with no unit after it is a share of the range ('to half' -> '50%'). 'a', 'an'
    and 'and' at its ends stay words unless they belong to the number ('a quarter')."""
    words = match.group(0).replace("-", " ").split()
    before: list[str] = []
    after: list[str] = []
    while words and words[-1] in _GLUE:
        after.insert(0, words.pop())
    while (
        words
        and words[0] in _GLUE
        and not (len(words) > 1 and words[1] in {"half", "quarter", "hundred"})
    ):
        before.append(words.pop(0))
    found = number_words(" ".join(words))
    if not words or len(found) != 1:
        return match.group(0)
    value = found[0][0]
    unit_follows = _UNIT_AFTER_RE.match(match.string, match.end()) and not after
    if set(words) <= _FRACTION_WORDS | _GLUE and value < 1 and not unit_follows:
        number = f"{_digits(value * 100)}%"
    else:
        number = _digits(value)
    return " ".join([*before, number, *after])


def _pi(match: re.Match[str]) -> str:
    factor = float(match.group("factor") or 1.0)
    divisor = float(match.group("divisor") or 1.0)
    unit = match.group("unit")
    if divisor == 0:
        raise PlanError(f"{match.group(0).strip()!r} divides by zero")
    if unit and UNITS[unit] != (Dimension.ANGLE, 1.0):
        raise PlanError(
            f"{match.group(0).strip()!r}: pi is an angle in radians; say e.g. 'pi/2 rad'"
        )
    sign = "-" if (match.group("sign") or "").strip() == "-" else ""
    return f"{sign}{_digits(factor * math.pi / divisor)} rad"


def _fraction(match: re.Match[str]) -> str:
    denominator = float(match.group("den"))
    if denominator == 0:
        raise PlanError(f"{match.group(0)!r} divides by zero")
    return _digits(float(match.group("num")) / denominator)
