"""What several command modules share: exit statuses, the error prefix, warnings,
argument checks, RUN arguments, and the --graph option of the kg subcommands."""

from __future__ import annotations

import os
import sys

from workbench.errors import WorkbenchError

EXIT_FAILED, EXIT_USAGE, EXIT_STOPPED = 1, 2, 130


def error_prefix() -> str:
    """``error: `` (``[rank 1] error: `` in the other processes of a multi-process run,
    whose errors would otherwise print once per process, indistinguishably)."""
    rank = os.environ.get("RANK", "0")
    return "error: " if rank == "0" else f"[rank {rank}] error: "


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)


def positive(name: str, value: int) -> None:
    if value < 1:
        raise WorkbenchError(f"{name} must be at least 1")


def model_run(reference: str, runs_dir: str = "runs") -> str:
    """A RUN argument as a path; says on stderr which run a name meant."""
    from workbench.models.folder import find_model_run

    path, note = find_model_run(reference, runs_dir)
    if note:
        print(note, file=sys.stderr, flush=True)
    return str(path)


def graph_option(parser) -> None:
    """The --graph FILE option every kg subcommand takes."""
    parser.add_argument(
        "--graph",
        default="graph.sqlite",
        metavar="FILE",
        help="graph file (default: graph.sqlite)",
    )


def print_listing(
    json_lines: bool, console, rows: list[dict], table, hint: str, empty: str
) -> None:
    """A list command's output: one JSON object a line, or ``table(rows)`` and a
    hint for what to do next, or ``empty`` when there is nothing."""
    import json

    if json_lines:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    elif rows:
        console.print(table(rows))
        console.print(hint, highlight=False)
    else:
        console.print(empty, highlight=False)


def set_option(parser, help: str | None = None) -> None:
    """``--set SECTION.KEY=VALUE ...``: recipe keys overridden (run, validate, sweep, queue add)."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="extend",
        nargs="+",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=help,
    )
