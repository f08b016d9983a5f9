"""The English word list the language modules share, and what it says about a word's form."""

from __future__ import annotations

from functools import cache
from pathlib import Path

ENGLISH_WORDS_FILE = Path(__file__).with_name("english_words.txt")
# '-ly' words whose stem is a word but which say nothing about a way of doing
NOT_ADVERBS = frozenset({"apply", "assembly", "belly", "lilly", "sally", "supply", "reply"})


@cache
def english_words() -> frozenset[str]:
    """Words of English (4+ letters): a real word is never a typo of a name ('pick', 'pack')."""
    lines = ENGLISH_WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("#"))


@cache
def is_adverb_of_manner(word: str) -> bool:
    """True for an English '-ly' word formed from another English word: 'hastily' (hasty),
    'gingerly' (ginger), 'gently' (gentle), 'frantically' (frantic). Names and nouns that merely
    end in 'ly' ('emily', 'supply', 'family') are not: their stem is no word."""
    if len(word) < 5 or not word.endswith("ly") or word in NOT_ADVERBS:
        return False
    if word not in english_words():  # a typo or a made-up word: an error, as any other word
        return False
    stem = word[:-2]
    # gentle -> gently, simple -> simply: a consonant before the 'ly' ('emily' is no 'emile')
    le_stem = word[:-1] + "e" if word[-3] not in "aeiou" else ""
    stems = (stem, stem[:-1] + "y", le_stem, stem[:-2] if stem.endswith("al") else "")
    return any(s in english_words() for s in stems if len(s) >= 4)
