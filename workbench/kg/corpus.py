"""Reading a corpus for the knowledge graph, and splitting its text into sentences.

A corpus is a text file (one document, keyed by its name), a folder of
``.txt``/``.md`` files (one document each, keyed by the folder's name and the
path inside it), or JSON records (``.jsonl`` or a ``.json`` array) with ``id``
and ``text`` fields (keyed by the id: ids are the user's stable document ids, so
a record whose id is already in the graph replaces that document).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workbench.data.jsonl import read_jsonl
from workbench.data.text_files import open_text
from workbench.errors import WorkbenchError, where
from workbench.kg.normalize import UNSPACED

TEXT_SUFFIXES = (".txt", ".md", ".text")


@dataclass(frozen=True)
class Document:
    """One document: a key that stays the same across builds, where it came from, its text."""

    key: str
    source: str
    text: str

    @property
    def sha(self) -> str:
        """Content hash: a document whose key is known but whose text changed is replaced."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _read_text(path: Path) -> str:
    try:
        with open_text(path) as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise WorkbenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def read_corpus(path: str | Path) -> list[Document]:
    """The documents under ``path`` in a stable order; an empty corpus is an error."""
    path = Path(path).expanduser()
    if not path.exists():
        raise WorkbenchError(
            f"{path}: corpus not found (give a text file, a folder of .txt "
            f"files, or a .jsonl file with id and text)"
        )
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in TEXT_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        # Keys start with the folder's name: a second folder with its own notes.txt
        # adds documents instead of replacing the first one's.
        name = path.resolve().name  # "." is the folder it names, not ""
        docs = [
            Document(f"{name}/{p.relative_to(path).as_posix()}", str(p), _read_text(p))
            for p in files
        ]
    elif any(s in (".jsonl", ".json", ".ndjson") for s in path.suffixes):
        docs = list(_json_documents(path))
    else:
        docs = [Document(path.name, str(path), _read_text(path))]
    docs = [d for d in docs if d.text.strip()]
    if not docs:
        raise WorkbenchError(f"{path}: no documents with text in the corpus")
    return docs


def corpus_prefix(path: str | Path) -> str | None:
    """What the ``source`` of every document read from ``path`` starts with
    (the folder, or the JSONL file before its line numbers); None for a single
    text file. A build uses it to find documents that left the corpus."""
    path = Path(path).expanduser().resolve()
    if path.is_dir():
        return str(path) + os.sep
    if any(s in (".jsonl", ".json", ".ndjson") for s in path.suffixes):
        return f"{path}:"
    return None


def _json_documents(path: Path) -> Iterator[Document]:
    seen: set[str] = set()
    for line, obj in read_jsonl(path):
        text = obj.get("text")
        if not isinstance(text, str):
            raise WorkbenchError(
                f"{where(path, line)}: no 'text' string field "
                f"(fields: {', '.join(sorted(obj)) or 'none'})"
            )
        key = str(obj.get("id", f"{path.name}:{line}"))
        if key in seen:
            raise WorkbenchError(f"{where(path, line)}: id {key!r} occurs twice in the corpus")
        seen.add(key)
        yield Document(key, f"{path}:{line}", text)


# Sentence ends: . ! ? (and closing quotes/brackets) before whitespace and an
# upper-case letter, digit, opening quote or a letter of a script written
# without spaces; not after common abbreviations or single-letter initials
# ("J. R. R. Tolkien", "U.S. Army"). And Chinese/Japanese full-width ends
# 。！？ (with any further ！？ and closing quotes/brackets), which need
# neither a space nor a capital after them: "他来了。她走了！" is two sentences.
_END = re.compile(
    r"""[.!?]["'”’)\]]*(?=\s+["'“‘(\[「『（]?(?:[A-Z0-9À-Ý]|["""
    + UNSPACED
    + r"""]))|[。！？][！？!?]*["'”’)\]」』）》]*"""
)
# Where a sentence too long to keep whole (MAX_SENTENCE_CHARS) may be cut when
# it has no space: after a full-width comma, enumeration comma, semicolon or colon.
_CLAUSE_ENDS = "，、；："
_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "sr",
    "jr",
    "st",
    "mt",
    "gen",
    "col",
    "lt",
    "sgt",
    "capt",
    "gov",
    "sen",
    "rep",
    "rev",
    "inc",
    "ltd",
    "co",
    "corp",
    "vs",
    "etc",
    "no",
    "vol",
    "fig",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "e.g",
    "i.e",
    "approx",
    "dept",
    "est",
    "u.s",
    "u.k",
    "u.n",
    "ft",
    "ave",
    "blvd",
}
MAX_SENTENCE_CHARS = 2000  # a "sentence" longer than this (a table, a list) is cut


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences in ``text``: lines (paragraphs) first, then
    sentence ends inside each line (. ! ? before a space and a capital; 。！？
    anywhere); whitespace trimmed, empty pieces dropped. A piece longer than
    MAX_SENTENCE_CHARS is cut at its last space, or its last ，、；： (text
    without spaces), or else at the limit."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        start = line.start()
        for end_match in _END.finditer(line.group()):
            end = line.start() + end_match.end()
            word = re.search(r"([\w.]+)\.?$", text[start:end].rstrip(".!?\"'”’)]"))
            before = (word.group(1) if word else "").lower().rstrip(".")
            if text[end - 1] == "." and (before in _ABBREVIATIONS or len(before) == 1):
                continue
            spans.append((start, end))
            start = end
        spans.append((start, line.end()))
    out = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        while end - start > MAX_SENTENCE_CHARS:
            limit = start + MAX_SENTENCE_CHARS
            cut = text.rfind(" ", start, limit)
            # Text without spaces (Chinese): after the last clause punctuation
            # in range, when that is later than any space.
            clause = max(text.rfind(c, start, limit) for c in _CLAUSE_ENDS) + 1
            cut = max(cut, clause)
            cut = cut if cut > start else limit
            out.append((start, cut))
            start = cut + 1 if text[cut : cut + 1] == " " else cut
        if end > start:
            out.append((start, end))
    return out
