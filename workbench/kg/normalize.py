"""Canonical keys for entity names, and small display helpers.

Two mentions are one entity when their normalised surface and their type
agree: "The Kestrel Group", "kestrel group" and "Kestrel Group's" (all ORG)
are one entity; "Jordan" as PER and "Jordan" as LOC are two. Keys are NFKC:
full-width and half-width forms ("ＩＢＭ" and "IBM", "华为（中国）" and
"华为(中国)") are one name.

Scripts written without spaces between words (Chinese, Japanese, Thai...) are
searched by substring rather than by word (``has_unspaced``, kg/queries.py).
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# A trailing possessive: Kestrel Group's / Kestrel Group’s (after quotes are stripped).
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
# A final period that belongs to the name (U.S., Kestrel Inc.), kept for display.
_ABBREVIATION = re.compile(r"(?:\b\w\.){2,}$|\b(?:Inc|Ltd|Co|Corp|Jr|Sr|St|Bros)\.$")


# Letters of scripts written without spaces between words: Thai, Lao, Myanmar,
# Khmer, kana, CJK ideographs (and extensions, compatibility forms), Hangul
# syllables (Korean spaces words, but particles are written onto them).
UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_UNSPACED = re.compile(f"[{UNSPACED}]")
# Brackets a name may hold ("华为（中国）", "Kestrel (UK)"), after NFKC or before.
_CLOSING = {
    ")": "(",
    "]": "[",
    "）": "（",
    "］": "［",
    "】": "【",
    "」": "「",
    "』": "『",
    "》": "《",
}
_OPENING = {v: k for k, v in _CLOSING.items()}


def has_unspaced(text: str) -> bool:
    """Whether ``text`` holds a letter of a script written without spaces."""
    return _UNSPACED.search(text) is not None


def _is_edge_junk(char: str) -> bool:
    """Quotes, brackets and other punctuation that may surround a name."""
    return char.isspace() or unicodedata.category(char).startswith("P")


def _partner(text: str, at: int, start: int, end: int) -> int:
    """Where the bracket at ``at`` is closed (or opened), within start..end; -1 if not."""
    char = text[at]
    opening = char in _OPENING
    other = _OPENING[char] if opening else _CLOSING[char]
    depth, step = 0, 1 if opening else -1
    i = at
    while start <= i < end:
        if text[i] == char:
            depth += 1
        elif text[i] == other:
            depth -= 1
            if depth == 0:
                return i
        i += step
    return -1


def _strip_edges(text: str, keep_abbreviation: bool = False, keep_brackets: bool = False) -> str:
    """``text`` without surrounding junk; ``keep_brackets`` keeps a bracket pair
    with part of the name on its far side ("Kestrel (UK)", "(株)トヨタ"), not one
    around the whole ("(Kestrel Group).")."""

    def words(i: int, j: int) -> bool:
        return any(not _is_edge_junk(c) for c in text[i:j])

    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        if keep_brackets and text[start] in _OPENING:
            closed = _partner(text, start, start, end)
            if closed >= 0 and words(start + 1, closed) and words(closed + 1, end):
                break
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        if keep_abbreviation and text[end - 1] == "." and _ABBREVIATION.search(text[start:end]):
            break
        if keep_brackets and text[end - 1] in _CLOSING:
            opened = _partner(text, end - 1, start, end)
            if opened >= 0 and words(start, opened) and words(opened + 1, end - 1):
                break
        end -= 1
    return text[start:end]


def _clean(text: str, keep_brackets: bool) -> str:
    text = _SPACES.sub(" ", text).strip()
    text = _strip_edges(text, keep_abbreviation=True, keep_brackets=keep_brackets)
    # The possessive sits inside any closing quote, so strip edges again after it.
    return _strip_edges(
        _POSSESSIVE.sub("", text), keep_abbreviation=True, keep_brackets=keep_brackets
    )


def surface_form(text: str) -> str:
    """A mention's text cleaned for aliases and search, case kept: NFKC (full-width
    letters, digits and punctuation as their plain forms), whitespace collapsed,
    surrounding quotes/punctuation and a trailing possessive dropped; brackets
    that belong to the name kept.

    ``"“Kestrel Group’s”"`` -> ``"Kestrel Group"``, ``"华为（中国）。"`` ->
    ``"华为(中国)"``. The leading "The" is kept: it is part of how people write
    some names, and only the key drops it.
    """
    return _clean(unicodedata.normalize("NFKC", text), keep_brackets=True)


def display_form(text: str) -> str:
    """A mention's text as an entity's name shows it: cleaned like
    ``surface_form`` but in the width it was written (``"华为（中国）"`` stays
    full-width). Where the cleaning would not agree with surface_form (a
    full-width possessive), surface_form's text."""
    shown = _clean(unicodedata.normalize("NFC", text), keep_brackets=True)
    surface = surface_form(text)
    return shown if unicodedata.normalize("NFKC", shown) == surface else surface


def normalize_name(text: str) -> str:
    """The case-free form two spellings of one name share ("" when nothing is left):
    NFKC, so full-width and half-width forms share it too."""
    # Brackets at the edges go, as they always have: keys of existing graphs stay.
    text = _clean(unicodedata.normalize("NFKC", text), keep_brackets=False).casefold()
    text = _LEADING_THE.sub("", text)
    return _strip_edges(text)


def canonical_key(text: str, type: str) -> tuple[str, str]:
    """The identity of an entity: (normalised surface, type)."""
    return normalize_name(text), type.strip()


def relation_words(relation_type: str) -> str:
    """``"based_in"`` / ``"BASED_IN"`` -> ``"based in"`` for profiles and people."""
    return _SPACES.sub(" ", relation_type.replace("_", " ")).strip().lower()


def entity_label(name: str, type: str) -> str:
    """``"Kestrel Analytics (ORG)"``: a name with its type, as lists show it."""
    return f"{name} ({type})"
