"""Teach the model: the corpus's sentences (or a relation run's entity pairs),
pre-labelled by a run's model, most useful first; accept, fix or reject each,
keyboard first. Every decision is on disk before the next one shows
(``workbench.annotate``)."""

from __future__ import annotations

import math
from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Select, Static

from workbench.annotate.decisions import ACCEPTED, FIXED, REJECTED, DecisionLog
from workbench.annotate.orders import DEFAULT_ORDER, ORDER_SAID, ORDERS
from workbench.annotate.pairs import RELATION, build_pair_queue, propose_pairs
from workbench.annotate.pool import TASKS, build_queue, propose
from workbench.annotate.session import Session
from workbench.annotate.setup import default_out, recipe_columns, run_folder_of
from workbench.errors import WorkbenchError
from workbench.models import vocabulary
from workbench.models.saved import SavedModel
from workbench.runs.events import Status
from workbench.tasks.ner import entity_types
from workbench.tui.screens.confirm import ConfirmScreen
from workbench.tui.screens.label_picker import LabelPicker
from workbench.tui.screens.predict import LOAD_LOCK, runs_with_models
from workbench.tui.widgets.annotation import (
    colour_of,
    decision_view,
    labels_view,
    sentence_text,
)

__all__ = ["AnnotateScreen", "colour_of", "sentence_text"]  # the views, where tests find them

DEFAULT_CORPUS = Path("data/demo/corpus")
NOUNS = {"classification": "text", RELATION: "pair"}  # what one item is, in messages


class AnnotateScreen(Screen):
    """Choose a run, a corpus and a file; then decide sentence after sentence."""

    BINDINGS = [
        Binding("left", "move(-1)", "Word", show=False),
        Binding("right", "move(1)", "Word", show=False),
        Binding("shift+left", "extend(-1)", "Select", show=False),
        Binding("shift+right", "extend(1)", "Select", show=False),
        Binding("home", "home(False)", "First", show=False),
        Binding("end", "home(True)", "Last", show=False),
        *[Binding(str(n), f"label({n})", f"Label {n}", show=False) for n in range(1, 10)],
        Binding("l", "pick_label", "Labels", show=False),  # any label, past the ninth too
        Binding("enter,a", "accept", "Accept"),
        # The footer keeps to the deciding keys (the screen keys F1-F5 share it); the
        # editing keys are listed under the sentence.
        Binding("x,delete,backspace", "delete", "Remove", show=False),
        Binding("r", "reject", "Reject", show=False),
        Binding("u,ctrl+z", "undo", "Undo", key_display="u"),
        Binding("t", "train", "Train"),
        Binding("s", "skip", "Skip", show=False),
        Binding("p", "proposal", "Model's", show=False),
        Binding("escape", "setup", "Back", show=False),
        Binding("i", "focus_form", "Edit", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.session: Session | None = None
        self.run_dir: Path | None = None
        self.loaded: SavedModel | None = None  # kept between sessions
        self.loaded_from: Path | None = None
        self.ner_loaded: SavedModel | None = None  # a relation run's NER model, kept too
        self.ner_from: Path | None = None
        self.busy = False
        self.limit: int | None = None
        self._default_out: Path | None = None  # what the decisions box was filled with

    def compose(self) -> ComposeResult:
        yield Static("annotate", id="annotate-title")
        fields = [
            (
                "model run",
                Input(placeholder="run folder, run name or recipe name", id="annotate-model"),
            ),
            (
                "corpus",
                Input(
                    placeholder="a text file, a folder of them, or JSON records",
                    id="annotate-corpus",
                ),
            ),
            (
                "NER run",
                Input(
                    placeholder="relation run on raw text: NER run that finds entities",
                    id="annotate-ner",
                ),
            ),
            ("decisions", Input(placeholder="annotations/RUN.jsonl", id="annotate-out")),
            (
                "order",
                Select(
                    [(o, o) for o in ORDERS],
                    value=DEFAULT_ORDER,
                    allow_blank=False,
                    id="annotate-order",
                ),
            ),
        ]
        with Vertical(id="annotate-setup"):
            for label, widget in fields:
                with Horizontal(classes="annotate-field"):
                    yield Static(label, classes="annotate-label")
                    yield widget
            yield Static(
                "Enter starts: the model reads the corpus; in the balanced order the least "
                "certain of each kind of sentence come first. Decisions are appended to the "
                "file at once; reopening it goes on where you stopped.",
                id="annotate-help",
            )
        # Not focusable: Home, End and the arrows move over the words, not the pane.
        with VerticalScroll(id="annotate-work", can_focus=False):
            yield Static("", id="annotate-sentence")
            yield Static("", id="annotate-meta")
            yield Static("", id="annotate-labels")  # before the list: a long one hides nothing
            yield Static("", id="annotate-entities")
        yield Static("", id="annotate-status")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        # `workbench annotate --model ... --corpus ...` fills the form and starts.
        given = getattr(self.app, "annotate_options", None) or {}
        self.limit = given.get("limit")
        self.query_one("#annotate-work").display = False
        model = given.get("model") or self._latest_run()
        self.query_one("#annotate-model", Input).value = model or ""
        corpus = given.get("corpus") or (str(DEFAULT_CORPUS) if DEFAULT_CORPUS.exists() else "")
        self.query_one("#annotate-corpus", Input).value = corpus
        self.query_one("#annotate-out", Input).value = given.get("out") or ""
        self.query_one("#annotate-ner", Input).value = given.get("ner") or ""
        self.query_one("#annotate-order", Select).value = given.get("order") or DEFAULT_ORDER
        self.query_one("#annotate-model", Input).focus()
        if given.get("model") and given.get("corpus"):
            self.start()
        else:
            self._status("Choose a run's model and a corpus; Enter starts.")

    def _latest_run(self) -> str | None:
        """The newest completed run whose model annotate can use."""
        from workbench.models.folder import has_whole_model, saved_task

        for run in runs_with_models(Path(self.app.runs_dir)):
            # A whole model: a LoRA adapter's run cannot be trained on from here.
            if run.status != Status.COMPLETED or not has_whole_model(run.path):
                continue
            try:
                if saved_task(run.path)[1] in TASKS:
                    return str(run.path)
            except WorkbenchError:
                continue
        return None

    # -- state shown ----------------------------------------------------------------------
    @property
    def numbers_are_labels(self) -> bool:
        """While deciding, 1-9 choose labels (the app's screen keys are F1-F5)."""
        return self.session is not None

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Session keys only in a session (so Enter in the form starts one)."""
        if action == "setup":
            return True
        current = self.session is not None and self.session.current is not None
        if action in ("move", "extend", "home", "delete"):  # the words of an NER sentence
            return current and self.session is not None and self.session.task == "ner"
        if action in ("proposal", "pick_label"):
            return current
        if action in ("label", "accept", "reject", "skip", "undo", "train"):
            return self.session is not None  # 1-9 stay labels to the last sentence
        return True

    def _status(self, text: str | Text, error: bool = False) -> None:
        shown = Text("✖ " + str(text), style="red") if error else text
        self.query_one("#annotate-status", Static).update(shown)

    def _draw(self) -> None:
        session = self.session
        if session is None:
            return
        counts = session.log.counts()
        item = session.current
        self.query_one("#annotate-title", Static).update(
            Text.assemble(
                ("annotate", "bold"),
                f" · {self.run_dir.name if self.run_dir else ''} → {session.log.path.name} · ",
                (f"{sum(counts.values())} decided", "bold"),
                f": {counts[ACCEPTED]} accepted, {counts[FIXED]} fixed, "
                f"{counts[REJECTED]} rejected · {len(session.queue)} to go",
            )
        )
        sentence = self.query_one("#annotate-sentence", Static)
        if item is None:
            noun = NOUNS.get(session.task, "sentence")
            sentence.update(
                Text(
                    f"Every {noun} of the queue is decided. t trains on them; Escape "
                    "chooses another corpus or run.",
                    style="bold",
                )
            )
            for name in ("meta", "entities", "labels"):
                self.query_one(f"#annotate-{name}", Static).update("")
            return
        sentence.update(sentence_text(session))
        sure = (
            f"model {100 * math.exp(item.confidence):.0f}% sure"
            if not math.isnan(item.confidence)
            else "decided in an earlier session"
        )
        changed = " · changed from the model's proposal (p restores it)" if session.changed else ""
        self.query_one("#annotate-meta", Static).update(
            Text(
                f"{item.source} · "
                + (f"sentence {item.sentence + 1} · " if session.task != "classification" else "")
                + f"{sure}{changed}",
                style="dim",
            )
        )
        self.query_one("#annotate-entities", Static).update(decision_view(session))
        self.query_one("#annotate-labels", Static).update(labels_view(session))

    # -- starting -------------------------------------------------------------------------
    @on(Input.Submitted)
    def _submitted(self, _event: Input.Submitted) -> None:
        self.start()

    def start(self) -> None:
        """Resolve the form, then load the model and read the corpus in a thread."""
        from workbench.models.folder import find_model_run, saved_task

        if self.busy:
            return
        reference = self.query_one("#annotate-model", Input).value.strip()
        corpus = self.query_one("#annotate-corpus", Input).value.strip()
        if not reference:
            self._status("Name a run whose model proposes the labels.", error=True)
            return
        if not corpus:
            self._status(
                "Name a corpus: a text file, a folder of them, or JSON records.", error=True
            )
            return
        out_box = self.query_one("#annotate-out", Input)
        try:
            run_dir = run_folder_of(find_model_run(reference, self.app.runs_dir)[0])
            columns = recipe_columns(run_dir)
            try:
                task = saved_task(run_dir)[1]
            except WorkbenchError:  # a broken model folder: loading it says what is wrong
                task = "unknown"
            ner = self._ner_run(task)
            # The box follows the run unless the person typed a file of their own.
            if out_box.value.strip() in ("", str(self._default_out)):
                self._default_out = default_out(run_dir)
                out_box.value = str(self._default_out)
            log = self._opened("log", out_box.value.strip(), "out") or DecisionLog(
                out_box.value.strip()
            )
        except WorkbenchError as exc:
            self._status(str(exc), error=True)
            return
        order = str(self.query_one("#annotate-order", Select).value)
        self.busy = True
        self._status(f"loading {run_dir.name} and reading {corpus} with it…")
        read = self._opened("documents", corpus, "corpus") or corpus
        self.prepare(run_dir, task, ner, read, log, order, columns)

    def _ner_run(self, task: str) -> Path | None:
        """The NER run a relation run reads raw text with (the box may stay empty
        for a file that holds entities); only a relation run takes one."""
        from workbench.models.folder import check_saved_task, find_model_run

        reference = self.query_one("#annotate-ner", Input).value.strip()
        if not reference:
            return None
        if task not in (RELATION, "unknown"):  # an unknown one: its load says what is wrong
            raise WorkbenchError(
                f"NER run {reference}: only a relation run reads entities from another "
                f"model; empty the box for a {task} run"
            )
        ner = run_folder_of(find_model_run(reference, self.app.runs_dir)[0])
        check_saved_task(ner, "ner", "NER run")
        return ner

    def _opened(self, what: str, value: str, key: str):
        """What `workbench annotate` already read (the decisions file, the corpus's
        documents), once, while the form still names the same file or corpus."""
        given = getattr(self.app, "annotate_options", None) or {}
        opened = given.pop(what, None)
        return opened if opened is not None and value == str(given.get(key)) else None

    @work(thread=True, exclusive=True, group="annotate")
    def prepare(
        self,
        run_dir: Path,
        task: str,
        ner: Path | None,
        corpus,
        log: DecisionLog,
        order: str,
        columns: dict,
    ) -> None:
        from workbench.annotate.pairs import read_relation_corpus

        cached = self.loaded if self.loaded_from == run_dir else None
        ner_loaded = None
        queue: list  # sentences, texts or pairs
        try:
            with LOAD_LOCK:  # transformers' lazy imports are not thread-safe
                if task != RELATION:
                    loaded, queue = build_queue(
                        run_dir, corpus, order, skip=log.decided, limit=self.limit, loaded=cached
                    )
                else:
                    if isinstance(corpus, str):  # said as the form names it
                        hint = "the NER run box"
                        corpus = read_relation_corpus(corpus, columns, ner is not None, hint)
                    loaded, ner_loaded, queue = build_pair_queue(
                        run_dir,
                        corpus,
                        ner,
                        order,
                        skip=log.decided,
                        limit=self.limit,
                        loaded=cached,
                        ner_loaded=self.ner_loaded if ner and self.ner_from == ner else None,
                        columns=columns,
                    )
        except WorkbenchError as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - a broken model folder, said in place
            self.app.call_from_thread(self._failed, f"cannot start: {exc}")
            return
        if ner_loaded is not None:
            self.ner_loaded, self.ner_from = ner_loaded, ner
        self.app.call_from_thread(self._started, run_dir, loaded, queue, log, columns)

    def _failed(self, message: str) -> None:
        self.busy = False
        self._status(message, error=True)
        self.query_one("#annotate-model", Input).focus()

    def _started(
        self, run_dir: Path, loaded: SavedModel, queue, log: DecisionLog, columns: dict
    ) -> None:
        self.busy = False
        task, model, meta = loaded.task, loaded.model, loaded.meta
        logged = log.task()
        if logged is not None and logged != task.name:
            self._status(
                f"{log.path} holds {logged} decisions; this is a {task.name} model: "
                f"give another decisions file",
                error=True,
            )
            return
        labels = [str(v) for v in (meta.get("labels") or model.config.id2label.values())]
        labels = entity_types(labels) if task.name == "ner" else labels
        self.loaded, self.loaded_from = loaded, run_dir
        unknown = sorted(log.labels(columns) - set(labels))
        if unknown:
            self._status(
                f"{log.path} holds decisions with labels this model does not know "
                f"({', '.join(unknown)}): give another decisions file",
                error=True,
            )
            return
        self.run_dir = run_dir
        self.session = Session(
            queue,
            log,
            task.name,
            labels,
            columns,
            repropose=(
                (lambda items: propose_pairs(items, loaded))
                if task.name == RELATION
                else (lambda items: propose(items, loaded))
            ),
            level=task.level,
            none_label=getattr(task, "none_label", None),
        )
        setup = self.query_one("#annotate-setup")
        # Disabled, not only hidden: focus coming back from a dialog must not land
        # in a hidden box and swallow the keys.
        setup.display, setup.disabled = False, True
        self.query_one("#annotate-work").display = True
        self.set_focus(None)
        self.refresh_bindings()
        done = sum(log.counts().values())
        repaired = " (its cut-off last line was removed)" if log.repaired else ""
        texts = dict.fromkeys(i.text for i in queue)  # a sentence's pairs read it once
        _cov, warnings = vocabulary.texts_warnings(loaded, texts, "corpus")
        blind = "".join(f" ⚠ {line}" for line in warnings)
        self._status(
            f"{len(queue)} to decide, {done} decided before in {log.path}{repaired}. "
            + ORDER_SAID[str(self.query_one("#annotate-order", Select).value)]
            + blind
        )
        self._draw()

    def action_setup(self) -> None:
        """Back to the form (decisions are already saved); in the form, out of the
        text box (so q quits and the number keys switch screens again)."""
        if self.session is None:
            self.set_focus(None)
            return
        self.session = None
        setup = self.query_one("#annotate-setup")
        setup.display, setup.disabled = True, False
        self.query_one("#annotate-work").display = False
        self.query_one("#annotate-title", Static).update("annotate")
        self.query_one("#annotate-model", Input).focus()
        self.refresh_bindings()
        self._status("Decisions so far are saved. Enter starts again.")

    def action_focus_form(self) -> None:
        """Back into the form's first box (after Escape left it)."""
        if self.session is None:
            self.query_one("#annotate-model", Input).focus()

    # -- editing --------------------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        if self.session is not None:
            self._status("")
            self.session.move(delta)
            self._draw()

    def action_extend(self, delta: int) -> None:
        if self.session is not None:
            self.session.move(delta, extend=True)
            self._draw()

    def action_home(self, end: bool) -> None:
        if self.session is not None:
            self.session.home(end)
            self._draw()

    def action_label(self, number: int) -> None:
        """Label the selection (or choose the class) with the model's label ``number``."""
        session = self.session
        if session is None or session.current is None:
            return
        if not 1 <= number <= len(session.labels):
            self._status(f"no label {number}: the model knows {len(session.labels)}", error=True)
            return
        self._choose(session.labels[number - 1])

    def action_pick_label(self) -> None:
        """Any of the model's labels by name (l): what its number key would do."""
        session = self.session
        if session is None or session.current is None:
            return
        what = {"ner": "entity type", RELATION: "relation"}.get(session.task, "class")
        current = session.label if session.task != "ner" else None
        self.app.push_screen(LabelPicker(session.labels, what, current), self._choose)

    def _choose(self, label: str | None) -> None:
        session = self.session
        if label is None or session is None or session.current is None:
            return  # the picker cancelled, or the session ended meanwhile
        session.mark(label)
        self._status("")
        self._draw()

    def action_delete(self) -> None:
        if self.session is not None and not self.session.delete():
            self._status("No entity there to remove.")
        self._draw()

    def action_proposal(self) -> None:
        if self.session is not None:
            self.session.reset()
            self._status("Back to the model's proposal.")
            self._draw()

    # -- deciding -------------------------------------------------------------------------
    def _safely(self, decide) -> None:
        try:
            result = decide()
        except (OSError, ValueError) as exc:
            self._status(f"{exc}", error=True)
            return
        if isinstance(result, str):
            self._status(f"{result}; saved.")
        self._draw()

    def action_accept(self) -> None:
        if self.session is not None and self.session.current is not None:
            self._safely(self.session.accept)

    def action_reject(self) -> None:
        if self.session is not None and self.session.current is not None:
            self._safely(self.session.reject)

    def action_skip(self) -> None:
        if self.session is not None and self.session.current is not None:
            self.session.skip()
            self._status("Skipped: it comes back at the end of the queue.")
            self._draw()

    def action_undo(self) -> None:
        if self.session is None:
            return
        try:
            record = self.session.undo()
        except (OSError, WorkbenchError) as exc:
            self._status(str(exc), error=True)
            return
        if record is None:
            self._status("Nothing to undo in this file.")
        else:
            noun = NOUNS.get(self.session.task, "sentence")
            self._status(f"Took back the {record.get('decision')} {noun}; it shows again.")
        self._draw()

    def action_train(self) -> None:
        """Ask, then write the recipe that trains on the decisions from this run's
        model, and launch it."""
        from workbench.annotate.retrain import taught_path, taught_recipe

        session, run_dir = self.session, self.run_dir
        if session is None or run_dir is None:
            return
        counts = session.log.counts()
        usable = counts[ACCEPTED] + counts[FIXED]
        noun = NOUNS.get(session.task, "sentence")
        if not usable:
            self._status(f"Accept or fix some {noun}s first: there is nothing to train on.", True)
            return
        decisions = session.log.path

        def answer(yes: bool | None) -> None:
            if not yes:
                self._status("Not training now; the decisions are saved.")
                return
            try:
                recipe = taught_recipe(run_dir, decisions)
            except (OSError, WorkbenchError) as exc:
                self._status(str(exc), error=True)
                return
            self.app.launch(recipe, [])

        self.app.push_screen(
            ConfirmScreen(
                f"Train from [b]{escape(run_dir.name)}[/b] with your {usable} {noun}s?\n"
                f"The recipe {escape(str(taught_path(decisions)))} starts from that run's "
                f"model and adds {escape(decisions.name)} to its training data.",
                yes="Train",
                danger=False,
            ),
            answer,
        )
