"""Following a run folder that another process writes, and what viewers build from it."""

from __future__ import annotations

import json

from rich.console import Console

from helpers.fake_runs import write_run
from workbench.reports import change_text, per_label_table
from workbench.runs.events import Step
from workbench.runs.follow import MAX_POINTS, Curve, EventFollower, RunState, load_state
from workbench.runs.index import summarize


def test_follower_returns_only_new_whole_lines(tmp_path):
    events = tmp_path / "events.jsonl"
    follower = EventFollower(tmp_path)
    assert follower.poll() == []  # no file yet: nothing, no error
    events.write_text('{"type": "created"}\n{"type": "st', encoding="utf-8")
    assert [e.type for e in follower.poll()] == ["created"]
    with open(events, "a", encoding="utf-8") as handle:
        handle.write('art", "total_steps": 4}\nnot json\n{"type": "step", "step": 1}\n')
    assert [e.type for e in follower.poll()] == ["start", "step"]
    assert follower.poll() == []


def test_follower_starts_again_when_the_file_is_replaced(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "created"}\n{"type": "start"}\n', encoding="utf-8")
    follower = EventFollower(tmp_path)
    assert len(follower.poll()) == 2
    events.write_text('{"type": "end"}\n', encoding="utf-8")
    assert [e.type for e in follower.poll()] == ["end"]


def test_state_folds_steps_evals_and_end(tmp_path):
    run = write_run(tmp_path, "r1", total_steps=150)
    state = load_state(run)
    assert state.status == "completed" and state.step == 150 and state.total_steps == 150
    assert len(state.loss) == 30 and state.loss.xs[0] == 5
    # The smoothed curve starts at the first loss and lags the raw one.
    assert state.smoothed.ys[0] == state.loss.ys[0]
    assert state.smoothed.ys[-1] > state.loss.ys[-1] - 0.5
    assert state.metric.xs == [50, 100, 150] and state.metric_name == "f1"
    assert state.report["metrics"]["f1"] == state.metric.ys[-1]
    assert state.previous_report["metrics"]["f1"] == state.metric.ys[-2]
    assert state.test_report["split"] == "test"


def test_running_and_died_runs(tmp_path):
    live = load_state(write_run(tmp_path, "live", steps=40, status=None))
    assert live.status == "running" and live.end is None and live.step == 40
    dead = load_state(write_run(tmp_path, "dead", steps=40, status=None, pid=2**22 + 12345))
    assert dead.status == "died"
    assert summarize(tmp_path / "dead").status == "died"


def test_curve_stays_bounded_and_keeps_its_ends():
    curve = Curve()
    for step in range(1, 3 * MAX_POINTS):
        curve.add(step, float(step))
    assert len(curve) <= MAX_POINTS
    assert curve.xs[0] <= 32 and curve.xs[-1] >= 3 * MAX_POINTS - 32
    # y = x was added: each merged point is the mean of its neighbours, close to its x.
    assert all(abs(x - y) <= 16 for x, y in zip(curve.xs, curve.ys))
    assert curve.xs == sorted(curve.xs)


def test_change_text_reads_without_colour():
    assert change_text(0.9231, 0.9000)[0] == "▲ +2.31"
    assert change_text(0.88, 0.90)[0] == "▼ -2.00"
    assert change_text(0.5, 0.5)[0] == "= 0.00"
    assert change_text(0.5, None) == ("", "")


def test_report_table_shows_changes_since_the_previous_eval(tmp_path):
    state = load_state(write_run(tmp_path, "r", total_steps=150))
    console = Console(width=120, color_system=None, record=True)
    console.print(per_label_table(state.report, previous=state.previous_report))
    text = console.export_text()
    assert "Δ f1" in text
    before = state.previous_report["per_label"]["LOC"]["f1"]
    after = state.report["per_label"]["LOC"]["f1"]
    assert f"▲ +{100 * (after - before):.2f}" in text


def test_summary_of_a_half_written_run(tmp_path):
    run = write_run(tmp_path, "r", steps=20, status=None)
    with open(run / "events.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"type": "step", "step": 25})[:10])  # a line being written
    summary = summarize(run)
    assert summary.steps == 20 and summary.status == "running"


def test_state_version_moves_with_events(tmp_path):
    state = RunState(tmp_path)
    before = state.version
    state.apply(Step(step=1, loss=float("nan"), learning_rate=1e-4))
    assert state.version == before + 1
    assert len(state.loss) == 0  # a NaN loss is not drawn


DEAD_PID = 2**22 + 12345  # no such process: the writer is gone


def tear_log(run, lines: int) -> None:
    """Cut the log in the middle of its ``lines``-th line from the end (a crash, a
    full disk, a copy cut short)."""
    events = run / "events.jsonl"
    text = events.read_text(encoding="utf-8").splitlines(keepends=True)
    torn = text[-lines]
    events.write_text("".join(text[:-lines]) + torn[: len(torn) // 2], encoding="utf-8")


def test_a_finished_run_whose_log_lost_its_end_is_told_apart_from_a_dead_one(tmp_path):
    run = write_run(tmp_path, "finished", pid=DEAD_PID)
    state = load_state(run)
    test, best = state.test_report, state.best_value
    (run / "report.json").write_text(
        json.dumps(
            {
                "status": "completed",
                "metric": "f1",
                "best_value": best,
                "reports": {"validation": state.best_report, "test": test},
            }
        )
    )
    tear_log(run, 2)  # the test evaluation torn, the end event gone
    damaged = load_state(run)
    assert damaged.end is None and damaged.test is None
    assert damaged.status == "completed" and damaged.test_report == test
    assert damaged.best_value == best
    summary = summarize(run)
    assert summary.status == "completed" and "events.jsonl is damaged" in summary.warning
    assert "report.json" in summary.warning
    # Without report.json nothing says it finished: it died, and the warning says why.
    (run / "report.json").unlink()
    assert summarize(run).status == "died" and "no report.json" in summarize(run).warning
    # A run being written is not damaged by the line it is writing.
    live = write_run(tmp_path, "live", steps=20, status=None)
    tear_log(live, 1)
    assert summarize(live).status == "running" and summarize(live).warning is None


def test_runs_lists_a_damaged_run_as_completed_with_a_warning(tmp_path, capsys):
    from workbench.cli import main

    run = write_run(tmp_path / "runs", "20261101-100000-demo-ner", pid=DEAD_PID)
    (run / "report.json").write_text(json.dumps({"status": "completed", "reports": {}}))
    tear_log(run, 1)
    assert main(["runs", "--dir", str(tmp_path / "runs")]) == 0
    out, err = capsys.readouterr()
    assert "completed ⚠" in out and "died" not in out
    assert err.startswith(f"warning: {run}: events.jsonl is damaged (its last line is cut")


def test_a_resumed_run_that_dies_is_dead_whatever_the_earlier_attempt_wrote(tmp_path):
    import socket
    import time

    from workbench.runs.events import Resumed

    run = write_run(tmp_path, "resumed", steps=50, status="stopped", checkpoint_at=50, pid=DEAD_PID)
    (run / "report.json").write_text(json.dumps({"status": "stopped", "reports": {}}))
    assert summarize(run).status == "stopped"
    with open(run / "events.jsonl", "a", encoding="utf-8") as handle:  # resumed, then killed
        handle.write(
            json.dumps(
                Resumed(
                    time=time.time() + 60,
                    from_step=50,
                    pid=DEAD_PID,
                    host=socket.gethostname(),
                    total_steps=150,
                ).to_dict()
            )
            + "\n"
        )
    assert summarize(run).status == "died"
