"""`workbench tui` (also `workbench` with no command): the Textual workbench."""

from __future__ import annotations

import sys
from pathlib import Path

from workbench.errors import WorkbenchError


def register(sub) -> None:
    """Adds `tui` to ``sub``."""
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
    tui.set_defaults(handler=cmd_tui)


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
