"""Tagging schemes: detect IOB1 / BIO / BIOES / BMES and convert them all to BIO."""

from __future__ import annotations

from workbench.errors import WorkbenchError

PREFIXES = {"B", "I", "E", "S", "M"}


def split_tag(tag: str) -> tuple[str, str | None]:
    """``'B-PER'`` -> ``('B', 'PER')``; ``'O'`` -> ``('O', None)``."""
    if tag == "O":
        return "O", None
    prefix, sep, kind = tag.partition("-")
    if not sep or prefix not in PREFIXES or not kind:
        raise ValueError(tag)
    return prefix, kind


def check_tag(tag: str, loc: str) -> None:
    """Raise a user error naming ``loc`` unless ``tag`` looks like O or X-TYPE."""
    try:
        split_tag(tag)
    except ValueError:
        raise WorkbenchError(
            f"{loc}: tag {tag!r} is not 'O' or PREFIX-TYPE with a prefix of B, I, E, S or M"
        ) from None


def detect_scheme(sentences: list[list[str]]) -> str:
    """Guess the scheme of a corpus: 'bioes' if any E-/S-/M- tag, 'iob1' if an
    entity starts with I-, else 'bio'."""
    iob1 = False
    for tags in sentences:
        prev_kind = None
        for tag in tags:
            prefix, kind = split_tag(tag)
            if prefix in {"E", "S", "M"}:
                return "bioes"
            if prefix == "I" and prev_kind != kind:
                iob1 = True
            prev_kind = kind
    return "iob1" if iob1 else "bio"


def to_bio(tags: list[str], scheme: str) -> list[str]:
    """Convert one sentence's tags from ``scheme`` to BIO (IOB2)."""
    if scheme == "bio":
        return list(tags)
    out: list[str] = []
    prev_kind = None
    for tag in tags:
        prefix, kind = split_tag(tag)
        if prefix == "O":
            out.append("O")
        elif prefix in {"B", "S"}:
            out.append(f"B-{kind}")
        elif prefix in {"E", "M", "I"}:
            # An inside tag that does not continue an entity of its kind starts one
            # (IOB1, or a sloppy BIOES file).
            out.append(f"I-{kind}" if prev_kind == kind else f"B-{kind}")
        # S- and E- close the entity: the next I-/M- of the same kind starts afresh.
        prev_kind = None if prefix in {"O", "S", "E"} else kind
    return out
