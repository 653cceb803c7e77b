"""The Graph screen's build pane: ``workbench kg build`` on a corpus, started in a
child process and followed here (its progress, its summary or its error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, ProgressBar, Static

from workbench.tui.screens.graph.common import GraphPane

FIELDS = ("#build-ner", "#build-relations", "#build-corpus")
FOLLOW_S = 0.5  # how often the child's output is read
INTRO = (
    "Enter in any field starts the build (documents already in the graph "
    "unchanged are skipped, changed ones replaced, deleted ones removed; "
    "people's merges and judgements stay). Escape closes; the build goes on."
)


def field_at_fault(error: str, values: dict[str, str]) -> str | None:
    """The field (of ``values``: field -> value) an error line is about: kg build's
    errors start with the value (``demo-ner: no such file…``) or name the option."""
    for field, value in values.items():
        # read_corpus quotes the path as a Path: ~ expanded, a trailing slash dropped
        if value and error.startswith((f"{value}:", f"{Path(value).expanduser()}:")):
            return field
    for field in values:
        if f"--{field.removeprefix('#build-')} " in error:
            return field
    return "#build-corpus" if "corpus" in error else None


class BuildPane(Vertical, GraphPane):
    """Three fields (NER run, relation run, corpus); Enter in any builds. Tab stays
    among the fields (the pane traps the focus; Escape leaves it)."""

    class Finished(Message):
        """The build's child process ended; ``error``: its error line, if it failed."""

        def __init__(self, error: str | None) -> None:
            super().__init__()
            self.error = error

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.building: Any = None  # the kg build child process, while one runs
        self._timer: Any = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="NER run or recipe (e.g. demo-ner)", id="build-ner")
        yield Input(placeholder="relation run or recipe (optional)", id="build-relations")
        yield Input(placeholder="corpus: a folder, text or JSONL file", id="build-corpus")
        yield ProgressBar(id="build-progress", show_eta=False)
        with VerticalScroll(id="build-scroll") as log:
            # A line or two: no stop for Tab after the fields (the mouse still scrolls it).
            log.can_focus = False
            yield Static("", id="build-log")

    def on_mount(self) -> None:
        # Tab from the corpus field wraps to the NER field, not out to the search box.
        self.trap_focus()

    def open(self, last: dict) -> None:
        """Focus the NER field; empty fields start as ``last`` build's."""
        for field, key in zip(FIELDS, ("ner_run", "relation_run", "corpus")):
            widget = self.query_one(field, Input)
            if last.get(key) and not widget.value:
                widget.value = str(last[key])
        self.query_one("#build-ner", Input).focus()
        log = self.query_one("#build-log", Static)
        if not str(log.content):
            log.update(Text(INTRO, style="dim"))

    def _values(self) -> dict[str, str]:
        return {field: self.query_one(field, Input).value.strip() for field in FIELDS}

    @on(Input.Submitted, "#build-ner, #build-relations, #build-corpus")
    def _submitted(self, event: Input.Submitted) -> None:
        from workbench.runs.launch import LaunchedProcess

        values = self._values()
        ner, relations, corpus = values.values()
        if self.building is not None:
            self.say("a build is running already", error=True)
            return
        for value, field in ((ner, "#build-ner"), (corpus, "#build-corpus")):
            if not value:
                self.query_one(field, Input).focus()
                self.say(f"{field[7:]}: needed for a build", error=True)
                return
        argv = ["kg", "build", "--ner", ner, "--corpus", corpus, "--graph", str(self.graph_path)]
        argv += ["--relations", relations] if relations else []
        try:
            self.building = LaunchedProcess([*argv, "--events"])
        except OSError as exc:
            self.say(f"cannot start the build: {exc}", error=True)
            return
        self.query_one("#build-progress", ProgressBar).update(total=None, progress=0)
        self.query_one("#build-log", Static).update(Text("workbench " + " ".join(argv)))
        self.say(Text("building… (loading the models)", style="dim"))
        self._timer = self.set_interval(FOLLOW_S, self._follow)

    def _follow(self) -> None:
        """The child's new output: progress, the summary; ``Finished`` once it ends."""
        from workbench.kg.build import BuildProgress, parse_build_event

        build = self.building
        if build is None:
            return
        bar = self.query_one("#build-progress", ProgressBar)
        for line in build.read_output():
            event = parse_build_event(line)
            if isinstance(event, BuildProgress):
                bar.update(total=max(event.total, 1), progress=event.done)
                self.say(
                    Text(
                        f"building: {event.done} of {event.total} documents · "
                        f"{event.documents_per_s:.1f} docs/s",
                        style="dim",
                    )
                )
            elif isinstance(event, dict):
                # "added" counts replaced documents too: new ones are the rest.
                counts = {
                    "new": event["added"] - event["replaced"],
                    "replaced": event["replaced"],
                    "unchanged": event["skipped"],
                    "removed": event["removed"],
                }
                summary = ", ".join(f"{n} {what}" for what, n in counts.items())
                log = Text(f"built in {event['seconds']:.1f} s: {summary} documents")
                for warning in event.get("warnings") or []:  # e.g. text the model cannot read
                    log.append(f"\n⚠ {warning}", style="yellow")
                self.query_one("#build-log", Static).update(log)
        if build.returncode is None:
            return
        self._timer.stop()
        self.building = None
        error = build.error()
        if error:
            self.say(f"the build failed: {error}", error=True)
        else:
            self.say("built; the statistics are read again")
        self.post_message(self.Finished(error))

    def on_build_pane_finished(self, message: BuildPane.Finished) -> None:
        """A failed build: the focus goes to the field at fault (or stays in the pane),
        for the fix and Enter again; unless the pane was closed meanwhile."""
        if message.error is None or not self.display:
            return
        field = field_at_fault(message.error, self._values())
        focused = self.screen.focused
        if field is not None:
            self.query_one(field, Input).focus()
        elif focused is None or self not in focused.ancestors:
            self.query_one("#build-ner", Input).focus()
