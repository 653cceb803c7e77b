"""`workbench run` (training a recipe headless: in one process, or in N under torchrun
with --devices) and `workbench validate` (recipes and their data, without training)."""

from __future__ import annotations

import os
import signal
import sys
import threading

from workbench.cli.common import (
    EXIT_FAILED,
    EXIT_STOPPED,
    EXIT_USAGE,
    error_prefix,
    set_option,
    warn,
)
from workbench.errors import WorkbenchError
from workbench.runs.folder import RUN_FOLDER_PREFIX


def register(sub) -> None:
    """Adds `run` and `validate` to ``sub``."""
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
    set_option(run, help="override recipe keys")
    run.add_argument("--plain", action="store_true", help="line-based output even in a terminal")
    run.add_argument(
        "--quiet-reports",
        action="store_true",
        help="print evaluation metrics without the per-label tables",
    )
    run.add_argument(
        "--sweep-trial",
        metavar="SWEEP#TRIAL",
        help="(set by workbench sweep) the trial this run is: its evaluations go to the sweep",
    )
    run.set_defaults(handler=cmd_run)

    validate = sub.add_parser("validate", help="check recipes and their data without training")
    validate.add_argument("recipes", nargs="+", metavar="RECIPE")
    set_option(validate)
    validate.set_defaults(handler=cmd_validate)


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
            print(f"{error_prefix()}{exc}", file=sys.stderr, flush=True)
            failed += 1
            continue
        warn(exp.recipe.warnings + exp.coverage_warnings())
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
        warn(experiment.recipe.warnings)  # once, not once per process
    if starting:
        from workbench.runs.launch import run_in_processes

        return run_in_processes(args.devices, _run_argv(args))
    main = is_main_process()
    console = PipeSafeConsole()
    if main and point is not None:
        console.print(
            f"{RUN_FOLDER_PREFIX}{point.run_dir}", highlight=False, soft_wrap=True, markup=False
        )
    views: list = (
        [
            ConsoleView(
                console, live=False if args.plain else None, show_reports=not args.quiet_reports
            )
        ]
        if main
        else []
    )
    stop = threading.Event()
    sweep = None
    if main and args.sweep_trial:
        from workbench.sweeps.pruning import TrialReporter

        reporter = TrialReporter(args.sweep_trial, stop)
        views.append(reporter)
        sweep = reporter.info

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

        run_dir, end = run_experiment(experiment, views, stop=stop, resume=point, sweep=sweep)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if main:
        console.print(
            f"{RUN_FOLDER_PREFIX}{run_dir}", highlight=False, soft_wrap=True, markup=False
        )
    elif end.status == "failed" and end.error:
        # Only the main process writes the run; another one's own error would be lost.
        print(f"{error_prefix()}{end.error}", file=sys.stderr)
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


def _run_argv(args) -> list[str]:
    """``workbench run`` arguments for the processes a launcher starts."""
    argv = ["run", *(["--resume", args.resume] if args.resume else [args.recipe])]
    if args.overrides:
        argv += ["--set", *args.overrides]
    if args.plain:
        argv.append("--plain")
    if args.quiet_reports:
        argv.append("--quiet-reports")
    if args.sweep_trial:
        argv += ["--sweep-trial", args.sweep_trial]
    return argv
