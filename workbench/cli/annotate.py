"""`workbench annotate`: the workbench's Annotate screen, opened on a run's model and a
corpus, after the arguments are checked."""

from __future__ import annotations

import sys

from workbench.annotate.orders import DEFAULT_ORDER, ORDERS
from workbench.cli.common import model_run, positive
from workbench.errors import WorkbenchError


def register(sub) -> None:
    """Adds `annotate` to ``sub``."""
    annotate = sub.add_parser(
        "annotate",
        help="correct a model on your documents, least certain sentences first",
        description="Open the workbench's Annotate screen: the corpus's sentences "
        "(for a relation run, its entity pairs), pre-labelled by RUN's model, least "
        "certain first (--order). Accept, fix or reject each; every decision is "
        "appended to --out at once, in the JSONL the readers load, and reopening the "
        "file goes on where it stopped. t on the screen trains a recipe that starts "
        "from RUN's model with the decisions added.",
    )
    annotate.add_argument(
        "--model", required=True, metavar="RUN", help="run (or recipe name) whose model proposes"
    )
    annotate.add_argument(
        "--corpus",
        required=True,
        metavar="PATH",
        help="text file, folder of .txt/.md files, or JSON records with id and text; for a "
        "relation run also JSONL with tokens and entities",
    )
    annotate.add_argument(
        "--ner",
        default=None,
        metavar="RUN",
        help="relation runs on raw text: the NER run whose model finds the entities",
    )
    annotate.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="decisions file (default: annotations/RUN-FOLDER.jsonl)",
    )
    annotate.add_argument(
        "--order",
        choices=ORDERS,
        default=DEFAULT_ORDER,
        help="balanced: the least certain of each cluster of similar sentences, clusters "
        "taking turns by size (default); uncertain: least certain first; or random",
    )
    annotate.add_argument(
        "--limit", type=int, default=None, metavar="N", help="read only the first N sentences"
    )
    annotate.add_argument("--runs", default=None, metavar="DIR", help="runs folder (default: runs)")
    annotate.set_defaults(handler=cmd_annotate)


def cmd_annotate(args) -> int:
    from workbench.annotate.decisions import DecisionLog
    from workbench.annotate.pairs import ANNOTATED, RELATION, read_relation_corpus
    from workbench.annotate.setup import default_out, recipe_columns, run_folder_of
    from workbench.kg.corpus import read_corpus
    from workbench.models.folder import check_saved_task, saved_task
    from workbench.tui.app import WorkbenchApp

    if args.limit is not None:
        positive("--limit", args.limit)
    # Bad arguments are one line here, before the screen opens; what was read (the
    # corpus, the decisions file) goes to the screen, which does not read it again.
    run_dir = run_folder_of(model_run(args.model, args.runs or "runs"))
    task = saved_task(run_dir)[1]
    if task not in ANNOTATED:
        raise WorkbenchError(
            f"{run_dir}: a {task} model; annotate takes NER, classification and relation"
        )
    columns = recipe_columns(run_dir)  # a text-pair recipe is said now
    ner = None
    if args.ner is not None:
        if task != RELATION:
            raise WorkbenchError(
                f"--ner {args.ner}: only a relation run reads entities from an NER model; "
                f"{run_dir} is a {task} run"
            )
        ner = run_folder_of(model_run(args.ner, args.runs or "runs"))
        check_saved_task(ner, "ner", "--ner")
    documents = (
        read_relation_corpus(args.corpus, columns, ner is not None)
        if task == RELATION
        else read_corpus(args.corpus)
    )
    log = DecisionLog(args.out or default_out(run_dir))  # a folder, or not decisions
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise WorkbenchError("annotate needs a terminal (it opens the workbench's Annotate screen)")
    app = WorkbenchApp(
        runs_dir=args.runs,
        annotate={
            "model": str(run_dir),
            "corpus": args.corpus,
            "ner": str(ner) if ner is not None else None,
            "out": str(log.path),
            "order": args.order,
            "limit": args.limit,
            "documents": documents,
            "log": log,
        },
    )
    app.run()
    return app.return_code or 0
