"""The `workbench` command line.

Heavy libraries (torch, transformers) are imported inside the commands that
need them, so `workbench --help` and `workbench validate` answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from workbench import __version__
from workbench.errors import WorkbenchError
from workbench.runs.folder import RUN_FOLDER_PREFIX

EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Fine-tune transformer encoders for NER, text classification and relation "
        "extraction "
        "from TOML recipes, and build knowledge graphs with them.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="train a recipe headless, writing a run folder",
        description="Train a recipe; the run folder is written under "
        "[output] dir (default runs/). Ctrl-C or SIGTERM: "
        "checkpoint and stop. Several processes: torchrun, "
        "accelerate launch, or --devices N.",
    )
    run.add_argument("recipe", nargs="?", help="recipe TOML file")
    run.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="go on with a stopped, failed or died run from its last checkpoint",
    )
    run.add_argument(
        "--devices",
        type=int,
        default=1,
        metavar="N",
        help="train in N processes, one per GPU (starts torchrun)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override recipe keys",
    )
    run.add_argument("--plain", action="store_true", help="line-based output even in a terminal")
    run.add_argument(
        "--quiet-reports",
        action="store_true",
        help="print evaluation metrics without the per-label tables",
    )

    validate = sub.add_parser("validate", help="check recipes and their data without training")
    validate.add_argument("recipes", nargs="+", metavar="RECIPE")
    validate.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
    )

    predict = sub.add_parser(
        "predict",
        help="run a saved model on text (JSON lines out)",
        description="Predict with a run's model. Texts come from the "
        "arguments, or one a line from stdin. For text-pair "
        "models, separate the pair with a tab.",
    )
    predict.add_argument("model", metavar="MODEL_OR_RUN")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--batch-size", type=int, default=32)

    evaluate = sub.add_parser("eval", help="score a saved model on a data file")
    evaluate.add_argument("model", metavar="MODEL_OR_RUN")
    evaluate.add_argument("--data", required=True, metavar="PATH")
    evaluate.add_argument("--format", choices=("auto", "conll", "jsonl", "csv", "tsv"))
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.add_argument(
        "--ner",
        metavar="NER_RUN",
        help="with a relation model: score it end to end with this NER "
        "model's entities (strict triples)",
    )

    export = sub.add_parser(
        "export",
        help="export a run's model (ONNX, optionally int8), checked against it",
        description="Export a run's model to ONNX for ONNX Runtime, optionally quantized to "
        "int8, and check the export against the original on the run's validation "
        "data: label agreement, the metric before and after, and CPU speed. "
        "The report is printed and written beside the export.",
    )
    export.add_argument("model", metavar="MODEL_OR_RUN")
    export.add_argument("--format", default="onnx", choices=("onnx",))
    export.add_argument("--quantize", choices=("int8",), help="dynamic int8 quantization")
    export.add_argument(
        "--out", metavar="DIR", help="where the export goes (default: RUN/exports/onnx[-int8])"
    )
    export.add_argument(
        "--data",
        metavar="PATH",
        help="data to check the export on (default: the run's validation file, else its test file)",
    )
    export.add_argument("--batch-size", type=int, default=32)

    tui = sub.add_parser(
        "tui",
        help="the interactive workbench (also: workbench with no command)",
        description="Open the Textual workbench: recipes, live runs, run "
        "history, comparison, prediction.",
    )
    tui.add_argument(
        "recipes",
        nargs="*",
        metavar="RECIPE",
        help="recipe files or folders to list beside ./recipes",
    )
    tui.add_argument(
        "--runs",
        default=None,
        metavar="DIR",
        help="runs folder to show and launch into (default: runs)",
    )
    tui.add_argument(
        "--recipes-dir",
        default="recipes",
        metavar="DIR",
        help="folder of recipes (default: recipes)",
    )
    tui.add_argument(
        "--graph",
        default="graph.sqlite",
        metavar="FILE",
        help="knowledge graph the Graph screen opens (default: graph.sqlite)",
    )

    annotate = sub.add_parser(
        "annotate",
        help="correct a model on your documents, least certain sentences first",
        description="Open the workbench's Annotate screen: the corpus's sentences, "
        "pre-labelled by RUN's model, least certain first (--order). Accept, fix or "
        "reject each; every decision is appended to --out at once, in the span JSONL "
        "the readers load, and reopening the file goes on where it stopped. t on the "
        "screen trains a recipe that starts from RUN's model with the decisions added.",
    )
    annotate.add_argument(
        "--model", required=True, metavar="RUN", help="run (or recipe name) whose model proposes"
    )
    annotate.add_argument(
        "--corpus",
        required=True,
        metavar="PATH",
        help="text file, folder of .txt/.md files, or JSON records with id and text",
    )
    annotate.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="decisions file (default: annotations/RUN-FOLDER.jsonl)",
    )
    annotate.add_argument(
        "--order",
        choices=("uncertain", "random"),
        default="uncertain",
        help="least certain first, with near-repeats held back (default), or random",
    )
    annotate.add_argument(
        "--limit", type=int, default=None, metavar="N", help="read only the first N sentences"
    )
    annotate.add_argument("--runs", default=None, metavar="DIR", help="runs folder (default: runs)")

    runs = sub.add_parser("runs", help="list run folders")
    runs.add_argument("--dir", default="runs", help="runs folder (default: runs)")
    runs.add_argument("--json", action="store_true", help="one JSON object a line")
    cache = sub.add_parser(
        "cache",
        help="the tokenised-feature cache: where, how big; --clear empties it",
        description="Tokenised features kept across runs (WORKBENCH_CACHE=DIR moves "
        "the cache, WORKBENCH_CACHE=off turns it off).",
    )
    cache.add_argument("--clear", action="store_true", help="delete every entry")
    _kg_parser(sub)
    return parser


def _kg_parser(sub) -> None:
    kg = sub.add_parser(
        "kg",
        help="build, search and export a knowledge graph",
        description="A knowledge graph in one SQLite file: entities and "
        "relations a run's models extract from a corpus.",
    )
    kg_sub = kg.add_subparsers(dest="kg_command", metavar="SUBCOMMAND", required=True)

    def graph_option(parser):
        parser.add_argument(
            "--graph",
            default="graph.sqlite",
            metavar="FILE",
            help="graph file (default: graph.sqlite)",
        )

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

    show = kg_sub.add_parser("show", help="one entity: aliases, relations, mentions")
    show.add_argument("entity", metavar="ENTITY", help="#id, id or name")
    graph_option(show)
    show.add_argument(
        "--mentions", type=int, default=10, metavar="N", help="mentions to list (default 10)"
    )
    show.add_argument("--json", action="store_true")

    path = kg_sub.add_parser("path", help="shortest chains of relations between two entities")
    path.add_argument("a", metavar="A")
    path.add_argument("b", metavar="B")
    graph_option(path)
    path.add_argument("--max-hops", type=int, default=4)
    path.add_argument("--limit", type=int, default=5)
    path.add_argument("--json", action="store_true", help="one JSON array (a chain) a line")

    stats = kg_sub.add_parser("stats", help="what the graph holds, and how it was built")
    graph_option(stats)
    stats.add_argument("--json", action="store_true")

    infer = kg_sub.add_parser(
        "infer",
        help="propose relations the text never stated (rules mined from the graph)",
        description="Mine rules from the graph's relations (chains of one or two "
        "relations that predict a third), apply them, and store what they propose "
        "apart from the evidence, each with its explanation. --list shows them; "
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

    for verb, what in (("accept", "a person states it"), ("reject", "never proposed again")):
        judge = kg_sub.add_parser(verb, help=f"{verb} inferred triples by number ({what})")
        judge.add_argument("ids", nargs="+", type=int, metavar="ID", help="numbers from kg infer")
        graph_option(judge)

    candidates = kg_sub.add_parser(
        "merge-candidates", help="pairs of entities that may be one (to review, then kg merge)"
    )
    graph_option(candidates)
    candidates.add_argument("--limit", type=int, default=30)
    candidates.add_argument("--json", action="store_true", help="one JSON object a line")

    merge = kg_sub.add_parser(
        "merge",
        help="merge entity A into B (kept across rebuilds; kg split undoes it)",
    )
    merge.add_argument("a", metavar="A", help="#id or name: the entity that goes")
    merge.add_argument("b", metavar="B", help="#id or name: the entity that stays")
    merge.add_argument(
        "--any-type", action="store_true", help="merge even when the two types differ"
    )
    graph_option(merge)

    split = kg_sub.add_parser("split", help="undo merges into an entity")
    split.add_argument("entity", metavar="ENTITY", help="#id or name")
    split.add_argument("--name", help="undo only the merge of this name (default: all)")
    graph_option(split)

    remove = kg_sub.add_parser("remove", help="remove documents and whatever only they supported")
    remove.add_argument("documents", nargs="+", metavar="DOCUMENT", help="key or source file")
    graph_option(remove)

    ask = kg_sub.add_parser(
        "ask",
        help="ask the graph a question in plain language",
        description="Finds the entity the question names and the relation it asks "
        "about, answers with the evidence sentences, or says it does not know.",
    )
    ask.add_argument("question", metavar="QUESTION")
    graph_option(ask)
    ask.add_argument("--json", action="store_true")

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


def cmd_validate(args) -> int:
    from workbench.console import PipeSafeConsole
    from workbench.experiment import prepare
    from workbench.recipe import load_recipe

    console = PipeSafeConsole()
    failed = 0
    for path in args.recipes:  # every recipe is checked: one bad one hides no other
        try:
            exp = prepare(load_recipe(path, args.overrides))
        except WorkbenchError as exc:
            if len(args.recipes) == 1:
                raise
            print(f"{_error_prefix()}{exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        _warn(exp.recipe.warnings)
        sizes = ", ".join(f"{k} {len(v)}" for k, v in exp.splits.items())
        console.print(
            f"[green]ok[/] {path}: {exp.task.name}, {len(exp.labels)} labels, {sizes}",
            highlight=False,
            soft_wrap=True,
        )
    if failed:
        print(f"{failed} of {len(args.recipes)} recipes have errors", file=sys.stderr)
    return EXIT_USAGE if failed else 0


def _run_arguments(args) -> None:
    if args.resume and args.recipe:
        raise WorkbenchError("run: give a recipe or --resume RUN_DIR, not both")
    if not args.resume and not args.recipe:
        raise WorkbenchError("run: give a recipe file (or --resume RUN_DIR)")
    if args.devices < 1:
        raise WorkbenchError("--devices must be at least 1")


def cmd_run(args) -> int:
    from workbench.console import ConsoleView, PipeSafeConsole
    from workbench.engine.devices import is_main_process, launched_distributed, process_count
    from workbench.experiment import prepare
    from workbench.recipe import load_recipe
    from workbench.resume import resume_point

    _run_arguments(args)
    if args.resume:
        from workbench.runs.index import find_run

        # A recipe name means its newest run only: never a stale one behind a newer run.
        found, note = find_run(
            args.resume,
            usable=lambda run: run.resumable_from is not None,
            wanted="resumable run",
            newest_only=True,
        )
        args.resume = str(found)
        if note and is_main_process():
            print(note, file=sys.stderr, flush=True)
    starting = args.devices > 1 and not launched_distributed()  # torchrun is started below
    # Everything that can be wrong with the input is found before a run folder is written
    # (and, with --devices, before torchrun: one line, not one per process).
    point = resume_point(args.resume, args.overrides) if args.resume else None
    experiment = prepare(point.recipe if point else load_recipe(args.recipe, args.overrides))
    if point is not None:
        point.check_data(experiment)
        point.check_processes(args.devices if starting else process_count())
    elif starting or (is_main_process() and not _started_by_devices()):
        _warn(experiment.recipe.warnings)  # once, not once per process
    if starting:
        from workbench.runs.launch import run_in_processes

        return run_in_processes(args.devices, _run_argv(args))
    main = is_main_process()
    console = PipeSafeConsole()
    if main and point is not None:
        console.print(
            f"{RUN_FOLDER_PREFIX}{point.run_dir}", highlight=False, soft_wrap=True, markup=False
        )
    views = (
        [
            ConsoleView(
                console, live=False if args.plain else None, show_reports=not args.quiet_reports
            )
        ]
        if main
        else []
    )
    stop = threading.Event()

    def on_signal(signum, frame):
        # A second Ctrl-C aborts at once; SIGTERM never does (its sender kills
        # harder when it wants to, and torchrun passes one on after a Ctrl-C).
        if stop.is_set():
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            return
        stop.set()
        if main:
            again = (
                " (Ctrl-C again to abort)"
                if signum == signal.SIGINT and not launched_distributed()
                else ""
            )
            console.print(f"stopping after this step, with a checkpoint{again}", style="yellow")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        from workbench.runner import run_experiment

        run_dir, end = run_experiment(experiment, views, stop=stop, resume=point)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if main:
        console.print(
            f"{RUN_FOLDER_PREFIX}{run_dir}", highlight=False, soft_wrap=True, markup=False
        )
    elif end.status == "failed" and end.error:
        # Only the main process writes the run; another one's own error would be lost.
        print(f"{_error_prefix()}{end.error}", file=sys.stderr)
    code = {"completed": 0, "stopped": EXIT_STOPPED}.get(end.status, EXIT_FAILED)
    if code == EXIT_STOPPED and launched_distributed():
        # torchrun takes any non-zero exit for a crash and kills the other processes;
        # a clean stop exits 0 there (the end event says stopped), and tells --devices.
        from workbench.runs.launch import report_exit_code

        report_exit_code(code)
        return 0
    return code


def _started_by_devices() -> bool:
    """Is this one of the processes ``run --devices N`` started (which warned already)?"""
    from workbench.runs.launch import EXIT_FILE

    return EXIT_FILE in os.environ


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def _run_argv(args) -> list[str]:
    """``workbench run`` arguments for the processes a launcher starts."""
    argv = ["run", *(["--resume", args.resume] if args.resume else [args.recipe])]
    if args.overrides:
        argv += ["--set", *args.overrides]
    if args.plain:
        argv.append("--plain")
    if args.quiet_reports:
        argv.append("--quiet-reports")
    return argv


def _model_run(reference: str, runs_dir: str = "runs") -> str:
    """A RUN argument as a path; says on stderr which run a name meant."""
    from workbench.models import find_model_run

    path, note = find_model_run(reference, runs_dir)
    if note:
        print(note, file=sys.stderr, flush=True)
    return str(path)


def _read_texts(args) -> list[str]:
    if args.texts:
        return list(args.texts)
    if sys.stdin.isatty():
        raise WorkbenchError("predict: give TEXT arguments or pipe lines on stdin")
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


def cmd_predict(args) -> int:
    from workbench.models import load_saved, saved_max_length

    _positive("--batch-size", args.batch_size)
    task, model, tokenizer, meta = load_saved(_model_run(args.model))
    texts = _read_texts(args)
    max_length = saved_max_length(meta)
    for start in range(0, len(texts), 256):  # stream output for long stdin inputs
        for result in task.predict(
            model, tokenizer, texts[start : start + 256], max_length, args.batch_size
        ):
            print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def cmd_eval(args) -> int:
    from workbench.console import PipeSafeConsole
    from workbench.evaluate import evaluate_saved
    from workbench.reports import metrics_line, report_renderable

    _positive("--batch-size", args.batch_size)
    _task, report = evaluate_saved(
        _model_run(args.model),
        args.data,
        batch_size=args.batch_size,
        ner=_model_run(args.ner) if args.ner else None,
        format=args.format,
    )
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    console = PipeSafeConsole()
    console.print(
        f"{report['split']}: {metrics_line(report['metrics'])}", highlight=False, markup=False
    )
    if "entity_metrics" in report:
        console.print(f"entities: {metrics_line(report['entity_metrics'])}", highlight=False)
    console.print(report_renderable(report))
    return 0


def cmd_export(args) -> int:
    from workbench.deploy.onnx_export import export_onnx, report_text

    _positive("--batch-size", args.batch_size)
    out, report = export_onnx(
        _model_run(args.model),
        args.out,
        args.quantize,
        args.data,
        args.batch_size,
        say=lambda text: print(text, file=sys.stderr, flush=True),
    )
    print(report_text(report))
    print(f"exported to {out}")
    return 0


def cmd_runs(args) -> int:
    from rich.markup import escape

    from workbench.console import PipeSafeConsole, duration_text, status_markup
    from workbench.runs.index import list_runs

    runs = list_runs(args.dir)
    if args.json:
        for run in runs:
            row = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(run).items()}
            row["resumable_from"] = run.resumable_from
            print(json.dumps(row, ensure_ascii=False))
        return 0
    console = PipeSafeConsole()
    if not runs:
        console.print(f"no runs in {args.dir}/")
        return 0
    _warn([f"{run.path}: {run.warning}" for run in runs if run.warning])
    rows = [
        {
            "run": escape(run.name),
            "task": escape(run.task),
            "status": status_markup(run.status, run.resumable_from, run.warning is not None),
            "best": f"{run.metric} {run.best_value:.4f}"
            if isinstance(run.best_value, (int, float))
            else "-",
            "steps": run.steps_text,
            "duration": duration_text(run.duration_s),
        }
        for run in runs
    ]
    console.print(runs_table(rows, console.width))
    return 0


def runs_table(rows: list[dict], width: int):
    """The `workbench runs` table. The run folder is the name every other command
    takes, so it is never cut; where the width is short, the task and then the
    steps columns go (``runs --json`` has everything) rather than fold."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    columns = ["run", "task", "status", "best", "steps", "duration"]

    def natural(column):
        return max(len(column), *(Text.from_markup(row[column]).cell_len for row in rows))

    for optional in ("task", "steps"):
        if sum(natural(c) for c in columns) + 2 * (len(columns) - 1) <= width:
            break
        columns.remove(optional)
    table = Table(
        show_edge=False, pad_edge=False, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True
    )
    for column in columns:
        table.add_column(
            column,
            justify="right" if column in ("steps", "best") else "left",
            no_wrap=column == "run",
            min_width=natural("run") if column == "run" else None,
            overflow="fold",
        )
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    return table


def cmd_cache(args) -> int:
    from workbench.engine import feature_cache

    folder = feature_cache.cache_dir()
    if folder is None:
        print("the feature cache is off (WORKBENCH_CACHE=off)")
        return 0
    if args.clear:
        count, size = feature_cache.clear()
        print(f"{folder}: deleted {_entries_text(count)}, {size / 2**20:,.1f} MiB")
        return 0
    found = feature_cache.entries()
    size = sum(p.stat().st_size for p in found)
    print(f"{folder}: {_entries_text(len(found))}, {size / 2**20:,.1f} MiB")
    return 0


def _entries_text(count: int) -> str:
    return f"{count:,} entr{'y' if count == 1 else 'ies'}"


def cmd_tui(args) -> int:
    from workbench.tui.app import WorkbenchApp

    if args.runs is not None and Path(args.runs).exists() and not Path(args.runs).is_dir():
        raise WorkbenchError(f"--runs {args.runs}: not a folder")
    for path in args.recipes:
        if not Path(path).exists():
            raise WorkbenchError(f"{path}: recipe file not found")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise WorkbenchError(
            "the workbench needs a terminal; for logs and scripts use "
            "workbench run / runs / predict"
        )
    app = WorkbenchApp(
        runs_dir=args.runs,
        recipes_dir=args.recipes_dir,
        recipe_paths=args.recipes,
        graph_path=args.graph,
    )
    app.run()
    return app.return_code or 0  # non-zero when the app crashed


def cmd_annotate(args) -> int:
    from workbench.annotate.decisions import DecisionLog
    from workbench.annotate.pool import TASKS
    from workbench.annotate.setup import default_out, recipe_columns, run_folder_of
    from workbench.kg.corpus import read_corpus
    from workbench.models import saved_task
    from workbench.tui.app import WorkbenchApp

    if args.limit is not None:
        _positive("--limit", args.limit)
    # Bad arguments are one line here, before the screen opens; what was read (the
    # corpus, the decisions file) goes to the screen, which does not read it again.
    run_dir = run_folder_of(_model_run(args.model, args.runs or "runs"))
    task = saved_task(run_dir)[1]
    if task not in TASKS:
        raise WorkbenchError(f"{run_dir}: a {task} model; annotate takes NER and classification")
    recipe_columns(run_dir)  # a text-pair recipe is said now
    documents = read_corpus(args.corpus)
    log = DecisionLog(args.out or default_out(run_dir))  # a folder, or not decisions
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise WorkbenchError("annotate needs a terminal (it opens the workbench's Annotate screen)")
    app = WorkbenchApp(
        runs_dir=args.runs,
        annotate={
            "model": str(run_dir),
            "corpus": args.corpus,
            "out": str(log.path),
            "order": args.order,
            "limit": args.limit,
            "documents": documents,
            "log": log,
        },
    )
    app.run()
    return app.return_code or 0


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise WorkbenchError(f"{name} must be at least 1")


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

        with Graph.open(args.graph, create=False) as graph:
            return KG_COMMANDS[args.kg_command](args, graph, PipeSafeConsole())
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
    _positive("--batch-size", args.batch_size)
    from workbench.kg.build import build_graph
    from workbench.kg.present import build_view

    console = PipeSafeConsole()
    ner = _model_run(args.ner)
    relations = _model_run(args.relations) if args.relations else None

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

        print(json.dumps(end_event(build(emit) or {})), flush=True)
        return 0
    with BuildBar(console) as bar:
        summary = build(bar)
    console.print(build_view(summary or {}), highlight=False)
    return 0


def kg_search(args, graph, console) -> int:
    from workbench.kg.present import search_table

    _positive("--limit", args.limit)
    if args.semantic:
        models = graph.embedding_models()
        if not models:
            raise WorkbenchError(
                f"{graph.path}: no entity embeddings; run workbench kg build "
                f"without --no-embeddings"
            )
        from workbench.kg.embed import Embedder

        hits = graph.search_semantic(
            args.text, Embedder(models[0]), limit=args.limit, type=args.type
        )
    else:
        hits = graph.search(args.text, limit=args.limit, type=args.type)
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
    detail = graph.entity(graph.resolve(args.entity)["id"], mentions=args.mentions)
    return _show(args, console, detail, entity_view)


def kg_path(args, graph, console) -> int:
    from rich.text import Text

    from workbench.kg.normalize import entity_label
    from workbench.kg.present import chain_text

    _positive("--max-hops", args.max_hops)
    _positive("--limit", args.limit)
    a, b = graph.resolve(args.a), graph.resolve(args.b)
    if a["id"] == b["id"]:
        raise WorkbenchError(f"path: {args.a!r} and {args.b!r} are the same entity (#{a['id']})")
    chains = graph.paths(a["id"], b["id"], max_hops=args.max_hops, limit=args.limit)
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

    return _show(args, console, graph.stats(), stats_view)


def kg_export(args, graph, console) -> int:
    from workbench.kg.export import default_output, export_graph

    out = args.output or default_output(graph.path, args.format)
    for path in export_graph(graph, args.format, out):  # none for "-" (standard output)
        console.print(f"wrote {path}", highlight=False, soft_wrap=True, markup=False)
    return 0


def kg_infer(args, graph, console) -> int:
    from workbench.kg.present import inferred_view, rules_table

    _positive("--limit", args.limit)
    if args.judged:
        from rich.text import Text

        from workbench.kg.present import triple_text

        judged = graph.judgements()
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

        _positive("--min-support", args.min_support)
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
            if args.rules and result["rules"]:
                console.print(rules_table(result["rules"]))
    proposals = graph.inferred(limit=args.limit)
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
            p = graph.judge(number, verdict)
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

    _positive("--limit", args.limit)
    found = merge_candidates(graph, limit=args.limit)
    if args.json:
        for c in found:
            print(json.dumps(c, ensure_ascii=False))
    elif found:
        console.print(candidates_table(found))
        console.print("merge one: workbench kg merge '#FROM' '#INTO'", highlight=False)
    else:
        console.print("no merge candidates", highlight=False)
    return 0


def kg_merge(args, graph, console) -> int:
    from workbench.kg.normalize import entity_label

    a, b = _one_entity(graph, args.a), _one_entity(graph, args.b)
    done = graph.merge(a["id"], b["id"], any_type=args.any_type)
    console.print(
        f"merged {entity_label(a['name'], a['type'])} #{a['id']} into "
        f"{entity_label(b['name'], b['type'])} #{b['id']} ({done['mentions']} mentions moved; "
        f"kept across rebuilds; undo: workbench kg split '#{b['id']}' --name {a['name']!r})",
        highlight=False,
        markup=False,
    )
    return 0


def _one_entity(graph, ref: str) -> dict:
    """``resolve`` for a change: a name two entities share (Zara the person, Zara
    the company) is refused, not guessed; an #id picks one."""
    from workbench.kg.normalize import entity_label, normalize_name

    if not ref.strip().startswith("#"):
        named = graph.by_name(normalize_name(ref))
        if len(named) > 1:
            which = ", ".join(f"{entity_label(e['name'], e['type'])} #{e['id']}" for e in named)
            raise WorkbenchError(f"{ref!r} names {len(named)} entities ({which}); give an #id")
    return graph.resolve(ref)


def kg_split(args, graph, console) -> int:
    from workbench.kg.normalize import entity_label

    entity = _one_entity(graph, args.entity)
    for e in graph.split(entity["id"], args.name):
        console.print(
            f"split {entity_label(e['name'], e['type'])} #{e['id']} out of "
            f"{entity_label(entity['name'], entity['type'])}",
            highlight=False,
            markup=False,
        )
    return 0


def kg_remove(args, graph, console) -> int:
    keys = [graph.find_document(ref) for ref in args.documents]  # every name checked first
    with graph.transaction():
        for key in keys:
            graph.remove_document(key, withdraw=False)
        graph.withdraw_unsupported()  # once, not once a document: it reads every relation
    for key in keys:
        console.print(f"removed {key}", highlight=False, markup=False)
    console.print(
        "(a document still in its corpus comes back on the next kg build of that corpus)",
        highlight=False,
    )
    return 0


def kg_ask(args, graph, console) -> int:
    from workbench.kg.ask import ask, check_question
    from workbench.kg.embed import Embedder
    from workbench.kg.present import answer_view

    check_question(args.question)  # an empty or huge question: one line, before the encoder loads
    models = graph.embedding_models()
    reply = ask(graph, args.question, Embedder(models[0] if models else "minilm")).to_dict()
    return _show(args, console, reply, answer_view)


KG_COMMANDS = {
    "infer": kg_infer,
    "accept": _kg_judge("accepted"),
    "reject": _kg_judge("rejected"),
    "merge-candidates": kg_candidates,
    "merge": kg_merge,
    "split": kg_split,
    "remove": kg_remove,
    "ask": kg_ask,
    "search": kg_search,
    "show": kg_show,
    "path": kg_path,
    "stats": kg_stats,
    "export": kg_export,
}

COMMANDS = {
    "kg": cmd_kg,
    "run": cmd_run,
    "validate": cmd_validate,
    "predict": cmd_predict,
    "eval": cmd_eval,
    "export": cmd_export,
    "runs": cmd_runs,
    "cache": cmd_cache,
    "tui": cmd_tui,
    "annotate": cmd_annotate,
}


def _route(argv: list[str]) -> list[str]:
    """``workbench``, ``workbench --runs DIR`` and ``workbench RECIPE...`` open the TUI."""
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        return ["tui", *argv]
    return argv


def _error_prefix() -> str:
    """``error: `` (``[rank 1] error: `` in the other processes of a multi-process run,
    whose errors would otherwise print once per process, indistinguishably)."""
    rank = os.environ.get("RANK", "0")
    return "error: " if rank == "0" else f"[rank {rank}] error: "


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `workbench` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(_route(sys.argv[1:] if argv is None else list(argv)))
    try:
        return COMMANDS[args.command](args)
    except WorkbenchError as exc:
        print(f"{_error_prefix()}{exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_STOPPED
    except BrokenPipeError:  # `workbench ... | head`: the reader has what it wanted
        from workbench.console import silence_stdout

        silence_stdout()
        return 0
