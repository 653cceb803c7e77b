"""The `workbench kg` subcommands over people's decisions as a whole: undo (take the
last one, or one by number, back) and decisions (list, export, import)."""

from __future__ import annotations

import json

from workbench.cli.common import graph_option, positive, print_listing


def register(kg_sub) -> None:
    """Adds these subcommands to the kg group's ``kg_sub``."""
    undo = kg_sub.add_parser(
        "undo",
        help="undo the last decision (a merge, split, accept, reject or import), or one by number",
        description="Puts back every row the decision changed. A build, a document "
        "removed or a kg infer since makes that impossible: the decision is then "
        "taken back by its meaning (a merge is split, a verdict forgotten), and "
        "undo says so. --list shows the decisions and their numbers.",
    )
    undo.add_argument("id", nargs="?", type=int, metavar="ID", help="number from --list")
    undo.add_argument("--list", action="store_true", help="list the decisions instead")
    undo.add_argument("--json", action="store_true", help="one JSON object a line")
    graph_option(undo)
    undo.set_defaults(kg_handler=kg_undo)

    decisions = kg_sub.add_parser(
        "decisions",
        help="list people's decisions, or carry them to another graph (export, import)",
    )
    sub = decisions.add_subparsers(dest="decisions_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="the decisions, newest first, with their numbers")
    listing.add_argument("--limit", type=int, help="show only the newest N")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    graph_option(listing)
    listing.set_defaults(kg_handler=kg_decisions_list)

    export = sub.add_parser(
        "export", help="write the merges and verdicts as JSON lines, by names, oldest first"
    )
    export.add_argument(
        "file", nargs="?", default="-", metavar="FILE", help="file to write (default -: stdout)"
    )
    graph_option(export)
    export.set_defaults(kg_handler=kg_decisions_export)

    load = sub.add_parser(
        "import",
        help="apply a decisions file (a built graph now; an empty or new one at its build)",
    )
    load.add_argument("file", metavar="FILE", help="a file kg decisions export wrote (- : stdin)")
    graph_option(load)
    # It reads and checks the file before the graph is opened, and may create the graph.
    load.set_defaults(kg_handler=kg_decisions_import, kg_opens_graph=True)


def _entry_line(journal, e: dict) -> dict:
    """A decision as the list shows it: its words, and whether kg undo would put
    every row back ("exact") or go by its meaning."""
    from workbench.kg.undo import describe

    line = {k: v for k, v in e.items() if k != "epoch"}
    return {**line, "text": describe(e), "exact": e["undone"] is None and journal.exact(e)}


def kg_undo(args, graph, console) -> int:
    if args.list:
        return kg_decisions_list(args, graph, console)
    from workbench.kg.undo import undo

    done = undo(graph, args.id)
    if args.json:
        print(json.dumps(done, ensure_ascii=False))
        return 0
    head = f"undid #{done['id']} {done['kind']}: {done['text']}"
    if done["exact"]:
        console.print(f"{head} (every row as it was)", highlight=False, markup=False)
    else:
        console.print(
            f"{head}, by its meaning ({done['why']}): {'; '.join(done['done'])}",
            highlight=False,
            markup=False,
        )
    return 0


def kg_decisions_list(args, graph, console) -> int:
    from workbench.kg.present import decisions_table

    limit = getattr(args, "limit", None)
    if limit is not None:
        positive("--limit", limit)
    journal = graph.decisions.journal
    entries = [_entry_line(journal, e) for e in journal.entries(limit)]
    print_listing(
        args.json,
        console,
        entries,
        decisions_table,
        "undo the last: workbench kg undo; one of them: kg undo ID",
        "no decisions yet",
    )
    return 0


def kg_decisions_export(args, graph, console) -> int:
    from workbench.kg.decisions_file import export_decisions

    path = export_decisions(graph, args.file)
    if path is not None:
        console.print(f"wrote {path}", highlight=False, soft_wrap=True, markup=False)
    return 0


def kg_decisions_import(args, console) -> int:
    from workbench.kg.decisions_file import import_decisions, read_decisions
    from workbench.kg.store import Graph

    items = read_decisions(args.file)  # all of it checked before the graph is touched
    with Graph.open(args.graph, create=True) as graph:
        done = import_decisions(graph, items, str(args.file))
        built = graph.core.conn.execute("SELECT count(*) FROM documents").fetchone()[0] > 0
    console.print(
        f"imported {done['merges']} merges and {done['judgements']} verdicts "
        f"({done['already']} held already)"
        + ("" if built else "; the graph has no documents yet: its first kg build applies them"),
        highlight=False,
        markup=False,
    )
    return 0
