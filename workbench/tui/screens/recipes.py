"""Pick a recipe, see it, override the common keys, launch it."""

from __future__ import annotations

import os
from pathlib import Path

from rich.markup import escape
from rich.syntax import Syntax
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Label, Static

from workbench.errors import WorkbenchError
from workbench.models.pretrained import looks_like_path
from workbench.recipe import Recipe, check_override, load_recipe
from workbench.tui.recipes_index import OVERRIDES, RecipeEntry, find_recipes
from workbench.tui.screens.confirm import ConfirmScreen


def field_id(key: str) -> str:
    return "set-" + key.replace(".", "-").replace("_", "-")


def check_field(key: str, value: str) -> str | None:
    """The error for one override field, or None (an empty field keeps the recipe's value)."""
    value = value.strip()
    if not value:
        return None
    try:
        check_override(f"{key}={value}")
    except WorkbenchError as exc:  # "--set k: 'k' must be..." -> "k must be..."
        return str(exc).replace(f"--set {key}: '{key}' ", f"{key} ").replace("--set ", "", 1)
    if key == "model.name" and looks_like_path(value) and not Path(value).expanduser().exists():
        return f"model.name: no such folder: {value}"
    return None


class RecipesScreen(Screen):
    """The recipes under ./recipes and those named on the command line."""

    BINDINGS = [
        Binding("l", "launch", "Launch"),
        Binding("u", "queue", "Queue"),
        Binding("w", "sweep", "Sweep"),
        Binding("e", "edit_overrides", "Overrides"),
        Binding("r", "reload", "Reload"),
        Binding("escape", "leave_field", "Leave field", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.entries: list[RecipeEntry] = []
        self.errors: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="recipes-main"):
            yield DataTable(id="recipe-table", cursor_type="row", zebra_stripes=True)
            with Vertical(id="recipe-detail"):
                yield Static("", id="recipe-summary")
                with VerticalScroll(id="recipe-source"):
                    yield Static("", id="recipe-toml")
                with Grid(id="overrides"):
                    for key, label in OVERRIDES:
                        yield Label(label, classes="override-label")
                        yield Input(placeholder="", id=field_id(key), compact=True)
                yield Static("", id="launch-errors")
                yield Button("Launch (l)", id="launch", variant="success", compact=True)
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it

    def on_mount(self) -> None:
        table = self.query_one("#recipe-table", DataTable)
        # Model and data are in the summary beside it: the list stays whole at 80 columns.
        table.add_columns("recipe", "task")
        self.action_reload()
        # Start on a recipe that runs here (a bundled demo), not on the first name,
        # which may need the network or files this machine lacks.
        first = next((i for i, e in enumerate(self.entries) if e.runs_here), 0)
        if first:
            table.move_cursor(row=first)
        table.focus()

    def action_reload(self) -> None:
        app = self.app
        self.entries = find_recipes(app.recipes_dir, app.recipe_paths)
        table = self.query_one("#recipe-table", DataTable)
        table.clear()
        for i, entry in enumerate(self.entries):
            task = "✖ error" if entry.error else entry.task
            # The file's name: unique in its folder, where recipe names may repeat.
            table.add_row(escape(entry.path.stem), task, key=str(i))
        if not self.entries:
            self.query_one("#recipe-summary", Static).update(
                f"No recipes in {app.recipes_dir}/. Start workbench in a project folder, or "
                f"name recipe files: workbench path/to/recipe.toml"
            )
        else:
            self._show(0)

    @property
    def selected(self) -> RecipeEntry | None:
        table = self.query_one("#recipe-table", DataTable)
        if not self.entries:
            return None
        return self.entries[min(table.cursor_row, len(self.entries) - 1)]

    @on(DataTable.RowHighlighted, "#recipe-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value is not None:
            self._show(int(event.row_key.value))

    @on(DataTable.RowSelected, "#recipe-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit_overrides()

    def _show(self, index: int) -> None:
        entry = self.entries[index]
        summary = self.query_one("#recipe-summary", Static)
        try:
            text = entry.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            text = f"# cannot read: {exc}"
        self.query_one("#recipe-toml", Static).update(
            Syntax(text, "toml", theme="ansi_dark", line_numbers=True, word_wrap=False)
        )
        if entry.error:
            summary.update(
                f"[b]{escape(str(entry.path))}[/b]\n[red]✖ {escape(entry.error)}[/]"
                + (f"\n{entry.task} · model {escape(entry.model)}" if entry.values else "")
            )
        else:
            more = f" (+{len(entry.warnings) - 1} more)" if len(entry.warnings) > 1 else ""
            warning = f"\n[yellow]⚠ {escape(entry.warnings[0])}{more}[/]" if entry.warnings else ""
            summary.update(
                f"[b]{escape(entry.name)}[/b] · {entry.task} · model "
                f"{escape(entry.model)}\ndata {escape(entry.data)}\n"
                f"[dim]{escape(str(entry.path))}[/]{warning}"
            )
        values = entry.values or {}
        for key, _label in OVERRIDES:
            field = self.query_one(f"#{field_id(key)}", Input)
            current = values.get(key)
            # Says so: the recipe's value is not a typed one (and "-" when it has none)
            field.placeholder = f"recipe: {'-' if current is None else current}"
            field.value = ""
            field.set_class(False, "-set")
        self.errors.clear()
        self._show_errors()

    # -- overrides ---------------------------------------------------------------------
    @on(Input.Changed)
    def _validate(self, event: Input.Changed) -> None:
        key = next((k for k, _ in OVERRIDES if field_id(k) == event.input.id), None)
        if key is None:
            return
        error = check_field(key, event.value)
        event.input.set_class(error is not None, "-invalid")
        event.input.set_class(bool(event.value.strip()) and error is None, "-set")
        if error:
            self.errors[key] = error
        else:
            self.errors.pop(key, None)
        self._show_errors()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.action_launch()

    def _show_errors(self, extra: str | None = None) -> None:
        lines = [f"✖ {escape(e)}" for e in self.errors.values()]
        if extra:
            lines.append(f"✖ {escape(extra)}")
        widget = self.query_one("#launch-errors", Static)
        widget.update("\n".join(lines))
        widget.set_class(bool(lines), "-error")

    def overrides(self) -> list[str]:
        """``section.key=value`` for every filled field."""
        out = []
        for key, _label in OVERRIDES:
            value = self.query_one(f"#{field_id(key)}", Input).value.strip()
            if value:
                out.append(f"{key}={value}")
        return out

    def action_leave_field(self) -> None:
        """Back to the recipe list, where 1/2/3 and l are keys again, not text."""
        self.query_one("#recipe-table", DataTable).focus()

    def action_edit_overrides(self) -> None:
        self.query_one(f"#{field_id(OVERRIDES[0][0])}", Input).focus()

    def _checked(self) -> tuple[RecipeEntry, list[str], Recipe] | None:
        """The chosen recipe, the overrides typed (into the folder the Runs screen
        shows), and the recipe with them; None, with the reason shown, if it cannot run."""
        entry = self.selected
        if entry is None:
            self.notify("No recipe chosen.", severity="warning")
            return None
        if entry.error:
            self._show_errors(entry.error)
            return None
        if self.errors:
            self._show_errors()
            self.notify("Fix the highlighted overrides first.", severity="error")
            return None
        # Into the folder the Runs screen shows, whatever the recipe says (--runs' promise).
        overrides = [*self.overrides(), f"output.dir={Path(self.app.runs_dir).resolve()}"]
        try:  # the quick checks (keys, types, files) here; the data is read by the run
            return entry, overrides, load_recipe(entry.path, overrides)
        except WorkbenchError as exc:
            self._show_errors(str(exc))
            return None

    def action_queue(self) -> None:
        """Add the recipe (with the overrides typed) to `workbench queue`."""
        checked = self._checked()
        if checked is None:
            return
        entry, overrides, _recipe = checked
        from workbench.runs.queue import Queue

        try:
            queue = Queue.open()
            job = queue.add_run(entry.path, overrides, Path.cwd())
        except (WorkbenchError, OSError) as exc:
            self._show_errors(str(exc))
            return
        idle = "" if queue.scheduler_pid() else " No scheduler runs it yet: workbench queue run."
        self.notify(f"Queued #{job.id}: {entry.path.stem}.{idle} (6 shows the queue)")

    def action_sweep(self) -> None:
        """Start the recipe's [sweep] (in a process of its own) and show the Sweeps screen."""
        checked = self._checked()
        if checked is None:
            return
        entry, overrides, recipe = checked
        from workbench.sweeps.study import sweep_settings

        try:
            space, settings = sweep_settings(recipe, [])
        except WorkbenchError as exc:
            self._show_errors(f"{exc} (add a [sweep] table with [sweep.params] to the recipe)")
            return
        if not recipe.data.validation:
            self._show_errors("a sweep needs data.validation: its metric compares the trials")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.app.start_sweep(entry.path, overrides)

        names = ", ".join(p.text for p in space)
        self.app.push_screen(
            ConfirmScreen(
                f"Sweep [b]{escape(entry.path.stem)}[/b]: {settings['trials']} trials, "
                f"{settings['sampler']} sampler, {settings['pruner']} pruner?\n"
                f"{escape(names)}\n[dim]Trials run one after another in a process of its "
                f"own, which goes on if you quit; more workers: workbench sweep join.[/]",
                yes="Sweep",
                danger=False,
            ),
            answer,
        )

    @on(Button.Pressed, "#launch")
    def action_launch(self) -> None:
        checked = self._checked()
        if checked is None:
            return
        entry, overrides, recipe = checked

        def answer(yes: bool | None) -> None:
            if yes:
                self.app.launch(entry.path, overrides)

        # A training run costs minutes to hours: one key never starts one by itself.
        changed = ", ".join(self.overrides()) or "none"
        training = sum(run.returncode is None for run in self.app.launched)
        # Two trainings on a few CPU cores each run several times slower, not half as fast.
        sharing = (
            f"\n[yellow]{training} run(s) started here still train: they will share "
            f"this machine's {os.cpu_count()} CPU cores and GPUs.[/]"
            if training
            else ""
        )
        self.app.push_screen(
            ConfirmScreen(
                f"Train [b]{escape(entry.path.stem)}[/b]: {recipe.task} on "
                f"{escape(recipe['model']['name'])}?\nOverrides: {escape(changed)}\n"
                f"[dim]Into {escape(str(self.app.runs_dir))}/, in a process of its own.[/]"
                f"{sharing}",
                yes="Launch",
                danger=False,
            ),
            answer,
        )
