"""Type text, see what a run's model makes of it.

The model is loaded once per choice, in a thread; each prediction runs in a
thread too, newest text wins, so typing never waits for the model.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from rich.console import Group
from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Select, Static
from textual.worker import get_current_worker

from workbench.errors import WorkbenchError
from workbench.models.folder import has_saved_model
from workbench.models.saved import SavedModel, load_saved
from workbench.runs.events import Status
from workbench.runs.index import RunSummary, list_runs
from workbench.tui.format import best_text
from workbench.tui.widgets.prediction import (
    entities_table,
    entities_text,
    probabilities_table,
    relations_table,
)

DEBOUNCE_S = 0.25
LOAD_LOCK = threading.Lock()


def runs_with_models(runs_dir: Path) -> list[RunSummary]:
    """Summaries of the runs (newest first) that hold a saved model."""
    return [run for run in list_runs(runs_dir) if has_saved_model(run.path)]


def model_label(run: RunSummary) -> str:
    """``20261123-054813-demo-ner · ✔ completed · f1 71.36``: which model this is,
    and how good (a run stopped before evaluating says so)."""
    best = best_text(run.metric, run.best_value)
    return f"{run.name} · {run.status.symbol} {run.status} · " + (
        best if best != "-" else "never evaluated"
    )


class PredictScreen(Screen):
    """Pick a run's model; type; see entities or class probabilities."""

    # Short labels: with the four screen keys the footer must fit 80 columns.
    BINDINGS = [
        Binding("ctrl+r", "reload_models", "Reload"),
        Binding("ctrl+l", "clear", "Clear"),
        Binding("escape", "leave_input", "Leave box"),
        Binding("i", "focus_input", "Type"),
    ]

    def __init__(self):
        super().__init__()
        self.loaded: SavedModel | None = None
        self.loaded_from: Path | None = None
        self.model_paths: list[str] = []  # the model list's runs, as it holds them
        self.loading: Path | None = None  # the model being loaded, if any
        self._pending = None

    def compose(self) -> ComposeResult:
        yield Select([], prompt="choose a run's model", id="model-select", allow_blank=True)
        yield Static("", id="model-status")
        yield Input(
            placeholder="type a sentence; predictions follow as you type", id="predict-input"
        )
        with VerticalScroll(id="prediction-pane"):
            yield Static("", id="prediction")
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it

    def on_mount(self) -> None:
        self.action_reload_models()
        self.query_one("#predict-input", Input).focus()

    def action_reload_models(self) -> None:
        runs = runs_with_models(Path(self.app.runs_dir))
        select = self.query_one("#model-select", Select)
        self.model_paths = [str(run.path) for run in runs]
        select.set_options([(model_label(run), str(run.path)) for run in runs])
        if not runs:
            self._status(
                f"No run in {self.app.runs_dir}/ has a saved model yet: train one "
                f"from the Recipes screen (1)."
            )
        elif self.loaded_from is None and self.loading is None:
            # The newest run that completed; a stopped one only when nothing completed.
            completed = [run for run in runs if run.status == Status.COMPLETED]
            select.value = str((completed or runs)[0].path)

    def choose(self, run_dir: Path) -> None:
        """Select ``run_dir``'s model (from another screen)."""
        self.action_reload_models()
        select = self.query_one("#model-select", Select)
        # The list holds the runs folder's paths; a run launched here reports its
        # folder as the child printed it (runs/NAME): compare where they lead.
        wanted = run_dir.resolve()
        match = next((p for p in self.model_paths if Path(p).resolve() == wanted), None)
        if match is None:  # not in the list: no model saved
            self._status(f"{run_dir.name} has no saved model.", error=True)
        else:
            select.value = match

    def _status(self, text: str, error: bool = False) -> None:
        widget = self.query_one("#model-status", Static)
        widget.update(Text(("✖ " if error else "") + text, style="red" if error else "dim"))

    @on(Select.Changed, "#model-select")
    def _model_chosen(self, event: Select.Changed) -> None:
        if not isinstance(event.value, str):  # the blank entry: no model
            self.loaded = self.loaded_from = self.loading = None
            self.query_one("#prediction", Static).update("")
            self._status("Choose a run's model.")
            return
        path = Path(str(event.value))
        if path == self.loaded_from:
            return
        self.loaded, self.loading = None, path
        self._status(f"loading {path.name}…")
        self.load_model(path)

    @work(thread=True, exclusive=True, group="load")
    def load_model(self, path: Path) -> None:
        started = time.perf_counter()
        try:
            with LOAD_LOCK:  # one load at a time: transformers' lazy imports are not thread-safe
                loaded = load_saved(path)
        except WorkbenchError as exc:
            self.app.call_from_thread(self._load_failed, path, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a broken model folder, shown in place
            self.app.call_from_thread(
                self._load_failed, path, f"{path.name}: cannot load the model: {exc}"
            )
            return
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._loaded, path, loaded, time.perf_counter() - started)

    def _load_failed(self, path: Path, message: str) -> None:
        if path == self.loading:
            self.loading = None
        self._status(message, error=True)

    def _loaded(self, path: Path, loaded: SavedModel, seconds: float) -> None:
        if path != self.loading:  # another model was chosen meanwhile
            return
        self.loaded, self.loaded_from, self.loading = loaded, path, None
        task, meta = loaded.task, loaded.meta
        labels = meta.get("labels") or []
        kinds = (
            sorted({lab.split("-", 1)[-1] for lab in labels if lab != "O"})
            if task.name == "ner"
            else labels
        )
        hint = " · mark entities as [[Maria Rossi|PER]]" if task.name == "relation" else ""
        self._status(
            f"{path.name}: {task.name} · {', '.join(kinds)} · loaded in {seconds:.1f} s{hint}"
        )
        text = self.query_one("#predict-input", Input).value
        if text.strip():
            self.predict(text)

    @on(Input.Changed, "#predict-input")
    def _typed(self, event: Input.Changed) -> None:
        if self._pending is not None:
            self._pending.stop()
        if not event.value.strip():
            self.query_one("#prediction", Static).update("")
            return
        self._pending = self.set_timer(DEBOUNCE_S, lambda: self.predict(event.value))

    @on(Input.Submitted, "#predict-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.predict(event.value)

    def action_leave_input(self) -> None:
        self.set_focus(None)  # so 1/2/3 switch screens again

    def action_focus_input(self) -> None:
        self.query_one("#predict-input", Input).focus()

    def action_clear(self) -> None:
        self.query_one("#predict-input", Input).value = ""

    @work(thread=True, exclusive=True, group="predict")
    def predict(self, text: str) -> None:
        if self.loaded is None:  # the text is predicted as soon as a model has loaded
            if self.loading is None:
                self.app.call_from_thread(self._status, "Choose a model first.", True)
            return
        loaded = self.loaded
        task = loaded.task
        started = time.perf_counter()
        try:
            result = task.predict(loaded.model, loaded.tokenizer, [text], loaded.max_length)[0]
        except Exception as exc:  # noqa: BLE001 - shown in place; the app goes on
            self.app.call_from_thread(self._show_error, f"prediction failed: {exc}")
            return
        if not get_current_worker().is_cancelled:
            self.app.call_from_thread(self._show, task.name, result, time.perf_counter() - started)

    def _show_error(self, message: str) -> None:
        self.query_one("#prediction", Static).update(Text(f"✖ {message}", style="red"))

    def _show(self, task: str, result: dict, seconds: float) -> None:
        timing = Text(f"{1000 * seconds:.0f} ms", style="dim")
        if task == "ner":
            entities = result.get("entities", [])
            body: list = [entities_text(result), ""]
            if entities:
                body += [entities_table(result)]
            else:
                body += [Text("no entities found", style="dim")]
        elif task == "relation":
            body = [entities_text(result), ""]
            if len(result.get("entities", [])) < 2:
                body += [
                    Text(
                        "mark two or more entities, e.g. [[Maria Rossi|PER]] works for "
                        "[[Kestrel Bank|ORG]]",
                        style="dim",
                    )
                ]
            elif result.get("relations"):
                body += [relations_table(result)]
            else:
                body += [Text("no relation between the marked entities", style="dim")]
        else:
            body = [
                Text.from_markup(
                    f"[b]{escape(result['label'])}[/b] ({100 * result['score']:.1f}%)"
                ),
                "",
                probabilities_table(result),
            ]
        self.query_one("#prediction", Static).update(Group(*body, "", timing))
