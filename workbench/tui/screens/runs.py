"""Every run folder as a sortable table, live statuses included; open one,
mark several to compare."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from workbench.runs.follow import EventFollower, RunState
from workbench.runs.index import RunSummary, run_folders, summary_of
from workbench.tui.format import best_text, duration_text, status_markup

REFRESH_S = 2.0
# What tells runs apart first: narrow terminals cut the columns on the right (at 80
# columns, part of steps). The recipe is the run folder's tail, so it has no column.
COLUMNS = ("", "run", "status", "best", "duration", "task", "steps")
SORT_KEYS = {
    "run": lambda r: r.name,
    "task": lambda r: r.task,
    "status": lambda r: r.status,
    "best": lambda r: (r.best_value is None, -(r.best_value or 0)),
    "steps": lambda r: r.steps,
    "duration": lambda r: r.duration_s or 0.0,
}


class RunsScreen(Screen):
    """Run folders under the app's runs folder."""

    BINDINGS = [
        Binding("enter", "open", "Open", show=True),
        Binding("space", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("o", "cycle_sort", "Sort"),
        Binding("p", "predict", "Predict"),
        Binding("r", "resume", "Resume"),
    ]

    def __init__(self):
        super().__init__()
        self.runs: list[RunSummary] = []
        self.marked: set[str] = set()
        self.sort_by = "run"
        self.reverse = True  # newest first
        # One follower and state per folder: a refresh reads only what was appended.
        self._followed: dict[Path, tuple[EventFollower, RunState]] = {}

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True, show_command_palette=False)  # Ctrl+P still opens it

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column or "mark")
        self.action_refresh()
        self.set_interval(REFRESH_S, self.action_refresh)
        table.focus()

    def on_screen_resume(self) -> None:
        self.action_refresh()

    def _summary(self, folder: Path) -> RunSummary | None:
        """The folder's summary, from the events appended since the last refresh."""
        if folder not in self._followed:
            self._followed[folder] = (EventFollower(folder), RunState(folder))
        follower, state = self._followed[folder]
        try:
            state.follow(follower)
            return summary_of(state)
        except Exception:  # noqa: BLE001 - a broken folder must not break the table
            return None

    def action_refresh(self) -> None:
        runs_dir = Path(self.app.runs_dir)
        # run_folders gives newest first, which the stable sort keeps for ties.
        folders = run_folders(runs_dir)
        for gone in set(self._followed) - set(folders):
            del self._followed[gone]
        runs = [s for s in map(self._summary, folders) if s is not None]
        runs.sort(key=SORT_KEYS[self.sort_by], reverse=self.reverse)
        self.runs = runs
        table = self.query_one("#runs-table", DataTable)
        current = table.cursor_row
        key = (
            self.runs[current].name
            if 0 <= current < len(table.rows) and current < len(runs)
            else None
        )
        table.clear()
        for run in runs:
            table.add_row(
                "✓" if run.name in self.marked else " ",
                escape(run.name),
                Text.from_markup(
                    status_markup(run.status, run.resumable_from, damaged=run.warning is not None)
                ),
                best_text(run.metric, run.best_value),
                Text(duration_text(run.duration_s), justify="right"),
                run.task,
                Text(run.steps_text, justify="right"),
                key=run.name,
            )
        if key is not None and key in {r.name for r in runs}:
            table.move_cursor(row=[r.name for r in runs].index(key))
        arrow = "▼" if self.reverse else "▲"
        marked = f" · {len(self.marked)} marked (c compares)" if self.marked else ""
        empty = (
            ""
            if runs
            else (
                " · no runs yet: launch a recipe (1) or run workbench run RECIPE"
                if runs_dir.is_dir()
                else " · [yellow]this folder does not exist (yet)[/]"
            )
        )
        self.query_one("#runs-title", Static).update(
            f"[b]runs[/b] in {escape(str(runs_dir))} · {len(runs)} runs · sorted by "
            f"{self.sort_by} {arrow}{marked}{empty}"
        )

    def _current(self) -> RunSummary | None:
        table = self.query_one("#runs-table", DataTable)
        if not self.runs or table.cursor_row >= len(self.runs):
            return None
        return self.runs[table.cursor_row]

    @on(DataTable.RowSelected, "#runs-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open()

    @on(DataTable.HeaderSelected, "#runs-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        if column in SORT_KEYS:
            self.reverse = not self.reverse if column == self.sort_by else column != "run"
            self.sort_by = column
            self.action_refresh()

    def action_open(self) -> None:
        run = self._current()
        if run is not None:
            self.app.open_run(run.path)

    def action_mark(self) -> None:
        run = self._current()
        if run is None:
            return
        self.marked ^= {run.name}
        self.action_refresh()

    def action_cycle_sort(self) -> None:
        keys = list(SORT_KEYS)
        self.sort_by = keys[(keys.index(self.sort_by) + 1) % len(keys)]
        self.reverse = self.sort_by in ("run", "best", "duration", "steps")
        self.action_refresh()

    def action_compare(self) -> None:
        chosen = [r.path for r in self.runs if r.name in self.marked]
        if len(chosen) < 2:
            self.notify("Mark two or more runs with Space, then press c.", severity="warning")
            return
        from workbench.tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(chosen))

    def action_predict(self) -> None:
        run = self._current()
        if run is not None:
            self.app.open_predict(run.path)

    @on(DataTable.RowHighlighted, "#runs-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_bindings()  # Resume shows for runs that can resume

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "resume":
            run = self._current()
            return run is not None and run.resumable_from is not None
        return True

    def action_resume(self) -> None:
        run = self._current()
        if run is None or run.resumable_from is None:
            self.notify(
                "Only a stopped, failed or died run with a checkpoint can resume.",
                severity="warning",
            )
            return
        self.app.confirm_resume(run.path, run.resumable_from)
