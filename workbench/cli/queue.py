"""`workbench queue`: runs queued in a folder that persists (add, list, remove, stop,
clear), and the scheduler that starts them as GPUs free up (`queue run`). The logic
is in workbench/runs/queue.py; this module parses, prints and draws."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from workbench.cli.common import EXIT_FAILED, positive, set_option, warn
from workbench.errors import WorkbenchError

# Statuses a run folder never has; the others look as they do in `workbench runs`.
_QUEUE_LOOK = {"waiting": ("…", "blue"), "removed": ("-", "dim")}


def register(sub) -> None:
    """Adds `queue` and its subcommands to ``sub``."""
    queue = sub.add_parser(
        "queue",
        help="queue runs to start as GPUs (slots) free up",
        description="Runs queued in a folder that outlives the shell "
        "(WORKBENCH_QUEUE=DIR, default ~/.local/state/workbench/queue); `queue run` "
        "starts them as slots free up. Without a subcommand: `queue list`.",
    )
    queue.set_defaults(handler=cmd_list, all=False, json=False)
    commands = queue.add_subparsers(dest="queue_command", metavar="SUBCOMMAND")

    add = commands.add_parser(
        "add", help="queue `workbench run RECIPE` (checked now, as `run` would)"
    )
    add.add_argument("recipe", metavar="RECIPE", help="recipe TOML file")
    set_option(add, help="override recipe keys")
    add.add_argument(
        "--devices", type=int, default=1, metavar="N", help="train on N GPUs (slots) at once"
    )
    add.add_argument("--plain", action="store_true", help="(implied: queued runs write logs)")
    add.set_defaults(handler=cmd_add)

    listing = commands.add_parser("list", help="the waiting and running jobs (the default)")
    listing.add_argument("--all", action="store_true", help="ended and removed jobs as well")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(handler=cmd_list)

    run = commands.add_parser(
        "run",
        help="the scheduler: start queued runs as slots free up",
        description="Start the queued jobs, each on as many slots as it asks for, as slots "
        "free up. Ctrl-C stops the scheduler, not the jobs: the next `queue run` adopts "
        "those still running.",
    )
    where = run.add_mutually_exclusive_group()
    where.add_argument("--gpus", metavar="IDS", help="the GPUs to use, e.g. 0,1,2,3 (default: all)")
    where.add_argument(
        "--slots", type=int, metavar="N", help="N simulated slots (several runs on a CPU)"
    )
    run.add_argument(
        "--until-empty",
        action="store_true",
        help="exit once nothing waits or runs (status 1 if a job failed)",
    )
    run.add_argument(
        "--detach", action="store_true", help="run in the background, surviving the terminal"
    )
    run.add_argument(
        "--poll", type=float, default=1.0, metavar="S", help="seconds between looks (default 1)"
    )
    run.set_defaults(handler=cmd_run)

    for name, handler, text in (
        ("remove", cmd_remove, "take a waiting job off the queue"),
        ("stop", cmd_stop, "stop a running job (it checkpoints first)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("job", metavar="ID", help="the job's number, as `queue list` shows")
        command.set_defaults(handler=handler)
    clear = commands.add_parser("clear", help="delete ended jobs (and their logs) from the list")
    clear.set_defaults(handler=cmd_clear)


def cmd_add(args) -> int:
    from workbench.recipe import load_recipe
    from workbench.runs.queue import Queue

    positive("--devices", args.devices)
    recipe = load_recipe(args.recipe, args.overrides)  # a bad recipe is refused now
    warn(recipe.warnings)
    queue = Queue.open()
    job = queue.add_run(args.recipe, args.overrides, os.getcwd(), devices=args.devices)
    print(f"queued #{job.id}: {job.label}")
    if queue.scheduler_pid() is None:
        print("no scheduler runs this queue: start one with `workbench queue run`", file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    import json
    from dataclasses import asdict

    from workbench.console import PipeSafeConsole
    from workbench.runs.queue import Queue

    queue = Queue.open()
    jobs = queue.jobs(include_ended=args.all)
    if args.json:
        for job in jobs:
            print(json.dumps(asdict(job), ensure_ascii=False))
        return 0
    console = PipeSafeConsole()
    if jobs:
        console.print(jobs_table(jobs))
    else:
        console.print(f"the queue {queue.folder} is empty", highlight=False)
    hidden = len(queue.jobs()) - len(jobs)
    if hidden:
        console.print(f"{hidden} ended: `workbench queue list --all`", style="dim")
    pid = queue.scheduler_pid()
    scheduler = f"scheduler: pid {pid}" if pid else "no scheduler: `workbench queue run`"
    console.print(scheduler, style="dim", highlight=False)
    return 0


def jobs_table(jobs: list):
    """The `queue list` table: number, status, slots, label, time, run folder."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        show_edge=False, pad_edge=False, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True
    )
    for column in ("id", "status", "slots", "job", "time", "run folder"):
        table.add_column(column, justify="right" if column in ("id", "time") else "left")
    for job in jobs:
        needs = f"needs {job.devices}" if job.devices > 1 and job.status == "waiting" else "-"
        table.add_row(
            str(job.id),
            _status(job.status),
            job.slots or needs,
            escape(job.label),
            _time_text(job),
            _folder_text(job),
        )
    return table


def _status(status: str) -> str:
    from workbench.runs.events import STATUS_LOOK, Status

    symbol, colour = _QUEUE_LOOK.get(status) or STATUS_LOOK[Status.of(status)]
    return f"[{colour}]{symbol} {status}[/]"


def _time_text(job) -> str:
    """How long a job has waited or run, or how long it ran."""
    from workbench.console import duration_text

    if job.status == "waiting":
        return duration_text(time.time() - job.added)
    if job.started is None:
        return "-"
    return duration_text((job.ended or time.time()) - job.started)


def _folder_text(job) -> str:
    """The job's run folder; a failed job's error where it has none."""
    from rich.markup import escape

    if job.run_dir:
        return escape(_shown_path(job.run_dir))
    return f"[red]{escape(job.error)}[/]" if job.error else "-"


def _shown_path(path: str) -> str:
    """``path`` relative to the working folder when it is inside it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def cmd_run(args) -> int:
    from rich.markup import escape

    from workbench.console import PipeSafeConsole
    from workbench.runs.queue import Queue, run_queue

    if args.poll <= 0:
        raise WorkbenchError("--poll must be more than 0 seconds")
    queue = Queue.open()
    if args.detach:
        if args.gpus is not None or args.slots is not None:
            _slots(args)  # bad input is refused here, not in a log
        return _detach(queue, args)
    slots = _slots(args)
    console = PipeSafeConsole()
    stop = threading.Event()
    failed: list[int] = []

    def on_change(job) -> None:
        if job.status == "failed":
            failed.append(job.id)
        when = time.strftime("%H:%M:%S")
        console.print(f"{when} #{job.id} {_change_text(job)}: {escape(job.label)}", soft_wrap=True)
        if job.error:
            console.print(f"    {escape(job.error)}", style="red", soft_wrap=True)
        if job.run_dir and job.status != "running":
            console.print(f"    run folder: {escape(job.run_dir)}", soft_wrap=True)

    def on_signal(signum, frame) -> None:
        # The jobs are in sessions of their own: this reaches the scheduler alone.
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    console.print(
        f"scheduler (pid {os.getpid()}) on slots {','.join(slots)}: {queue.folder}",
        highlight=False,
        soft_wrap=True,
    )
    try:
        run_queue(
            queue,
            slots,
            stop=stop,
            poll_s=args.poll,
            on_change=on_change,
            until_empty=args.until_empty,
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    running = [job for job in queue.jobs(include_ended=False) if job.status == "running"]
    if running:
        console.print(
            f"scheduler stopped; {len(running)} job(s) still running "
            "(the next `workbench queue run` adopts them)",
            style="yellow",
        )
    return EXIT_FAILED if failed and args.until_empty else 0


def _change_text(job) -> str:
    if job.status == "running":
        return f"{_status(job.status)} on {job.slots}"
    if job.status == "failed" and job.returncode is not None:
        return f"{_status(job.status)} (exit {job.returncode})"
    return _status(job.status)


def _slots(args) -> list[str]:
    """The slots `queue run` was given: --gpus, --slots, or this machine's GPUs."""
    from workbench.runs.queue import default_slots, simulated_slots

    if args.slots is not None:
        return simulated_slots(args.slots)
    if args.gpus is None:
        return default_slots()
    gpus = [gpu.strip() for gpu in args.gpus.split(",")]
    if not all(gpu.isdigit() for gpu in gpus) or len(set(gpus)) != len(gpus):
        raise WorkbenchError(
            f"--gpus {args.gpus}: give distinct GPU numbers separated by commas, e.g. 0,1,2,3"
        )
    return gpus


def _detach(queue, args) -> int:
    """`queue run` again, in the background and a session of its own (so closing the
    terminal or the SSH connection leaves it running), its output in the queue folder."""
    from workbench.runs.queue import SCHEDULER_LOG

    pid = queue.scheduler_pid()
    if pid is not None:
        raise WorkbenchError(f"a scheduler already runs the queue {queue.folder} (pid {pid})")
    argv = [sys.executable, "-m", "workbench", "queue", "run", "--poll", str(args.poll)]
    if args.gpus is not None:
        argv += ["--gpus", args.gpus]
    if args.slots is not None:
        argv += ["--slots", str(args.slots)]
    if args.until_empty:
        argv.append("--until-empty")
    log = queue.folder / SCHEDULER_LOG
    with open(log, "ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    # One that fails at once (another scheduler won the race) says so here.
    try:
        code = process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        code = None
    if code not in (None, 0):
        raise WorkbenchError(f"the scheduler exited at once (status {code}): see {log}")
    print(f"scheduler started in the background: pid {process.pid}, log {log}")
    return 0


def _job_id(text: str) -> int:
    number = text.removeprefix("#")
    if not number.isdigit():
        raise WorkbenchError(f"{text}: not a job number (`workbench queue list` shows them)")
    return int(number)


def cmd_remove(args) -> int:
    from workbench.runs.queue import Queue

    job = Queue.open().remove(_job_id(args.job))
    print(f"removed #{job.id}: {job.label}")
    return 0


def cmd_stop(args) -> int:
    from workbench.runs.queue import Queue

    job = Queue.open().stop(_job_id(args.job))
    print(f"stopping #{job.id} (it checkpoints first): {job.label}")
    return 0


def cmd_clear(args) -> int:
    from workbench.runs.queue import Queue

    count = Queue.open().clear_ended()
    print(f"cleared {count} ended job{'' if count == 1 else 's'}")
    return 0
