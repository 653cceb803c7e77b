"""The workbench application: modes, global bindings, routing. Screens do the
rest (``workbench.tui.screens``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.markup import escape
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Input

from workbench.runs.launch import LaunchedRun
from workbench.tui.screens.annotate import AnnotateScreen
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.graph import GraphScreen
from workbench.tui.screens.predict import PredictScreen
from workbench.tui.screens.recipes import RecipesScreen
from workbench.tui.screens.run import RunScreen
from workbench.tui.screens.runs import RunsScreen
from workbench.tui.screens.sweeps import SweepsScreen


def checkpoint_processes(run_dir: Path) -> int:
    """How many processes wrote a run's latest checkpoint (1 when unreadable: the
    resumed child then says what is wrong)."""
    from workbench.engine.checkpoints import read_trainer_state
    from workbench.errors import WorkbenchError
    from workbench.runs.folder import latest_checkpoint

    checkpoint = latest_checkpoint(run_dir)
    if checkpoint is None:
        return 1
    try:
        return int(read_trainer_state(checkpoint).get("processes", 1))
    except (WorkbenchError, TypeError, ValueError):
        return 1


# The screen keys share one footer entry ("1 2 3 4 5 screens"): five names would
# push the screen's own keys off an 80-column footer. Each key's tooltip, the
# command palette (Ctrl+P) and the README name the screens.
SCREENS = Binding.Group("screens")


class WorkbenchApp(App):
    """``workbench`` with no command: recipes, runs (live and finished), predict, graph."""

    CSS_PATH = "app.tcss"
    TITLE = "workbench"
    MODES = {
        "recipes": RecipesScreen,
        "runs": RunsScreen,
        "predict": PredictScreen,
        "graph": GraphScreen,
        "annotate": AnnotateScreen,
        "sweeps": SweepsScreen,
    }
    DEFAULT_MODE = "recipes"
    # F1-F5 work even while a text box has the focus (where 1-5 are typed), and
    # while annotating (where 1-9 choose labels).
    BINDINGS = [
        Binding("1,f1", "goto('recipes')", "Recipes", key_display="1", group=SCREENS),
        Binding("2,f2", "goto('runs')", "Runs", key_display="2", group=SCREENS),
        Binding("3,f3", "goto('predict')", "Predict", key_display="3", group=SCREENS),
        Binding("4,f4", "goto('graph')", "Graph", key_display="4", group=SCREENS),
        Binding("5,f5", "goto('annotate')", "Annotate", key_display="5", group=SCREENS),
        Binding("6,f6", "goto('sweeps')", "Sweeps", key_display="6", group=SCREENS),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        runs_dir: str | Path | None = None,
        recipes_dir: str | Path = "recipes",
        recipe_paths: Iterable[str | Path] = (),
        graph_path: str | Path = "graph.sqlite",
        annotate: dict | None = None,
    ):
        if annotate:  # `workbench annotate` opens on the Annotate screen
            self.DEFAULT_MODE = "annotate"
        super().__init__()
        self.runs_dir = Path(runs_dir) if runs_dir is not None else Path("runs")
        self.recipes_dir = Path(recipes_dir)
        self.recipe_paths = [Path(p) for p in recipe_paths]
        self.graph_path = Path(graph_path)  # the knowledge graph the Graph screen shows
        self.launched: list[LaunchedRun] = []
        self.sweeps_started: list = []  # LaunchedProcess of `workbench sweep`
        # `workbench annotate`: the Annotate screen's model, corpus, out, order, limit
        self.annotate_options = annotate

    def get_key_display(self, binding: Binding) -> str:
        """In a text field 1-5 are text, and while annotating they choose labels:
        the footer shows the keys that still switch screens there (F1-F5)."""
        numbers_taken = isinstance(self.focused, Input) or getattr(
            self.screen, "numbers_are_labels", False
        )
        if numbers_taken and binding.action.startswith("goto(") and binding.key_display:
            return f"F{binding.key_display}"
        return super().get_key_display(binding)

    # -- routing --------------------------------------------------------------------------
    def launch(self, recipe: Path, overrides: list[str]) -> RunScreen:
        """Start ``workbench run`` on ``recipe`` and show it live."""
        run = LaunchedRun(recipe, overrides)
        self.launched.append(run)
        screen = RunScreen(launched=run)
        self.push_screen(screen)
        return screen

    def resume(self, run_dir: Path) -> RunScreen:
        """Start ``workbench run --resume`` on ``run_dir`` (in as many processes as
        wrote its checkpoint) and follow it."""
        run = LaunchedRun(resume=run_dir, devices=checkpoint_processes(run_dir))
        self.launched.append(run)
        screen = RunScreen(launched=run)
        self.push_screen(screen)
        return screen

    def confirm_resume(self, run_dir: Path, step: int) -> None:
        """Ask, then resume ``run_dir`` from its checkpoint at ``step``."""

        def answer(yes: bool | None) -> None:
            if yes:
                self.resume(run_dir)

        processes = checkpoint_processes(run_dir)
        where = "a new process" if processes == 1 else f"{processes} new processes"
        self.push_screen(
            ConfirmScreen(
                f"Resume [b]{escape(run_dir.name)}[/b] from its checkpoint at step {step}?\n"
                f"It trains on in {where} (workbench run --resume), in the same run folder.",
                yes="Resume",
            ),
            answer,
        )

    def start_sweep(self, recipe: Path, overrides: list[str]) -> None:
        """Start `workbench sweep RECIPE` in a process of its own; show the Sweeps screen."""
        from workbench.runs.launch import LaunchedProcess

        process = LaunchedProcess(["sweep", str(recipe), "--set", *overrides])
        self.sweeps_started.append(process)
        self.notify("Sweep started: its first trial prepares (6 shows the sweeps).")
        self.action_goto("sweeps")

        def check() -> None:  # a sweep that could not start says why, not nothing
            lines = process.read_output()
            if process.returncode not in (None, 0):
                last = lines[-1] if lines else ""
                error = next((x for x in reversed(lines) if "error" in x), last)
                self.notify(f"The sweep did not start: {error}", severity="error", timeout=15)

        self.set_timer(8.0, check)

    def open_run(self, run_dir: Path) -> None:
        """Show a run folder: a finished one's curves and reports, or a live one followed."""
        self.push_screen(RunScreen(run_dir))

    def open_predict(self, run_dir: Path) -> None:
        """Switch to the Predict screen with ``run_dir``'s model chosen."""
        self.switch_mode("predict")
        screen = self.screen
        if isinstance(screen, PredictScreen):
            self.call_after_refresh(screen.choose, Path(run_dir))

    def action_goto(self, mode: str) -> None:
        """Show a mode's own screen: from a run or a comparison opened on top of
        it too, not only from another mode."""
        if self.current_mode != mode:
            self.switch_mode(mode)
        while len(self.screen_stack) > 1 and not isinstance(self.screen, ModalScreen):
            self.pop_screen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand(
            "Recipes", "pick a recipe, override keys, launch", lambda: self.action_goto("recipes")
        )
        yield SystemCommand(
            "Runs", "all runs: open, attach, compare", lambda: self.action_goto("runs")
        )
        yield SystemCommand(
            "Predict", "try a run's model on your own text", lambda: self.action_goto("predict")
        )
        yield SystemCommand(
            "Graph",
            "search the knowledge graph, walk relations, find paths",
            lambda: self.action_goto("graph"),
        )
        yield SystemCommand(
            "Sweeps",
            "sweeps (trials best first, their curve) and the queue",
            lambda: self.action_goto("sweeps"),
        )
        yield SystemCommand(
            "Annotate",
            "correct a model on your documents, least certain first; train on the fixes",
            lambda: self.action_goto("annotate"),
        )

    # -- quitting -------------------------------------------------------------------------
    async def action_quit(self) -> None:
        training = [run for run in self.launched if run.returncode is None]
        if not training:
            self.exit()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(
            ConfirmScreen(
                f"{len(training)} run(s) started here are still training. They go on after you "
                f"quit (open them again from the Runs screen). Quit?",
                yes="Quit",
            ),
            answer,
        )
