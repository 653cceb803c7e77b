"""`workbench kg`: the command group, its dispatch (every subcommand but build and
decisions import opens an existing graph), and the subcommands that build, read and
export the graph. The ones that change what it says (infer, accept, reject,
merge-candidates, merge, split, remove) are in kg_decisions.py; undo and decisions
(list, export, import) in kg_journal.py."""

from __future__ import annotations

import json

from workbench.cli import kg_decisions
from workbench.cli.common import graph_option, model_run, positive, warn
from workbench.errors import WorkbenchError


def register(sub) -> None:
    """Adds the kg group and all its subcommands to ``sub``."""
    kg = sub.add_parser(
        "kg",
        help="build, search and export a knowledge graph",
        description="A knowledge graph in one SQLite file: entities and "
        "relations a run's models extract from a corpus.",
    )
    kg_sub = kg.add_subparsers(dest="kg_command", metavar="SUBCOMMAND", required=True)
    kg.set_defaults(handler=cmd_kg)  # it opens the graph for each subcommand's kg_handler

    build = kg_sub.add_parser(
        "build",
        help="extract entities (and relations) from a corpus into the graph",
        description="Run an NER model (and a relation model) over a "
        "corpus; documents already in the graph unchanged "
        "are skipped, changed ones replaced.",
    )
    build.add_argument("--ner", required=True, metavar="RUN", help="NER run or model folder")
    build.add_argument("--relations", metavar="RUN", help="relation run or model folder")
    build.add_argument(
        "--corpus",
        required=True,
        metavar="PATH",
        help="text file, folder of text files, or JSONL corpus",
    )
    graph_option(build)
    build.add_argument(
        "--threshold", type=float, default=0.5, help="minimum score kept (default 0.5)"
    )
    build.add_argument("--batch-size", type=int, default=32)
    build.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    build.add_argument(
        "--no-embeddings",
        action="store_true",
        help="skip the entity embeddings semantic search needs",
    )
    build.add_argument(
        "--events",
        action="store_true",
        help="progress as JSON lines on standard output (for programs; the TUI uses it)",
    )

    search = kg_sub.add_parser("search", help="find entities by name, or by meaning")
    search.add_argument("text", metavar="TEXT")
    graph_option(search)
    search.add_argument(
        "--semantic",
        action="store_true",
        help="rank by meaning (sentence embeddings) instead of by name",
    )
    search.add_argument("--type", metavar="T", help="only entities of this type")
    search.add_argument("--limit", type=int, default=20)
    search.add_argument("--json", action="store_true", help="one JSON object a line")
    search.set_defaults(kg_handler=kg_search)

    show = kg_sub.add_parser("show", help="one entity: aliases, relations, mentions")
    show.add_argument("entity", metavar="ENTITY", help="#id, id or name")
    graph_option(show)
    show.add_argument(
        "--mentions", type=int, default=10, metavar="N", help="mentions to list (default 10)"
    )
    show.add_argument("--json", action="store_true")
    show.set_defaults(kg_handler=kg_show)

    path = kg_sub.add_parser("path", help="shortest chains of relations between two entities")
    path.add_argument("a", metavar="A")
    path.add_argument("b", metavar="B")
    graph_option(path)
    path.add_argument("--max-hops", type=int, default=4)
    path.add_argument("--limit", type=int, default=5)
    path.add_argument("--json", action="store_true", help="one JSON array (a chain) a line")
    path.set_defaults(kg_handler=kg_path)

    stats = kg_sub.add_parser("stats", help="what the graph holds, and how it was built")
    graph_option(stats)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(kg_handler=kg_stats)

    kg_decisions.register(kg_sub)

    ask = kg_sub.add_parser(
        "ask",
        help="ask the graph a question in plain language",
        description="Finds the entity the question names and the relation it asks "
        "about, answers with the evidence sentences, or says it does not know.",
    )
    ask.add_argument("question", metavar="QUESTION")
    graph_option(ask)
    ask.add_argument("--json", action="store_true")
    ask.set_defaults(kg_handler=kg_ask)

    export = kg_sub.add_parser(
        "export",
        help="write the graph for other tools",
        description="jsonl: one entity or relation a line; csv: a "
        "folder for neo4j-admin import; graphml: for "
        "networkx, Gephi, yEd.",
    )
    graph_option(export)
    export.add_argument("--format", required=True, choices=("jsonl", "csv", "graphml"))
    export.add_argument(
        "--output",
        metavar="PATH",
        help="file (a folder for csv; - for standard output); default: named after the graph",
    )
    export.set_defaults(kg_handler=kg_export)


def _show(args, console, value, view) -> int:
    """``value`` as JSON with --json, else ``view(value)`` as Rich output."""
    if args.json:
        print(json.dumps(value, ensure_ascii=False, indent=2))
    else:
        console.print(view(value), highlight=False)
    return 0


def cmd_kg(args) -> int:
    """`workbench kg SUB`: every subcommand but build needs an existing graph. A locked
    or full database, or an unwritable export target, is one line, not a traceback."""
    import sqlite3

    try:
        if args.kg_command == "build":
            return kg_build(args)
        from workbench.console import PipeSafeConsole
        from workbench.kg.store import Graph

        if getattr(args, "kg_opens_graph", False):  # kg decisions import: it may create one
            return args.kg_handler(args, PipeSafeConsole())
        with Graph.open(args.graph, create=False) as graph:
            return args.kg_handler(args, graph, PipeSafeConsole())
    except sqlite3.Error as exc:
        raise WorkbenchError(f"{args.graph}: {exc}") from None
    except BrokenPipeError:
        raise  # a reader that closed its end (`| head`): not a file problem
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        raise WorkbenchError(f"{where}{exc.strerror or exc}") from None


def kg_build(args) -> int:
    from workbench.console import BuildBar, PipeSafeConsole

    if not 0.0 <= args.threshold <= 1.0:
        raise WorkbenchError(f"--threshold {args.threshold}: must be between 0 and 1")
    positive("--batch-size", args.batch_size)
    from workbench.kg.build import build_graph
    from workbench.kg.present import build_view

    console = PipeSafeConsole()
    ner = model_run(args.ner)
    relations = model_run(args.relations) if args.relations else None

    def build(progress):
        return build_graph(
            graph_path=args.graph,
            ner=ner,
            relations=relations,
            corpus=args.corpus,
            threshold=args.threshold,
            batch_size=args.batch_size,
            device=args.device,
            embeddings=not args.no_embeddings,
            progress=progress,
        )

    if args.events:
        from workbench.kg.build import end_event

        def emit(event) -> None:
            print(json.dumps(event.event()), flush=True)

        summary = build(emit) or {}
        warn(summary.get("warnings", []))
        print(json.dumps(end_event(summary)), flush=True)
        return 0
    with BuildBar(console) as bar:
        summary = build(bar)
    summary = summary or {}
    warn(summary.pop("warnings", []))  # not one of the summary's figures
    console.print(build_view(summary), highlight=False)
    return 0


def kg_search(args, graph, console) -> int:
    from workbench.kg.present import search_table

    positive("--limit", args.limit)
    if args.semantic:
        models = graph.vectors.embedding_models()
        if not models:
            raise WorkbenchError(
                f"{graph.path}: no entity embeddings; run workbench kg build "
                f"without --no-embeddings"
            )
        from workbench.kg.embed import Embedder

        hits = graph.vectors.search_semantic(
            args.text, Embedder(models[0]), limit=args.limit, type=args.type
        )
    else:
        hits = graph.queries.search(args.text, limit=args.limit, type=args.type)
    if args.json:
        for hit in hits:
            print(json.dumps(hit, ensure_ascii=False))
    elif hits:
        console.print(search_table(hits, semantic=args.semantic))
    else:
        console.print(f"no entity matches {args.text!r}", highlight=False, markup=False)
    return 0


def kg_show(args, graph, console) -> int:
    from workbench.kg.present import entity_view

    if args.mentions < 0:
        raise WorkbenchError("--mentions must be 0 or more")
    detail = graph.queries.entity(graph.queries.resolve(args.entity)["id"], mentions=args.mentions)
    return _show(args, console, detail, entity_view)


def kg_path(args, graph, console) -> int:
    from rich.text import Text

    from workbench.kg.normalize import entity_label
    from workbench.kg.present import chain_text

    positive("--max-hops", args.max_hops)
    positive("--limit", args.limit)
    a, b = graph.queries.resolve(args.a), graph.queries.resolve(args.b)
    if a["id"] == b["id"]:
        raise WorkbenchError(f"path: {args.a!r} and {args.b!r} are the same entity (#{a['id']})")
    chains = graph.queries.paths(a["id"], b["id"], max_hops=args.max_hops, limit=args.limit)
    if args.json:
        for chain in chains:
            print(json.dumps(chain, ensure_ascii=False))
    elif chains:
        for number, chain in enumerate(chains, 1):
            console.print(Text.assemble(f"{number}. ", chain_text(chain)), highlight=False)
    else:
        console.print(
            f"no path between {entity_label(a['name'], a['type'])} and "
            f"{entity_label(b['name'], b['type'])} within {args.max_hops} hops",
            highlight=False,
        )
    return 0


def kg_stats(args, graph, console) -> int:
    from workbench.kg.present import stats_view

    return _show(args, console, graph.queries.stats(), stats_view)


def kg_export(args, graph, console) -> int:
    from workbench.kg.export import default_output, export_graph

    out = args.output or default_output(graph.path, args.format)
    for path in export_graph(graph, args.format, out):  # none for "-" (standard output)
        console.print(f"wrote {path}", highlight=False, soft_wrap=True, markup=False)
    return 0


def kg_ask(args, graph, console) -> int:
    from workbench.kg.ask import ask, check_question
    from workbench.kg.embed import Embedder
    from workbench.kg.present import answer_view

    check_question(args.question)  # an empty or huge question: one line, before the encoder loads
    models = graph.vectors.embedding_models()
    reply = ask(graph, args.question, Embedder(models[0] if models else "minilm")).to_dict()
    return _show(args, console, reply, answer_view)
