"""The `workbench kg` subcommands that change what the graph says: infer (rules mined
from the graph propose triples), accept and reject (people judge them),
merge-candidates, merge and split (which names are one entity), and remove."""

from __future__ import annotations

import json

from workbench.cli import kg_journal
from workbench.cli.common import graph_option, positive, print_listing, warn
from workbench.errors import WorkbenchError


def register(kg_sub) -> None:
    """Adds these subcommands to the kg group's ``kg_sub``."""
    infer = kg_sub.add_parser(
        "infer",
        help="propose relations the graph lacks (rules mined from it, pairs named together)",
        description="Mine rules from the graph's relations (chains of one or two "
        "relations that predict a third) and find pairs of entities a sentence or a "
        "document names together whose types fit a relation; rank them with a scorer "
        "learned from the graph itself (some of its facts hidden, then found back), "
        "and store the proposals apart from the evidence, each with its explanation "
        "(the rule's chain of facts, or the sentence). --list shows them; "
        "kg accept / kg reject decide.",
    )
    graph_option(infer)
    infer.add_argument("--list", action="store_true", help="show the stored proposals only")
    infer.add_argument(
        "--judged", action="store_true", help="show what people accepted and rejected"
    )
    infer.add_argument(
        "--method",
        choices=("rules", "embeddings", "both"),
        default="rules",
        help="rules (default), PyKEEN embeddings (the reason extra), or both",
    )
    infer.add_argument("--min-support", type=int, default=2, metavar="N")
    infer.add_argument("--min-confidence", type=float, default=0.1, metavar="C")
    infer.add_argument("--min-score", type=float, default=0.2, metavar="S")
    infer.add_argument("--limit", type=int, default=20, help="proposals to print (default 20)")
    infer.add_argument("--rules", action="store_true", help="print the mined rules too")
    infer.add_argument("--json", action="store_true", help="one JSON object a line")
    infer.set_defaults(kg_handler=kg_infer)

    for verb, what, verdict in (
        ("accept", "a person states it", "accepted"),
        ("reject", "never proposed again", "rejected"),
    ):
        judge = kg_sub.add_parser(verb, help=f"{verb} inferred triples by number ({what})")
        judge.add_argument("ids", nargs="+", type=int, metavar="ID", help="numbers from kg infer")
        graph_option(judge)
        judge.set_defaults(kg_handler=_kg_judge(verdict))

    candidates = kg_sub.add_parser(
        "merge-candidates", help="pairs of entities that may be one (to review, then kg merge)"
    )
    graph_option(candidates)
    candidates.add_argument("--limit", type=int, default=30)
    candidates.add_argument("--json", action="store_true", help="one JSON object a line")
    candidates.set_defaults(kg_handler=kg_candidates)

    merge = kg_sub.add_parser(
        "merge",
        help="merge entity A into B (kept across rebuilds; kg undo takes it back)",
    )
    merge.add_argument("a", metavar="A", help="#id or name: the entity that goes")
    merge.add_argument("b", metavar="B", help="#id or name: the entity that stays")
    merge.add_argument(
        "--any-type", action="store_true", help="merge even when the two types differ"
    )
    graph_option(merge)
    merge.set_defaults(kg_handler=kg_merge)

    split = kg_sub.add_parser("split", help="undo merges into an entity")
    split.add_argument("entity", metavar="ENTITY", help="#id or name")
    split.add_argument("--name", help="undo only the merge of this name (default: all)")
    graph_option(split)
    split.set_defaults(kg_handler=kg_split)

    remove = kg_sub.add_parser("remove", help="remove documents and whatever only they supported")
    remove.add_argument("documents", nargs="+", metavar="DOCUMENT", help="key or source file")
    graph_option(remove)
    remove.set_defaults(kg_handler=kg_remove)

    kg_journal.register(kg_sub)


def kg_infer(args, graph, console) -> int:
    from workbench.kg.present import inferred_view, rules_table

    positive("--limit", args.limit)
    if args.judged:
        from rich.text import Text

        from workbench.kg.present import triple_text

        judged = graph.decisions.judgements()
        if args.json:
            for j in judged:
                print(json.dumps(j, ensure_ascii=False))
        for j in [] if args.json else judged:
            console.print(
                Text.assemble(
                    f"{j['verdict']} ",
                    triple_text(j["head"], j["type"], j["tail"]),
                    f"  (#{j['proposal']}, {j['time']})",
                ),
                highlight=False,
            )
        if not judged and not args.json:
            console.print("nothing accepted or rejected yet", highlight=False)
        return 0
    if not args.list:
        from workbench.kg.infer import InferSettings, run_inference

        positive("--min-support", args.min_support)
        for name, value in (
            ("--min-confidence", args.min_confidence),
            ("--min-score", args.min_score),
        ):
            if not 0.0 <= value <= 1.0:  # also refuses nan
                raise WorkbenchError(f"{name} {value}: must be between 0 and 1")
        if args.method != "rules":
            from workbench.kg.linkpredict import require

            require()
        result = run_inference(
            graph,
            InferSettings(
                method=args.method,
                min_support=args.min_support,
                min_confidence=args.min_confidence,
                min_score=args.min_score,
            ),
        )
        if not args.json:
            console.print(
                f"{len(result['rules'])} rules mined from {result['facts']} facts; "
                f"{result['proposed']} triples proposed ({result['method']})",
                highlight=False,
            )
            scorer = result.get("scorer")
            if scorer:
                console.print(
                    f"ranked by a scorer learned from this graph: {scorer['hidden']} of its "
                    f"facts hidden over {scorer['draws']} draws, {scorer['found']} of them "
                    "found again among the candidates",
                    highlight=False,
                )
            elif result["method"] != "embeddings":
                console.print(
                    "ranked by the rules' confidence: too few facts to learn a scorer from",
                    highlight=False,
                )
            if args.rules and result["rules"]:
                console.print(rules_table(result["rules"]))
    proposals = graph.decisions.inferred(limit=args.limit)
    if args.json:
        for p in proposals:
            print(json.dumps(p, ensure_ascii=False))
    elif proposals:
        console.print(inferred_view(proposals), highlight=False)
        console.print(
            "accept or reject by number: workbench kg accept ID… / kg reject ID…",
            highlight=False,
        )
    elif args.list:
        console.print("no inferred triples stored; run workbench kg infer", highlight=False)
    return 0


def _kg_judge(verdict: str):
    def judge(args, graph, console) -> int:
        from rich.text import Text

        from workbench.kg.present import triple_text

        for number in args.ids:
            p = graph.decisions.judge(number, verdict)
            console.print(
                Text.assemble(
                    f"{verdict} #{number}: ", triple_text(p["head"], p["type"], p["tail"])
                ),
                highlight=False,
            )
        return 0

    return judge


def kg_candidates(args, graph, console) -> int:
    from workbench.kg.present import candidates_table
    from workbench.kg.resolution import merge_candidates

    positive("--limit", args.limit)
    found = merge_candidates(graph, limit=args.limit)
    print_listing(
        args.json,
        console,
        found,
        candidates_table,
        "merge one: workbench kg merge '#FROM' '#INTO'",
        "no merge candidates",
    )
    return 0


def kg_merge(args, graph, console) -> int:
    from workbench.kg.normalize import entity_label

    a, b = _one_entity(graph, args.a), _one_entity(graph, args.b)
    done = graph.decisions.merge(
        a["id"], b["id"], any_type=args.any_type, embedder=_embedder(graph)
    )
    console.print(
        f"merged {entity_label(a['name'], a['type'])} #{a['id']} into "
        f"{entity_label(b['name'], b['type'])} #{b['id']} ({done['mentions']} mentions moved; "
        f"kept across rebuilds; undo: workbench kg undo)",
        highlight=False,
        markup=False,
    )
    return 0


def _embedder(graph):
    """The encoder of the graph's entity vectors, so a merge or split re-embeds the
    profiles it changes; None when the graph has none. One that cannot be loaded
    here is a warning: the decision goes ahead, and the next kg build re-embeds."""
    models = graph.vectors.embedding_models()
    if not models:
        return None
    from workbench.kg.embed import Embedder

    try:
        return Embedder(models[0])
    except WorkbenchError as exc:
        warn([f"{exc}; entity vectors not refreshed (the next kg build does it)"])
        return None


def _one_entity(graph, ref: str) -> dict:
    """``resolve`` for a change: a name two entities share (Zara the person, Zara
    the company) is refused, not guessed; an #id picks one."""
    from workbench.kg.normalize import entity_label, normalize_name

    if not ref.strip().startswith("#"):
        named = graph.queries.by_name(normalize_name(ref))
        if len(named) > 1:
            which = ", ".join(f"{entity_label(e['name'], e['type'])} #{e['id']}" for e in named)
            raise WorkbenchError(f"{ref!r} names {len(named)} entities ({which}); give an #id")
    return graph.queries.resolve(ref)


def kg_split(args, graph, console) -> int:
    from workbench.kg.normalize import entity_label

    entity = _one_entity(graph, args.entity)
    for e in graph.decisions.split(entity["id"], args.name, embedder=_embedder(graph)):
        console.print(
            f"split {entity_label(e['name'], e['type'])} #{e['id']} out of "
            f"{entity_label(entity['name'], entity['type'])}",
            highlight=False,
            markup=False,
        )
    return 0


def kg_remove(args, graph, console) -> int:
    keys = [graph.ingest.find_document(ref) for ref in args.documents]  # every name checked first
    with graph.transaction():
        for key in keys:
            graph.ingest.remove_document(key, withdraw=False)
        graph.decisions.withdraw_unsupported()  # once, not once a document: it reads every relation
    for key in keys:
        console.print(f"removed {key}", highlight=False, markup=False)
    console.print(
        "(a document still in its corpus comes back on the next kg build of that corpus)",
        highlight=False,
    )
    return 0
