"""Rich renderables for the `workbench kg` commands: search hits, an entity,
paths, stats. Plain data in (the dicts Graph returns), renderables out, so
the CLI stays thin and the same views could serve elsewhere.

No meaning rides on colour alone: directions are arrows, highlights are bold
and underlined.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from workbench.kg.normalize import entity_label

HIGHLIGHT = "bold underline"


def _ref(entity: dict) -> str:
    return f"{entity_label(entity['name'], entity['type'])} #{entity['id']}"


def _table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    return table


def _add(table: Table, *cells) -> None:
    """A row whose text cells are plain text: names and sentences come from documents
    and users, and a ``[/x]`` in them is not Rich markup."""
    table.add_row(*(Text(c) if isinstance(c, str) else c for c in cells))


def highlighted(sentence: str, *spans: tuple[int, int]) -> Text:
    """The sentence with each (start, end) span stylised; bad spans are ignored."""
    text = Text(sentence)
    for start, end in spans:
        if 0 <= start < end <= len(sentence):
            text.stylize(HIGHLIGHT, start, end)
    return text


def search_table(hits: list[dict], semantic: bool) -> Table:
    """One row a hit: id, name, type, mentions, relations, and what matched (or the score)."""
    last = "score" if semantic else "via alias"
    table = _table(
        "id",
        "name",
        "type",
        "mentions",
        "relations",
        last,
        right=("id", "mentions", "relations", "score"),
    )
    for hit in hits:
        if semantic:
            extra = f"{hit['score']:.3f}"
        else:
            extra = "" if hit["match"] == hit["name"] else hit["match"]
        _add(
            table,
            f"#{hit['id']}",
            hit["name"],
            hit["type"],
            str(hit["mentions"]),
            str(hit["relations"]),
            extra,
        )
    return table


def entity_view(detail: dict) -> Group:
    """Header, aliases, relations both ways (with their best evidence) and mentions."""
    parts: list = [
        Text.assemble(
            (detail["name"], "bold"),
            f" ({detail['type']}) #{detail['id']} · {detail['mentions_total']} mentions",
        )
    ]
    others = [a for a in detail["aliases"] if a["text"] != detail["name"]]
    if others:
        parts.append(
            Text("also written: " + ", ".join(f"{a['text']} ({a['count']})" for a in others))
        )
    relations = [(True, r) for r in detail["outgoing"]] + [(False, r) for r in detail["incoming"]]
    if relations:
        table = _table(
            "", "relation", "entity", "count", "score", "evidence", right=("count", "score")
        )
        for forward, r in relations:
            evidence = r["evidence"][0] if r["evidence"] else None
            sentence = (
                highlighted(
                    evidence["sentence"],
                    (evidence["head_start"], evidence["head_end"]),
                    (evidence["tail_start"], evidence["tail_end"]),
                )
                if evidence
                else Text("")
            )
            _add(
                table,
                "→" if forward else "←",
                r["type"],
                _ref(r["other"]),
                str(r["count"]),
                f"{r['score']:.2f}",
                sentence,
            )
        parts += [Text(""), Text("relations (→ this entity is the head, ← the tail)"), table]
    for title, facts in (
        ("accepted by a person", detail.get("accepted", [])),
        ("inferred (kg infer; not evidence)", detail.get("inferred", [])),
    ):
        if facts:
            parts += [Text(""), Text(title)]
            for fact in facts:
                number = f"#{fact['id']} " if "id" in fact else ""
                score = f"  score {fact['score']:.2f}" if "score" in fact else ""
                parts.append(
                    Text(number)
                    .append_text(triple_text(fact["head"], fact["type"], fact["tail"]))
                    .append(score)
                )
    if detail["mentions"]:
        table = _table("document", "sentence", "score", right=("score",))
        for m in detail["mentions"]:
            _add(
                table,
                m["document"],
                highlighted(m["sentence"], (m["start"], m["end"])),
                f"{m['score']:.2f}",
            )
        shown = len(detail["mentions"])
        title = (
            f"mentions ({shown} of {detail['mentions_total']})"
            if shown < detail["mentions_total"]
            else "mentions"
        )
        parts += [Text(""), Text(title), table]
    return Group(*parts)


def step_arrow(step: dict) -> str:
    """``—works_for→`` or ``←based_in—``: a relation, pointing the way it goes."""
    return f"—{step['type']}→" if step["forward"] else f"←{step['type']}—"


def chain_text(chain: list[dict]) -> Text:
    """``A (PER) —works_for→ B (ORG) ←based_in— C (LOC)``: arrows follow the relation
    (`kg path` and the Graph screen alike)."""
    text = Text(entity_label(chain[0]["from"]["name"], chain[0]["from"]["type"]))
    for step in chain:
        text.append(f" {step_arrow(step)} ", style="bold")
        text.append(entity_label(step["to"]["name"], step["to"]["type"]))
    return text


TEXT_COUNTS = ("documents", "sentences", "mentions")
GRAPH_COUNTS = ("entities", "relations", "evidence")


def _counts(stats: dict, keys: tuple[str, ...] = TEXT_COUNTS + GRAPH_COUNTS) -> str:
    return " · ".join(f"{stats[k]} {k}" for k in keys)


def _storage(stats: dict) -> str:
    return f"{stats['embedded']} embedded · {stats['size_bytes'] / 1e6:.1f} MB"


def stats_line(stats: dict) -> Text:
    """``graph.sqlite: 3 documents · ... · 0.1 MB`` in one line."""
    return Text(f"{stats['path']}: {_counts(stats)} · {_storage(stats)}")


def build_view(summary: dict) -> Group:
    """What build_graph reports: its numbers, then the graph's totals."""
    table = Table(show_header=False, show_edge=False, pad_edge=False, box=None)
    table.add_column(justify="left")
    table.add_column(justify="right")
    for key, value in summary.items():
        if isinstance(value, dict):
            continue
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        _add(table, str(key).replace("_", " "), shown)
    parts: list = [table]
    if isinstance(summary.get("stats"), dict) and "path" in summary["stats"]:
        parts.append(stats_line(summary["stats"]))
    return Group(*parts)


def stats_view(stats: dict, compact: bool = False) -> Group:
    """The graph's statistics: counts, entities and relations by type, the top
    entities, the builds. The one view for `kg stats` and the Graph screen, whose
    narrow pane asks for ``compact``: types on a line each, ten top entities without
    ids, the last three builds as lines instead of tables."""
    if compact:  # the screen's title names the file
        parts: list = [
            Text(_counts(stats, TEXT_COUNTS), style="bold"),
            Text(_counts(stats, GRAPH_COUNTS), style="bold"),
            Text(_storage(stats), style="dim"),
        ]
    else:
        parts = [stats_line(stats)]
    decided = stats.get("decisions") or {}
    if any(decided.values()):
        parts.append(
            Text(
                f"{decided.get('inferred', 0)} inferred (kg infer --list) · "
                f"{decided.get('accepted', 0)} accepted · {decided.get('rejected', 0)} rejected · "
                f"{decided.get('merges', 0)} merges",
                style="dim" if compact else "",
            )
        )
    for key, title in (("entities_by_type", "entity type"), ("relations_by_type", "relation type")):
        by_type = stats.get(key) or {}
        if not by_type:
            continue
        if compact:
            line = Text(f"{title}: ", style="bold")
            parts.append(
                line.append(" · ".join(f"{t} {n}" for t, n in by_type.items()), "not bold")
            )
            continue
        table = _table(title, "count", right=("count",))
        for name, n in by_type.items():
            _add(table, name, str(n))
        parts += [Text(""), table]
    top = stats.get("top_entities") or []
    if top:
        columns = ("top entities", "type", "mentions", "relations")
        table = _table(*(columns if compact else ("id", *columns)), right=_COUNTS)
        for e in top[:10] if compact else top:
            cells = (e["name"], e["type"], str(e["mentions"]), str(e["relations"]))
            _add(table, *(cells if compact else (f"#{e['id']}", *cells)))
        parts += [Text(""), table]
    builds = stats.get("builds") or []
    if builds and compact:
        parts.append(Text(""))
        parts += [Text(_build_line(b), style="dim") for b in builds[-3:]]
    elif builds:
        table = _table(
            "build",
            "time",
            "ner run",
            "relation run",
            "corpus",
            "added",
            "skipped",
            right=("build", "added", "skipped"),
        )
        for b in builds:
            _add(
                table,
                str(b["id"]),
                _when(b),
                b["ner_run"],
                b["relation_run"] or "-",
                b["corpus"],
                _num(b["documents_added"]),
                _num(b["documents_skipped"]),
            )
        parts += [Text(""), table]
    return Group(*parts)


_COUNTS = ("id", "mentions", "relations")


def _when(build: dict) -> str:
    return (build.get("time") or "")[:16].replace("T", " ")


def _build_line(build: dict) -> str:
    """``build 2 · 2026-11-30 12:00 · ner X · relations Y · corpus · +3 (1 unchanged)``."""
    return (
        f"build {build['id']} · {_when(build)} · ner {build['ner_run']} · "
        f"relations {build['relation_run'] or '-'} · {build['corpus']} · "
        f"+{_num(build['documents_added'])} documents "
        f"({_num(build['documents_skipped'])} unchanged)"
    )


def _num(value) -> str:
    return "-" if value is None else str(value)  # a build that did not finish


# ------------------------------------------------------- reasoning and people


def triple_text(head: dict, relation: str, tail: dict) -> Text:
    """``Aiko Karimi (PER) —lives_in→ Valencia (LOC)``."""
    return Text.assemble(
        entity_label(head["name"], head["type"]),
        (f" —{relation}→ ", "bold"),
        entity_label(tail["name"], tail["type"]),
    )


def explanation_lines(explanation: list[dict]) -> list[Text]:
    """Why a triple was proposed: each rule with its confidence and support and
    the chains of facts that fired it; the embedding model's ranking; notes."""
    lines = []
    for note in explanation:
        if note.get("kind") == "rule":
            lines.append(
                Text(
                    f"rule {note['rule']}  (confidence {note['confidence']:.2f}, "
                    f"PCA {note['pca_confidence']:.2f}, support {note['support']})"
                )
            )
            for chain in note.get("chains", []):
                text = Text("  because ")
                for n, step in enumerate(chain):
                    if n:
                        text.append(" and ")
                    text.append_text(triple_text(step["head"], step["type"], step["tail"]))
                    if step.get("accepted"):
                        text.append(" (accepted by a person)")
                lines.append(text)
        elif note.get("kind") == "embedding":
            lines.append(
                Text(
                    f"{note['model']} embeddings rank it {note['rank']} of {note['of']} "
                    f"(probability {note['probability']:.2f})"
                )
            )
        elif note.get("note"):
            lines.append(Text(f"note: {note['note']}"))
    return lines


def inferred_view(proposals: list[dict]) -> Group:
    """Numbered proposals, each with its explanation (`kg infer --list`)."""
    parts: list = []
    for p in proposals:
        parts.append(
            Text.assemble(
                (f"#{p['id']} ", "bold"),
                triple_text(p["head"], p["type"], p["tail"]),
                f"  score {p['score']:.2f} · {p['method']} · inferred",
            )
        )
        parts += [Text("    ").append_text(line) for line in explanation_lines(p["explanation"])]
    return Group(*parts)


def rules_table(rules: list, limit: int = 20) -> Table:
    """The mined rules, best first."""
    table = _table("rule", "support", "confidence", "PCA", right=("support", "confidence", "PCA"))
    for rule in rules[:limit]:
        _add(
            table,
            rule.text(),
            str(rule.support),
            f"{rule.confidence:.2f}",
            f"{rule.pca_confidence:.2f}",
        )
    return table


def candidates_table(candidates: list[dict]) -> Table:
    """Merge candidates: which entity would merge into which, and why."""
    table = _table("merge", "into", "type", "score", "why", right=("score",))
    for c in candidates:
        _add(
            table,
            f"{c['from']['name']} #{c['from']['id']}",
            f"{c['into']['name']} #{c['into']['id']}",
            c["into"]["type"],
            f"{c['score']:.2f}",
            "; ".join(c["reasons"]),
        )
    return table


def decisions_table(entries: list[dict]) -> Table:
    """People's decisions (kg decisions list), newest first, with their numbers."""
    table = _table("#", "kind", "decision", "time", "state", right=("#",))
    for e in entries:
        if e["undone"]:
            state = "undone"  # when: in --json
        else:  # a build since: kg undo would go by the decision's meaning
            state = "stands" if e["exact"] else "stands (undo by meaning)"
        _add(table, str(e["id"]), e["kind"], e["text"], e["time"], state)
    return table


def answer_view(reply: dict) -> Group:
    """`kg ask`'s reply: the answers with their evidence, or "I don't know" and why."""
    if not reply["known"]:
        reason = reply["reason"]  # "I don't know which person you mean: …" says it already
        said = reason if reason.startswith("I don't know") else f"I don't know: {reason}"
        lines = [Text(f"{said}.")]
        if reply.get("candidates"):
            lines.append(Text("Did you mean one of these? Ask again with the whole name.", "dim"))
            for c in reply["candidates"]:
                lines.append(Text(f"• {entity_label(c['name'], c['type'])}  #{c['id']}"))
        elif reply.get("readings"):
            lines.append(Text("The readings nearest the question:", "dim"))
            for r in reply["readings"]:
                lines.append(Text(f"• {r['chain']}  {r['probability']:.0%}", "dim"))
        return Group(*lines)
    parts: list = [
        Text.assemble(
            (", ".join(a["entity"]["name"] for a in reply["answers"]), "bold"),
            f"   (confidence {reply['confidence']:.2f}; read as: {reply['reason']})",
        )
    ]
    for answer in reply["answers"]:
        kind = "" if answer["kind"] == "extracted" else f" · {answer['kind']}"
        parts.append(
            Text(
                f"• {entity_label(answer['entity']['name'], answer['entity']['type'])}"
                f"  {answer['confidence']:.2f}{kind}"
            )
        )
        for step in answer["steps"]:
            head, tail = (
                (step["from"], step["to"]) if step["forward"] else (step["to"], step["from"])
            )
            line = Text("    ").append_text(triple_text(head, step["type"], tail))
            parts.append(line)
            for ev in step.get("evidence", []):
                parts.append(
                    Text("      “")
                    .append_text(
                        highlighted(
                            ev["sentence"],
                            (ev["head_start"], ev["head_end"]),
                            (ev["tail_start"], ev["tail_end"]),
                        )
                    )
                    .append(f"” ({ev['document']})")
                )
            for extra in explanation_lines(step.get("explanation", [])):
                parts.append(Text("      ").append_text(extra))
    return Group(*parts)
