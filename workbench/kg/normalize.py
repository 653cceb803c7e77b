"""Canonical keys for entity names, and small display helpers.

Two mentions are one entity when their normalised surface and their type
agree: "The Kestrel Group", "kestrel group" and "Kestrel Group's" (all ORG)
are one entity; "Jordan" as PER and "Jordan" as LOC are two.
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


def _is_edge_junk(char: str) -> bool:
    """Quotes, brackets and other punctuation that may surround a name."""
    return char.isspace() or unicodedata.category(char).startswith("P")


def _strip_edges(text: str, keep_abbreviation: bool = False) -> str:
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        if keep_abbreviation and text[end - 1] == "." and _ABBREVIATION.search(text[start:end]):
            break
        end -= 1
    return text[start:end]


def surface_form(text: str) -> str:
    """A mention's text cleaned for display, case kept: NFKC, whitespace
    collapsed, surrounding quotes/punctuation and a trailing possessive dropped.

    ``"“Kestrel Group’s”"`` -> ``"Kestrel Group"``. The leading "The" is kept:
    it is part of how people write some names, and only the key drops it.
    """
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip()
    text = _strip_edges(text, keep_abbreviation=True)
    # The possessive sits inside any closing quote, so strip edges again after it.
    return _strip_edges(_POSSESSIVE.sub("", text), keep_abbreviation=True)


def normalize_name(text: str) -> str:
    """The case-free form two spellings of one name share ("" when nothing is left)."""
    text = surface_form(text).casefold()
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
