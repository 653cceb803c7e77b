"""The `workbench` command line: the top-level parser and the entry point.

Each module of this package registers its own subcommands, beside their handlers:
train (run, validate), models (predict, serve, eval, export), app (tui), annotate, runs
(runs, cache), kg and kg_decisions (the kg group); common holds what several of them share.

Heavy libraries (torch, transformers) are imported inside the commands that
need them, so `workbench --help` and `workbench validate` answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Collection

from workbench import __version__
from workbench.cli import annotate, app, kg, models, queue, runs, sweeps, train
from workbench.cli.common import EXIT_STOPPED, EXIT_USAGE, error_prefix
from workbench.errors import WorkbenchError

# In the order `workbench --help` lists their commands.
COMMAND_MODULES = (train, sweeps, queue, models, app, annotate, runs, kg)


def _parser() -> tuple[argparse.ArgumentParser, set[str]]:
    """The parser, and the names of its commands."""
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Fine-tune transformer encoders for NER, text classification and relation "
        "extraction "
        "from TOML recipes, and build knowledge graphs with them.",
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)  # each sets its commands' handler default
    return parser, set(sub.choices)


def _route(argv: list[str], commands: Collection[str] | None = None) -> list[str]:
    """``workbench``, ``workbench --runs DIR`` and ``workbench RECIPE...`` open the TUI.
    ``commands``: the command names (default: those the parser has)."""
    if commands is None:
        commands = _parser()[1]
    if not argv or (argv[0] not in commands and argv[0] not in ("-h", "--help", "--version")):
        return ["tui", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `workbench` console script; returns the exit status."""
    parser, commands = _parser()
    args = parser.parse_args(_route(sys.argv[1:] if argv is None else list(argv), commands))
    try:
        return args.handler(args)
    except WorkbenchError as exc:
        print(f"{error_prefix()}{exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_STOPPED
    except BrokenPipeError:  # `workbench ... | head`: the reader has what it wanted
        from workbench.console import silence_stdout

        silence_stdout()
        return 0
