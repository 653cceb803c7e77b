"""`workbench sweep` (make a sweep and run its trials; `sweep join`, `sweep show`)
and `workbench sweeps` (the sweep folders, as a table)."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from workbench.cli.common import EXIT_STOPPED, set_option
from workbench.errors import WorkbenchError

ACTIONS = ("join", "resume", "show")


def register(sub) -> None:
    """Adds `sweep` and `sweeps` to ``sub``."""
    sweep = sub.add_parser(
        "sweep",
        help="try many settings of a recipe (Optuna), pruning the runs that lag",
        description="`workbench sweep RECIPE --param KEY=DIST ...` makes a sweep and runs "
        "its trials; `workbench sweep join SWEEP` adds a worker to one (another "
        "terminal, GPU or machine) or goes on with a stopped one; `workbench sweep show "
        "SWEEP` prints its trials, the best trial's recipe and the parameters' "
        "importance. Distributions: loguniform(a,b), uniform(a,b), int(a,b), "
        "logint(a,b), choice(x,y,...).",
    )
    sweep.add_argument("target", metavar="RECIPE|join|show", help="a recipe, or join / show")
    sweep.add_argument("sweep", nargs="?", metavar="SWEEP", help="join, show: the sweep folder")
    sweep.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="KEY=DIST",
        help="a key and its distribution, e.g. train.learning_rate=loguniform(1e-5,1e-3)",
    )
    sweep.add_argument(
        "--trials",
        type=int,
        help="how many trials (default: 20, a grid: its size); join: a new total, "
        "e.g. 20 more for a sweep that ran its own",
    )
    sweep.add_argument("--sampler", choices=("tpe", "random", "grid"), help="default: tpe")
    sweep.add_argument(
        "--pruner", choices=("median", "halving", "hyperband", "none"), help="default: median"
    )
    sweep.add_argument("--seed", type=int, help="the sampler's seed (join: this worker's)")
    sweep.add_argument(
        "--keep",
        metavar="N|all",
        help="only the best N completed trials keep their model and checkpoints (the "
        "others keep events and reports); default: all. join: changes it",
    )
    sweep.add_argument(
        "--storage",
        metavar="URL",
        help="the study's database (default: SQLite in the sweep folder); e.g. "
        "postgresql://user@host/db for workers on several machines",
    )
    sweep.add_argument("--study", metavar="NAME", help="join URL: the sweep's name in the storage")
    sweep.add_argument(
        "--queue",
        type=int,
        metavar="N",
        help="do not run here: add N workers to `workbench queue` (one slot each); join: N more",
    )
    sweep.add_argument("--dir", help="sweeps folder (default: [output] dir/sweeps, or runs/sweeps)")
    sweep.add_argument("--json", action="store_true", help="show: one JSON object")
    set_option(sweep, help="recipe keys every trial has")
    sweep.set_defaults(handler=cmd_sweep)
    sweeps = sub.add_parser("sweeps", help="list sweeps")
    sweeps.add_argument("--dir", default="runs/sweeps", help="default: runs/sweeps")
    sweeps.set_defaults(handler=cmd_sweeps)


# Options that make a sweep: a sweep that exists has them in its spec already.
MADE_WITH = {"params": "--param", "sampler": "--sampler", "pruner": "--pruner",
             "storage": "--storage", "overrides": "--set"}  # fmt: skip
JOIN_TAKES = {"trials": "--trials", "seed": "--seed", "queue": "--queue", "keep": "--keep"}


def cmd_sweep(args) -> int:
    if args.target in ACTIONS:
        if not args.sweep:
            raise WorkbenchError(f"sweep {args.target}: name the sweep (its folder)")
        refused = dict(MADE_WITH, **(JOIN_TAKES if args.target == "show" else {}))
        given = [f for dest, f in refused.items() if getattr(args, dest, None) not in (None, [])]
        if given:  # taken silently, they would seem to change a sweep they do not
            flags = f"{', '.join(given)} {'is' if len(given) == 1 else 'are'}"
            if args.target == "show":
                raise WorkbenchError(f"sweep show: {flags} not for show")
            raise WorkbenchError(
                f"sweep {args.target}: {flags} set when a sweep is made; it takes --trials "
                "(a new total), --keep, --seed (this worker's) and --queue"
            )
        if args.target == "show":
            return _show(args)
        return _join(args)
    if args.sweep:
        raise WorkbenchError(f"sweep: unexpected {args.sweep!r} after the recipe")
    return _create(args)


def _create(args) -> int:
    from workbench.cli.common import warn
    from workbench.console import PipeSafeConsole
    from workbench.engine.evaluation import lower_is_better
    from workbench.experiment import prepare
    from workbench.recipe import load_recipe
    from workbench.sweeps.study import create_sweep, sweep_settings

    recipe = load_recipe(args.target, args.overrides)
    space, settings = sweep_settings(
        recipe, args.params, args.trials, args.sampler, args.pruner, args.seed, args.keep
    )
    if args.queue is not None and args.queue < 1:
        raise WorkbenchError("--queue must be at least 1")
    if not recipe.data.validation:
        raise WorkbenchError(
            f"{recipe.source}: a sweep needs data.validation (its metric compares the trials)"
        )
    experiment = prepare(recipe)  # the data and the metric, checked before anything is written
    warn(recipe.warnings)
    queue = None
    if args.queue:
        from workbench.runs.queue import Queue

        queue = Queue.open()  # a queue that cannot be opened leaves no sweep without workers
    sweep = create_sweep(
        recipe,
        space,
        settings,
        experiment.metric,
        lower_is_better(experiment.metric),
        storage=args.storage,
        sweeps_dir=Path(args.dir) if args.dir else None,
    )
    console = PipeSafeConsole()
    spec = sweep.spec
    console.print(
        f"sweep {sweep.folder}: {spec.trials} trials, {spec.sampler} sampler, "
        f"{spec.pruner} pruner, {spec.direction} {spec.metric}{_keeping(spec.keep)}",
        highlight=False,
        soft_wrap=True,
    )
    if queue is not None:
        return _queue_workers(sweep, queue, args.queue, console)
    console.print(
        f"more workers: workbench sweep join {sweep.folder}", style="dim", highlight=False
    )
    return _work(sweep, console, first=True)


def _keeping(keep: int | None) -> str:
    from workbench.sweeps.keep import keeping

    return "" if keep is None else f"; {keeping(keep)}"


def _queue_workers(sweep, queue, workers: int, console) -> int:
    for _ in range(workers):
        job = queue.add(
            ["sweep", "join", str(sweep.folder.resolve())],
            cwd=Path.cwd(),
            label=f"sweep {sweep.spec.name} (worker)",
        )
        console.print(f"queued #{job.id}: {job.label}", highlight=False)
    console.print("start them with: workbench queue run", style="dim", highlight=False)
    return 0


def _join(args) -> int:
    from workbench.console import PipeSafeConsole
    from workbench.sweeps.study import open_sweep

    if args.queue is not None and args.queue < 1:
        raise WorkbenchError("--queue must be at least 1")
    if args.queue is not None and args.seed is not None:
        # One seed for every queued worker would have them propose the same values.
        raise WorkbenchError(
            "sweep join: --seed is for a worker run here; queued workers each take their own"
        )
    sweep = open_sweep(args.sweep, args.study, Path(args.dir) if args.dir else None)
    console = PipeSafeConsole()
    if args.trials is not None or args.keep is not None:
        from workbench.sweeps.study import parse_keep
        from workbench.sweeps.worker import KEEP_AS_IT_IS, change

        keep = KEEP_AS_IT_IS if args.keep is None else parse_keep(args.keep, "--keep")
        had = change(sweep, args.trials, keep)
        console.print(
            f"sweep {sweep.folder}: {sweep.spec.trials} trials in all ({had} so far)"
            + _keeping(sweep.spec.keep),
            highlight=False,
            soft_wrap=True,
        )
    if args.queue:
        from workbench.runs.queue import Queue

        return _queue_workers(sweep, Queue.open(), args.queue, console)
    if args.keep is not None and args.trials is None:  # a setting changed: no worker started
        return 0
    console.print(f"sweep {sweep.folder}: joining", highlight=False, soft_wrap=True)
    return _work(sweep, console, seed=args.seed)


def _work(sweep, console, first: bool = False, seed: int | None = None) -> int:
    """Run trials here until the sweep has them all; Ctrl-C (or SIGTERM) stops the
    running trial with a checkpoint, and `sweep join` goes on with it."""
    from workbench.sweeps.worker import run_worker

    stop = threading.Event()

    def on_signal(signum, frame):
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        console.print(
            "stopping the trial with a checkpoint (Ctrl-C again to abort)", style="yellow"
        )

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run_worker(
            sweep,
            stop,
            say=lambda line: console.print(line, highlight=False, soft_wrap=True),
            first=first,
            seed=seed,
        )
    except Exception as exc:
        lost = _storage_lost(sweep, exc)
        if lost is None:
            raise
        raise lost from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _print_show(sweep, console)
    return EXIT_STOPPED if stop.is_set() else 0


def _storage_lost(sweep, exc: Exception) -> WorkbenchError | None:
    """A worker whose sweep can no longer be written (its folder removed under it, a
    database gone): one line saying so, not a SQLAlchemy traceback; None for
    anything else."""
    from optuna.exceptions import StorageInternalError

    from workbench.errors import first_line

    if not sweep.folder.is_dir():  # its runs' folder (and SQLite file, unless --storage)
        return WorkbenchError(f"sweep {sweep.folder}: stopped, its folder was removed")
    if isinstance(exc, StorageInternalError):
        reason = first_line(exc.__cause__ or exc)  # Optuna's own line is generic
        return WorkbenchError(
            f"sweep {sweep.folder}: stopped, its storage can no longer be written ({reason})"
        )
    return None


def _show(args) -> int:
    from workbench.console import PipeSafeConsole
    from workbench.sweeps.study import open_sweep

    sweep = open_sweep(args.sweep, args.study, Path(args.dir) if args.dir else None)
    if args.json:
        study = sweep.study()
        rows = sweep.trials(study)
        best = sweep.best(rows)
        print(
            json.dumps(
                {
                    "sweep": str(sweep.folder),
                    "spec": vars(sweep.spec),
                    "trials": [vars(r) for r in rows],
                    "best": best.number if best else None,
                    "importances": sweep.importances(study),
                },
                ensure_ascii=False,
                default=str,
            )
        )
        return 0
    _print_show(sweep, PipeSafeConsole())
    return 0


def _print_show(sweep, console) -> None:
    from workbench.sweeps.present import importance_table, trials_table

    study = sweep.study()
    rows = sweep.trials(study)
    console.print(trials_table(sweep, rows))
    best = sweep.best(rows)
    if best is None:
        console.print("no trial has completed yet", highlight=False)
        return
    importances = sweep.importances(study)
    if importances:
        console.print(importance_table(importances))
    path = sweep.folder / "best.toml"
    path.write_text(sweep.best_recipe(best), encoding="utf-8")
    console.print(
        f"best: trial {best.number}, {sweep.spec.metric} {best.value:.4f}; its recipe: {path}"
        f"\n  workbench run {path}",
        highlight=False,
        soft_wrap=True,
    )


def cmd_sweeps(args) -> int:
    from workbench.cli.common import warn
    from workbench.console import PipeSafeConsole
    from workbench.sweeps.present import sweeps_table
    from workbench.sweeps.study import open_sweep, sweep_folders

    console = PipeSafeConsole()
    folders = sweep_folders(args.dir)
    if not folders:
        console.print(f"no sweeps in {args.dir}/", highlight=False)
        return 0
    summaries = []
    for folder in folders:
        try:
            sweep = open_sweep(folder)
        except WorkbenchError as exc:  # a damaged sweep.json: said, the others listed
            warn([str(exc)])
            continue
        try:
            rows = sweep.trials()
        except WorkbenchError as exc:  # its database is elsewhere and out of reach
            rows, sweep.error = [], str(exc)
        summaries.append((sweep, rows))
    console.print(sweeps_table(summaries))
    console.print("details: workbench sweep show SWEEP", style="dim", highlight=False)
    return 0
