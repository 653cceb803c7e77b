"""Raw text into words, as the training data had them.

Most corpora are tokenized into words the CoNLL way; character-level corpora
(Chinese NER sets such as Resume or MSRA: one character a line, digits and
Latin letters too) have one character a word, and a model trained on them is
given raw text the same way (``split_characters``), or a year "1963" would be one
word to a model that only ever saw "1", "9", "6", "3".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Words as CoNLL-style corpora tokenize: each CJK character alone, abbreviations of
# single capitals with their dots ("U.S.", and an initial "S." before a capitalised
# word), runs of other letters/digits (with inner apostrophes, hyphens and dots),
# single other characters.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
WORD_RE = re.compile(
    rf"[{CJK}]|\b(?:[A-Z]\.){{2,}}|\b[A-Z]\.(?=\s+[A-Z])"
    rf"|(?:(?![{CJK}])\w)+(?:[-'’.](?:(?![{CJK}])\w)+)*|[^\w\s]"
)
CHARACTER_RE = re.compile(r"\S")
CJK_RE = re.compile(rf"[{CJK}]")

# Words of a character-level corpus are single characters: this share or more.
CHARACTER_LEVEL_SHARE = 0.98


def split_words(text: str) -> list[tuple[str, int, int]]:
    """Split raw text into ``(word, start, end)`` with character offsets."""
    return [(m.group(), m.start(), m.end()) for m in WORD_RE.finditer(text)]


def split_characters(text: str) -> list[tuple[str, int, int]]:
    """Every character but white space a word of its own, with its offsets."""
    return [(m.group(), m.start(), m.start() + 1) for m in CHARACTER_RE.finditer(text)]


def splitter(level: str):
    """The raw-text splitter for a model trained on ``"words"`` or ``"characters"``."""
    return split_characters if level == "characters" else split_words


def word_level(words: Iterable[str]) -> str:
    """``"characters"`` when (nearly) every word of the data is one character,
    else ``"words"``."""
    total = single = 0
    for word in words:
        total += 1
        single += len(word) == 1
    return "characters" if total and single >= CHARACTER_LEVEL_SHARE * total else "words"
