"""The console view: plain lines off a terminal, a live bar on one, reports as tables."""

from __future__ import annotations

import io

from rich.console import Console

from workbench.console import ConsoleView
from workbench.runs.events import End, Eval, Start, Step

START = Start(
    recipe="demo",
    task="ner",
    model="minilm",
    device="cpu",
    precision="no",
    examples={"train": 10, "validation": 5},
    total_steps=20,
    steps_per_epoch=10,
    epochs=2.0,
    batch_size=8,
    micro_batch_size=8,
    gradient_accumulation=1,
    metric="f1",
)
STEP = Step(
    step=10,
    total_steps=20,
    epoch=1.0,
    loss=0.5,
    learning_rate=2.5e-5,
    samples_per_s=42.0,
    eta_s=75.0,
)
REPORT = {
    "task": "ner",
    "metrics": {
        "f1": 0.8,
        "precision": 0.75,
        "recall": 0.857,
        "macro_f1": 0.7,
        "accuracy": 0.9,
        "loss": 0.3,
    },
    "per_label": {"PER": {"precision": 0.75, "recall": 0.857, "f1": 0.8, "support": 7}},
}
EVAL = Eval(
    split="validation", step=10, metrics=REPORT["metrics"], report=REPORT, best=True, seconds=1.94
)
END = End(status="completed", duration_s=95.0, metric="f1", best_value=0.8, best_step=10)


def render(live: bool) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=live, width=120, color_system=None)
    view = ConsoleView(console)
    for event in (START, STEP, EVAL, END):
        view(event)
    return buffer.getvalue()


def test_plain_output_is_one_line_per_step():
    out = render(live=False)
    assert "step 10/20  epoch 1.00  loss 0.5000  lr 2.50e-05  42.0 samples/s  eta 0:01:15" in out
    assert "eval validation at step 10 in 1.9 s: f1 80.00" in out and "(best)" in out
    assert "PER" in out and "85.70" in out  # the per-label table
    assert "run completed after 0:01:35; best f1 0.8000 at step 10" in out
    assert "\r" not in out  # no progress-bar redraws in logs


def test_live_output_draws_a_progress_bar():
    out = render(live=True)
    assert "step 10/20" in out and "loss 0.5000" in out
    assert "eta 0:01:15" in out  # the engine's estimate, from the first logged step
    assert "run completed" in out


def test_failed_run_shows_the_error():
    buffer = io.StringIO()
    view = ConsoleView(Console(file=buffer, width=200))
    view(End(status="failed", error="CUDA out of memory", duration_s=1))
    assert "run failed after 0:00:01: CUDA out of memory" in buffer.getvalue()
