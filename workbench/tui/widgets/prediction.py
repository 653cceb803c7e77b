"""What a model made of a text, as Rich renderables: entities marked inline,
or class probabilities as bars."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from workbench.reports import BOX

# Background styles per entity type, cycled; the label is always written beside
# the entity too, so the highlight is never the only carrier of meaning.
STYLES = (
    "black on cyan",
    "black on yellow",
    "black on green",
    "black on magenta",
    "black on bright_blue",
    "black on bright_red",
    "black on white",
)


def _label_styles(labels: list[str]) -> dict[str, str]:
    return {label: STYLES[i % len(STYLES)] for i, label in enumerate(sorted(set(labels)))}


def entities_text(result: dict[str, Any]) -> Text:
    """The text with each entity highlighted and followed by ``[LABEL 0.98]``."""
    text = result["text"]
    entities = sorted(result.get("entities", []), key=lambda e: e["start"])
    styles = _label_styles([e["label"] for e in entities])
    out = Text()
    position = 0
    for entity in entities:
        if entity["start"] < position:  # overlapping spans: keep the first
            continue
        out.append(text[position : entity["start"]])
        style = styles[entity["label"]]
        out.append(text[entity["start"] : entity["end"]], style=style)
        score = f" {entity['score']:.2f}" if "score" in entity else ""
        out.append(f" [{entity['label']}{score}]", style="bold")
        position = entity["end"]
    out.append(text[position:])
    return out


def entities_table(result: dict[str, Any]) -> Table:
    """One row an entity: text, label, score, character span."""
    table = Table(show_edge=False, pad_edge=False, expand=False, box=BOX)
    for column in ("entity", "label", "score", "chars"):
        table.add_column(column, justify="right" if column in ("score", "chars") else "left")
    styles = _label_styles([e["label"] for e in result.get("entities", [])])
    for e in result.get("entities", []):
        table.add_row(
            Text(e["text"], style=styles[e["label"]]),
            Text(e["label"]),
            f"{e['score']:.2f}",
            f"{e['start']}-{e['end']}",
        )
    return table


def probabilities_table(result: dict[str, Any], width: int = 30) -> Table:
    """Each class with a bar as long as its probability, the most likely first."""
    table = Table(show_edge=False, pad_edge=False, show_header=False, expand=False, box=None)
    table.add_column("class")
    table.add_column("bar")
    table.add_column("p", justify="right")
    probabilities = sorted(result.get("probabilities", {}).items(), key=lambda kv: -kv[1])
    for label, p in probabilities:
        filled = p * width
        bar = "█" * int(filled) + ("▌" if filled - int(filled) >= 0.5 else "")
        marker = "▶ " if label == result.get("label") else "  "
        table.add_row(
            Text(marker + label, style="bold" if marker.strip() else ""),
            Text(bar.ljust(width), style="green" if marker.strip() else "blue"),
            f"{100 * p:5.1f}%",
        )
    return table


def relations_table(result: dict[str, Any]) -> Table:
    """One row a predicted relation: head, relation (an arrow for the direction), tail, score."""
    table = Table(show_edge=False, pad_edge=False, expand=False, box=BOX)
    for column in ("head", "relation", "tail", "score"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for r in result.get("relations", []):
        table.add_row(
            Text(r["head_text"]), Text(f"—{r['type']}→"), Text(r["tail_text"]), f"{r['score']:.2f}"
        )
    return table
