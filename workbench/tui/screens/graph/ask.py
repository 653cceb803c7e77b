"""The Graph screen's question pane: a question in plain language, answered from
the graph with its evidence sentences (or "I don't know" and why)."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.widgets import Input, Static

from workbench.errors import WorkbenchError
from workbench.kg.present import answer_view
from workbench.tui.screens.graph.common import ENCODE_LOCK, GraphPane
from workbench.tui.screens.predict import LOAD_LOCK

INTRO = (
    "Questions about the entities in the graph: Where does … live? Who founded …? "
    "Which company makes …? The answer comes with its evidence sentences, or "
    "“I don't know” and why. Escape closes."
)

# While the graph's question model trains (the first question after a change
# of the graph's relations), so that the pane does not look frozen.
LEARNING = "learning this graph's questions (first question, ~10 s)…"


class AskPane(Vertical, GraphPane):
    """A question field and the answer; the encoder is the screen's (bound to
    ``embedder``), loaded here the first time when there is none yet."""

    embedder: var[Any] = var(None)

    class Answered(Message):
        """The answer to a question (``Answer.to_dict()``), after ``seconds``."""

        def __init__(self, reply: dict, seconds: float) -> None:
            super().__init__()
            self.reply = reply
            self.seconds = seconds

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="ask a question, e.g. Where does … live?  (Enter asks)",
            id="ask-input",
            compact=True,
        )
        with VerticalScroll(id="ask-scroll"):
            yield Static("", id="answer")

    def open(self) -> None:
        self.query_one("#ask-input", Input).focus()
        answer = self.query_one("#answer", Static)
        if not str(answer.content):
            answer.update(Text(INTRO, style="dim"))

    @on(Input.Submitted, "#ask-input")
    def _submitted(self, event: Input.Submitted) -> None:
        from workbench.kg.ask import check_question

        try:
            question = check_question(event.value)
        except WorkbenchError as exc:
            self.say(str(exc), error=True)
            return
        self.say(Text("thinking…", style="dim"))
        self.ask(question, self.embedder)

    @work(thread=True, exclusive=True, group="ask")
    def ask(self, question: str, embedder: Any) -> None:
        """Answer ``question`` (the encoder loads the first time)."""
        if self.missing():
            return
        from workbench.kg import question_model
        from workbench.kg.ask import ask

        started = time.perf_counter()
        if embedder is None:
            try:
                from workbench.kg.embed import Embedder

                # The model the graph's vectors came from (the bundled MiniLM by default).
                models = self.graph_query(lambda graph: graph.vectors.embedding_models())
                with LOAD_LOCK:
                    embedder = Embedder(models[0] if models else "minilm")
            except Exception as exc:  # noqa: BLE001 - shown in place
                self.say(f"cannot load the encoder: {exc}", error=True)
                return
            self.post_message(self.EncoderLoaded(embedder, time.perf_counter() - started))

        def answer(graph):
            with ENCODE_LOCK:
                if not question_model.ready(graph, embedder):
                    self.say(Text(LEARNING, style="dim"))
                return ask(graph, question, embedder).to_dict()

        self.run_query(
            answer, lambda reply: self.Answered(reply, time.perf_counter() - started), "asking"
        )

    def on_ask_pane_answered(self, message: AskPane.Answered) -> None:
        self.query_one("#answer", Static).update(answer_view(message.reply))
        self.query_one("#ask-scroll").scroll_home(animate=False)
        self.say(Text(f"answered in {message.seconds:.1f} s", style="dim"))
