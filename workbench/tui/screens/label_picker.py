"""Any label by keyboard: a filter box over the list of a model's labels, for the
labels past the ninth that the number keys do not reach (and a long list one
would rather type into than count)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

KEYED = 9  # the labels a number key also chooses: their key is shown beside them


def matching(labels: list[str], typed: str) -> list[str]:
    """The labels holding ``typed`` (case ignored): those starting with it first,
    each group in the model's order."""
    needle = typed.strip().lower()
    if not needle:
        return list(labels)
    starts = [label for label in labels if label.lower().startswith(needle)]
    within = [label for label in labels if needle in label.lower() and label not in starts]
    return starts + within


class LabelPicker(ModalScreen[str | None]):
    """Dismisses with the chosen label, or None (Escape). Typing filters; ↑↓ move
    in the list while the box keeps the focus; Enter picks the highlighted one."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "cursor(1)", "Next", show=False),
        Binding("up", "cursor(-1)", "Previous", show=False),
    ]

    def __init__(self, labels: list[str], what: str = "label", current: str | None = None):
        super().__init__()
        self.labels, self.what, self.current = list(labels), what, current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(
                f"Choose a {self.what} ({len(self.labels)}): type to filter, ↑↓ move, "
                f"Enter picks, Esc cancels",
                id="picker-title",
            )
            yield Input(placeholder=f"{self.what} name", id="picker-filter")
            options = OptionList(id="picker-list")
            options.can_focus = False  # the box keeps the focus: typed keys stay text
            yield options
            yield Static("", id="picker-note")

    def on_mount(self) -> None:
        self._fill("")
        if self.current in self.labels:  # open on what is chosen now
            self.query_one(OptionList).highlighted = self.labels.index(self.current)
        self.query_one(Input).focus()

    def _fill(self, typed: str) -> None:
        options = self.query_one(OptionList)
        shown = matching(self.labels, typed)
        options.clear_options()
        options.add_options([Option(self._prompt(label), id=label) for label in shown])
        options.highlighted = 0 if shown else None
        note = "" if shown else f"No {self.what} holds {typed.strip()!r}."
        self.query_one("#picker-note", Static).update(Text(note, style="dim"))

    def _prompt(self, label: str) -> Text:
        place = self.labels.index(label)
        key = f"{place + 1}" if place < KEYED else " "
        return Text.assemble((f" {key} ", "bold reverse" if place < KEYED else ""), f" {label}")

    @on(Input.Changed, "#picker-filter")
    def _filtered(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()  # the screen below must not take this Enter as "accept"
        options = self.query_one(OptionList)
        if options.highlighted is None:
            self.app.bell()
            return
        self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cursor(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            now = options.highlighted if options.highlighted is not None else -step
            options.highlighted = max(0, min(options.option_count - 1, now + step))

    def action_cancel(self) -> None:
        self.dismiss(None)
