"""Data readers: every supported format in, plain example dicts out.

Token examples are ``{"tokens": [...], "tags": [...]}`` with BIO tags; text
examples are ``{"text": str, "text_pair": str | None, "label": str}``. Each
carries ``"line"``, the line it started on, for error messages.

A record that ``workbench annotate`` wrote for a sentence the person turned down
(``"decision": "rejected"`` beside its ``"source"`` and ``"position"``) is kept in
the file as a decision, and skipped as an example.
"""

from __future__ import annotations

from pathlib import Path

from workbench.data.conll import read_conll
from workbench.data.hub import read_hf
from workbench.data.jsonl import column, read_jsonl
from workbench.data.schemes import check_tag, detect_scheme, to_bio
from workbench.data.spans import bio_from_spans, read_entities, read_relations
from workbench.data.tabular import read_table
from workbench.errors import WorkbenchError, where

REJECTED = "rejected"  # an annotator's "not this sentence": no example


def is_rejected(obj: dict) -> bool:
    """A line ``workbench annotate`` wrote for a rejected sentence (a dataset's own
    ``decision`` column is left alone)."""
    return obj.get("decision") == REJECTED and "source" in obj and "position" in obj


EXTENSIONS = {
    ".conll": "conll",
    ".conllu": "conll",
    ".bio": "conll",
    ".iob": "conll",
    ".bmes": "conll",
    ".bioes": "conll",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
}


def detect_format(path: str, kind: str) -> str:
    """Format from the file name: ``hf:`` prefix, then the extension (``.gz`` skipped)."""
    if path.startswith("hf:"):
        return "hf"
    suffixes = [s for s in Path(path).suffixes if s != ".gz"]
    ext = suffixes[-1].lower() if suffixes else ""
    if ext in EXTENSIONS:
        return EXTENSIONS[ext]
    # .txt and unknown endings: column files for tokens, tab-separated for texts.
    return {"tokens": "conll", "spans": "jsonl"}.get(kind, "tsv")


def _records(path: str, fmt: str, data: dict) -> tuple[list[tuple[int, dict]], dict]:
    """``(line, record)`` pairs from a JSONL file or a hub split, and the hub's
    ClassLabel names per column (none for JSONL). Lines annotate wrote for rejected
    sentences are left out here, for every reader."""
    if fmt == "jsonl":
        return [(n, obj) for n, obj in read_jsonl(path) if not is_rejected(obj)], {}
    plain, names = read_hf(path, data["hf_config"])
    return list(enumerate(plain, start=1)), names


def read_token_examples(path: str, data: dict) -> list[dict]:
    """Read a token-classification split and convert its tags to BIO."""
    fmt = data["format"] if data["format"] != "auto" else detect_format(path, "tokens")
    if fmt == "conll":
        examples = read_conll(path)
    elif fmt in ("jsonl", "hf"):
        rows, names = _records(path, fmt, data)
        tag_names = names.get(data["tags_column"]) or data["labels"]
        examples = []
        for number, obj in rows:
            loc = where(path, number)
            tokens = column(obj, data["tokens_column"], loc)
            if data["tags_column"] not in obj and data["entities_column"] in obj:
                # Span-annotated records (e.g. relation datasets) train NER too.
                if not isinstance(tokens, list):
                    raise WorkbenchError(f"{loc}: tokens must be a list")
                spans = read_entities(obj, data["entities_column"], tokens, loc)
                tags = bio_from_spans(len(tokens), spans, loc)
            else:
                tags = column(obj, data["tags_column"], loc)
            if not isinstance(tokens, list) or not isinstance(tags, list):
                raise WorkbenchError(f"{loc}: tokens and tags must be lists")
            if len(tokens) != len(tags):
                raise WorkbenchError(f"{loc}: {len(tokens)} tokens but {len(tags)} tags")
            if any(isinstance(t, int) for t in tags):
                if not tag_names:
                    raise WorkbenchError(
                        f"{loc}: tags are numbers; give their names in data.labels"
                    )
                try:
                    tags = [tag_names[t] if isinstance(t, int) else t for t in tags]
                except IndexError:
                    raise WorkbenchError(f"{loc}: tag number out of range of data.labels") from None
            for tag in tags:
                check_tag(str(tag), loc)
            if tokens:
                examples.append(
                    {
                        "tokens": [str(t) for t in tokens],
                        "tags": [str(t) for t in tags],
                        "line": number,
                    }
                )
    else:
        raise WorkbenchError(f"{path}: format {fmt!r} cannot hold token tags; use conll or jsonl")
    scheme = data["tag_scheme"]
    if scheme == "auto":
        scheme = detect_scheme([e["tags"] for e in examples])
    for example in examples:
        example["tags"] = to_bio(example["tags"], scheme)
    return examples


def read_text_examples(path: str, data: dict) -> list[dict]:
    """Read a text-classification split."""
    fmt = data["format"] if data["format"] != "auto" else detect_format(path, "text")
    if fmt in ("csv", "tsv"):
        return read_table(
            path,
            "," if fmt == "csv" else "\t",
            data["header"],
            data["text_column"],
            data["text_pair_column"],
            data["label_column"],
        )
    if fmt in ("jsonl", "hf"):
        rows, names = _records(path, fmt, data)
        label_names = names.get(data["label_column"])
        examples = []
        for number, obj in rows:
            loc = where(path, number)
            text = column(obj, data["text_column"], loc)
            pair = column(obj, data["text_pair_column"], loc) if data["text_pair_column"] else None
            label = column(obj, data["label_column"], loc)
            if isinstance(label, int) and label_names:
                label = label_names[label]
            if not isinstance(text, str) or (pair is not None and not isinstance(pair, str)):
                raise WorkbenchError(f"{loc}: text must be a string")
            if label is None or isinstance(label, (list, dict)):
                raise WorkbenchError(f"{loc}: label must be a single value, got {label!r}")
            examples.append({"text": text, "text_pair": pair, "label": str(label), "line": number})
        return examples
    raise WorkbenchError(
        f"{path}: format {fmt!r} holds token tags, not text labels; use csv, tsv or jsonl"
    )


def read_span_examples(path: str, data: dict) -> list[dict]:
    """Read a relation split: tokens, entity spans and relations (JSONL, a JSON
    array, or a hub split with those columns)."""
    fmt = data["format"] if data["format"] != "auto" else detect_format(path, "spans")
    if fmt not in ("jsonl", "hf"):
        raise WorkbenchError(
            f"{path}: relation data must be JSON records (.jsonl or a .json "
            f"array) with tokens, entities and relations"
        )
    rows, _names = _records(path, fmt, data)
    examples = []
    for number, obj in rows:
        loc = where(path, number)
        tokens = column(obj, data["tokens_column"], loc)
        if not isinstance(tokens, list) or not tokens:
            raise WorkbenchError(f"{loc}: tokens must be a non-empty list")
        entities = read_entities(obj, data["entities_column"], tokens, loc)
        relations = read_relations(obj, data["relations_column"], entities, loc)
        examples.append(
            {
                "tokens": [str(t) for t in tokens],
                "entities": entities,
                "relations": relations,
                "line": number,
            }
        )
    return examples


READERS = {"tokens": read_token_examples, "text": read_text_examples, "spans": read_span_examples}


def read_examples(path: str, data: dict, kind: str) -> list[dict]:
    """Read one split of ``kind`` 'tokens', 'text' or 'spans'; an empty file is an error."""
    try:
        examples = READERS[kind](path, data)
    except UnicodeDecodeError as exc:
        raise WorkbenchError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except (OSError, EOFError) as exc:  # e.g. a truncated .gz
        raise WorkbenchError(f"{path}: cannot read ({exc})") from None
    if not examples:
        raise WorkbenchError(f"{path}: no examples in file")
    return examples
