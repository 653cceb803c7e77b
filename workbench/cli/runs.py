"""`workbench runs` (the run folders, as a table or JSON lines) and `workbench cache`
(the tokenised-feature cache)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.cli.common import warn


def register(sub) -> None:
    """Adds `runs` and `cache` to ``sub``."""
    runs = sub.add_parser("runs", help="list run folders")
    runs.add_argument("--dir", default="runs", help="runs folder (default: runs)")
    runs.add_argument("--json", action="store_true", help="one JSON object a line")
    runs.set_defaults(handler=cmd_runs)
    cache = sub.add_parser(
        "cache",
        help="the tokenised-feature cache: where, how big; --clear empties it",
        description="Tokenised features kept across runs (WORKBENCH_CACHE=DIR moves "
        "the cache, WORKBENCH_CACHE=off turns it off).",
    )
    cache.add_argument("--clear", action="store_true", help="delete every entry")
    cache.set_defaults(handler=cmd_cache)


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
    warn([f"{run.path}: {run.warning}" for run in runs if run.warning])
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
