"""The event contract: typed events written and read back, damaged lines,
runs written by the previous schema, and what readers make of a resumed run."""

from __future__ import annotations

import json

from workbench.runs.events import (
    SCHEMA,
    Checkpoint,
    Created,
    End,
    Eval,
    ModelSaved,
    Resumed,
    Status,
    Step,
    parse_event,
)
from workbench.runs.folder import EventLog, read_events
from workbench.runs.follow import load_state
from workbench.runs.index import summarize


def test_events_round_trip_through_the_log(tmp_path):
    log = EventLog(tmp_path)
    log(Created(path=str(tmp_path), pid=1, host="h"))
    log(Step(step=3, loss=float("nan"), learning_rate=1e-4))
    log.close()
    created, step = read_events(tmp_path)
    assert created.schema == SCHEMA and created.time is not None
    assert step.step == 3 and step.loss is None  # NaN is written as null, valid JSON
    raw = json.loads((tmp_path / "events.jsonl").read_text().splitlines()[1])
    assert raw["type"] == "step" and set(raw) >= {"grad_norm", "memory_mb", "eta_s"}


def test_a_damaged_line_is_skipped_not_fatal():
    assert parse_event({"type": "step", "step": "three"}) is None
    assert parse_event({"type": "end", "status": 7}) is None
    assert parse_event({"type": "eval", "best": 1.0}) is None  # a number is not true/false
    assert parse_event({"type": "step", "step": 2, "epoch": None}) is None  # never null
    assert parse_event({"type": "no such event"}) is None
    assert parse_event(["not", "an", "object"]) is None
    # Unknown keys (a newer writer) are ignored; missing ones take their defaults.
    step = parse_event({"type": "step", "step": 2, "future_field": 1})
    assert step == Step(step=2)


def test_runs_written_by_schema_1_read_as_before():
    created = parse_event({"type": "created", "path": "runs/x", "pid": 4})
    assert created.schema == 1
    # In schema 1 "checkpoint" was the best model being saved.
    saved = parse_event(
        {"type": "checkpoint", "step": 50, "path": "model", "metric": "f1", "value": 0.9}
    )
    assert isinstance(saved, ModelSaved) and saved.value == 0.9
    assert isinstance(
        parse_event({"type": "checkpoint", "step": 50, "path": "checkpoints/step-50"}), Checkpoint
    )


def test_statuses_are_one_table():
    assert Status.COMPLETED == "completed" and {"completed": 0}[Status.COMPLETED] == 0
    assert f"{Status.DIED}" == "died" and json.dumps(Status.STOPPED) == '"stopped"'
    assert Status.of("exploded") is Status.FAILED
    assert all(s.symbol and s.color for s in Status)
    assert [s for s in Status if s.resumable] == [Status.STOPPED, Status.FAILED, Status.DIED]


def test_a_line_cut_by_a_kill_does_not_swallow_the_next_event(tmp_path):
    (tmp_path / "events.jsonl").write_text('{"type": "created"}\n{"type": "step", "st')
    log = EventLog(tmp_path)  # a resumed process appends
    log(End(status="completed", steps=4))
    log.close()
    assert [e.type for e in read_events(tmp_path)] == ["created", "end"]


def test_a_resumed_run_reads_as_one_continuous_run(tmp_path):
    log = EventLog(tmp_path)
    log(Created(path=str(tmp_path), pid=2**22 + 5, host="elsewhere"))
    for step in range(1, 9):
        log(Step(step=step, loss=1.0 / step))
        if step % 4 == 0:
            log(
                Eval(
                    step=step,
                    value=step / 10,
                    best=True,
                    best_value=step / 10,
                    best_step=step,
                    report={"metrics": {"f1": step / 10}},
                )
            )
    # Killed after step 8; the last checkpoint was step 6: steps 7 and 8 are done again.
    log(Resumed(from_step=6, checkpoint="checkpoints/step-6", total_steps=10, pid=1, host="here"))
    for step in range(7, 11):
        log(Step(step=step, loss=2.0 / step))
    log(
        Eval(
            step=8,
            value=0.7,
            best=False,
            best_value=0.4,
            best_step=4,
            report={"metrics": {"f1": 0.7}},
        )
    )
    log(End(status="completed", steps=10, best_value=0.4, best_step=4))
    log.close()
    state = load_state(tmp_path)
    assert state.loss.xs == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert state.loss.ys[6] == 2.0 / 7  # the resumed process's value, not the dead one's
    assert [e.step for e in state.evals] == [4, 8] and state.evals[-1].value == 0.7
    assert state.best_report == {"metrics": {"f1": 0.4}}
    assert state.writer == (1, "here") and state.status == Status.COMPLETED
    assert summarize(tmp_path).steps == 10
