"""What the Annotate screen draws of a session, as Rich text: the sentence with its
entities (or its entity pair) marked, the decision as it stands, the label keys.
Everything marked is also written (brackets, types, "head"/"tail"), so nothing
depends on colour alone."""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Group
from rich.text import Text

from workbench.annotate.pairs import RELATION
from workbench.annotate.session import Session

# Entity colours by the type's place in the model's list.
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta")
# A pair's two ends: styles that differ without colour too (underline against italic).
ROLES = (("head", "bold underline cyan"), ("tail", "bold italic magenta"))
KEYED = 9  # labels the number keys reach; the picker (l) reaches the rest
HINTS = {
    "ner": "←→ word · shift+←→ select · 1-9 label · x remove · r reject · p model's · s skip",
    "classification": "1-9 choose the class · r reject · p the model's · s skip · Esc back",
    RELATION: "1-9 choose the relation · r reject · p the model's · s skip · Esc back",
}


def sentence_text(session: Session) -> Text:
    """The current sentence: entities bracketed with their type, the selection
    underlined, the cursor's word reversed; for a pair, its head and tail
    bracketed and named."""
    item = session.current
    text = Text()
    if item is None:
        return text
    if session.task == RELATION:
        return pair_text(session)
    if session.task != "ner":
        return Text(item.text)
    low, high = session.selection
    show_cursor = session.anchor is None
    for index, (word, _start, _end) in enumerate(item.words):
        entity = session.entity_at(index)
        if index:
            text.append(_gap(session, index))
        if entity is not None and entity["start"] == index:
            text.append("[", style="bold")
        style = ""
        if entity is not None:
            style = f"bold {colour_of(session, entity['type'])}"
        if low <= index < high and not show_cursor:
            style += " underline"
        if show_cursor and index == session.cursor:
            style += " reverse"
        text.append(word, style=style.strip())
        if entity is not None and entity["end"] - 1 == index:
            text.append(f"]{entity['type']}", style="bold")
    return text


def pair_text(session: Session) -> Text:
    """A pair's sentence: ``[Maria Rossi]head works for [Kestrel Bank]tail``."""
    item = session.current
    text = Text()
    if item is None:
        return text
    ends = list(zip(ROLES, item.entities[:2]))
    for index, (word, _start, _end) in enumerate(item.words):
        if index:
            text.append(_gap(session, index))
        inside = [(name, style) for (name, style), e in ends if e["start"] <= index < e["end"]]
        for (_name, style), entity in ends:
            if entity["start"] == index:
                text.append("[", style=style.split()[0])
        text.append(word, style=inside[0][1] if inside else "")
        for (name, style), entity in reversed(ends):
            if entity["end"] - 1 == index:
                text.append(f"]{name}", style=style.split()[0])
    return text


def _gap(session: Session, index: int) -> str:
    """What goes before word ``index``: a space, or for characters (of a
    character-level model) what the text has there: "我在 New York 工作" keeps its spaces."""
    item = session.current
    assert item is not None
    if session.level != "characters":
        return " "
    return item.text[item.words[index - 1][2] : item.words[index][1]]


def colour_of(session: Session, label: str) -> str:
    """A label's colour: by its place in the model's list (one it does not know,
    from an older decision, gets the first)."""
    place = session.labels.index(label) if label in session.labels else 0
    return COLOURS[place % len(COLOURS)]


def decision_view(session: Session) -> Text:
    """The decision as it stands: the entities with their scores, the chosen class,
    or the pair's two ends and its relation, with what the model thought."""
    item = session.current
    if item is None:
        return Text("")
    if session.task != "ner":
        text = Text()
        if session.task == RELATION:
            for (name, style), entity in zip(ROLES, item.entities[:2]):
                text.append(f"{name}  ", style="bold")
                text.append(_words(session, entity), style=style)
                text.append(f"  ({entity['type']})\n", style="dim")
        what = "relation" if session.task == RELATION else "class"
        text.append(f"{what}: ", style="bold")
        text.append(session.label or "(none chosen)", style="bold reverse")
        if item.probabilities:
            ranked = sorted(item.probabilities.items(), key=lambda kv: -kv[1])[:4]
            text.append(
                "   model: " + " · ".join(f"{k} {100 * v:.0f}%" for k, v in ranked), style="dim"
            )
        return text
    if not session.entities:
        return Text("no entities", style="dim")
    text = Text()
    proposed = {(e["type"], e["start"], e["end"]): e.get("score") for e in item.entities}
    for entity in session.entities:
        score = proposed.get((entity["type"], entity["start"], entity["end"]))
        # Padded by cells, not characters: a Chinese label is twice as wide.
        label = entity["type"]
        text.append(label + " " * max(0, 10 - cell_len(label)), style="bold")
        text.append(_words(session, entity))
        text.append(f"  {score:.2f}\n" if score is not None else "  (yours)\n", style="dim")
    return text


def _words(session: Session, entity: dict) -> str:
    """An entity's words as the text has them (a character-level model's spaces kept)."""
    item = session.current
    assert item is not None
    if session.level == "characters":
        first, last = item.words[entity["start"]], item.words[entity["end"] - 1]
        return item.text[first[1] : last[2]]
    return " ".join(item.tokens[entity["start"] : entity["end"]])


def labels_view(session: Session) -> Group:
    """The label keys (1-9), a word on the labels past the ninth, and the editing keys."""
    keys = Text("labels: ", style="bold")
    for number, label in enumerate(session.labels[:KEYED], start=1):
        colour = COLOURS[(number - 1) % len(COLOURS)] if session.task == "ner" else ""
        keys.append(f"{number} ", style="bold reverse")
        keys.append(f" {label}  ", style=colour)
    more = len(session.labels) - KEYED
    if more > 0:
        keys.append(f"… {more} more: ", style="bold")
        keys.append("l", style="bold reverse")
        keys.append(" lists all", style="bold")
    return Group(keys, Text(HINTS.get(session.task, HINTS["classification"]), style="dim"))
