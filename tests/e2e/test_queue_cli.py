"""`workbench queue` end to end: adding recipes (checked first), listing, removing,
clearing, the scheduler in the foreground and detached, bad input; and, marked slow,
queued trainings run two at a time and a queued training stopped with a checkpoint."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import psutil
import pytest

from helpers.files import write
from workbench.cli import main
from workbench.runs.events import Checkpoint, Step
from workbench.runs.folder import read_events
from workbench.runs.queue import Queue


@pytest.fixture
def queue(tmp_path, monkeypatch) -> Queue:
    monkeypatch.setenv("WORKBENCH_QUEUE", str(tmp_path / "queue"))
    monkeypatch.chdir(tmp_path)
    return Queue.open()


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error(err: str, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], (fragment, lines[0])


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def recipe(tmp_path):
    """A recipe that loads (its model is never looked for: nothing here trains)."""
    write(tmp_path / "data" / "train.conll", "EU NNP B-ORG\n\n")
    return write(
        tmp_path / "tiny.toml",
        'task = "ner"\n[model]\nname = "no/such-model"\n[data]\ntrain = "data/train.conll"\n',
    )


def test_adding_a_bad_recipe_exits_2_and_queues_nothing(queue, recipe, capsys):
    code, out, err = cli(capsys, "queue", "add", str(recipe), "--set", "train.seedz=2")
    assert code == 2 and out == ""
    one_error(err, "train.seedz")
    code, _, err = cli(capsys, "queue", "add", "missing.toml")
    assert code == 2
    one_error(err, "missing.toml: recipe file not found")
    assert queue.jobs() == []


def test_add_list_remove_and_clear(queue, recipe, capsys, tmp_path):
    code, out, _ = cli(
        capsys, "queue", "add", "tiny.toml", "--set", "train.seed=2", "--devices", "2"
    )
    assert (code, out) == (0, "queued #1: tiny.toml train.seed=2\n")
    job = queue.get(1)
    assert job.argv == [
        "run", str(recipe), "--set", "train.seed=2", "--plain", "--devices", "2"
    ]  # fmt: skip
    assert (job.cwd, job.devices, job.status) == (str(tmp_path), 2, "waiting")

    code, out, _ = cli(capsys, "queue")
    assert code == 0 and "waiting" in out and "tiny.toml train.seed=2" in out
    assert "needs 2" in out and "no scheduler" in out
    code, out, _ = cli(capsys, "queue", "list", "--json")
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["tiny.toml train.seed=2"]

    assert cli(capsys, "queue", "remove", "1")[:2] == (0, "removed #1: tiny.toml train.seed=2\n")
    code, out, _ = cli(capsys, "queue", "list")
    assert "tiny.toml" not in out and "1 ended" in out
    code, out, _ = cli(capsys, "queue", "list", "--all")
    assert "removed" in out and "tiny.toml" in out
    assert cli(capsys, "queue", "clear")[:2] == (0, "cleared 1 ended job\n")
    assert queue.jobs() == []


def test_bad_input_is_one_line_and_exit_2(queue, capsys):
    for args, fragment in (
        (("queue", "run", "--gpus", "0,x"), "--gpus 0,x"),
        (("queue", "run", "--gpus", "1,1"), "--gpus 1,1"),
        (("queue", "run", "--slots", "0"), "--slots must be at least 1"),
        (("queue", "remove", "7"), "no job #7"),
        (("queue", "stop", "abc"), "abc: not a job number"),
        (("queue", "add", "x.toml", "--devices", "0"), "--devices must be at least 1"),
    ):
        code, out, err = cli(capsys, *args)
        assert code == 2 and out == "", args
        one_error(err, fragment)


def test_the_scheduler_in_the_foreground_prints_each_change(queue, capsys, tmp_path):
    # Real workbench commands that end at once: one succeeds, one fails on bad input.
    ok = queue.add(["--version"], tmp_path, label="version")
    bad = queue.add(["validate", "missing.toml"], tmp_path, label="bad")
    code, out, _ = cli(capsys, "queue", "run", "--slots", "2", "--until-empty", "--poll", "0.1")
    assert code == 1  # a job failed
    assert queue.get(ok.id).status == "completed"
    failed = queue.get(bad.id)
    assert (failed.status, failed.returncode) == ("failed", 2)
    assert failed.error == "missing.toml: recipe file not found"
    assert "workbench" in queue.log_path(ok.id).read_text()
    assert f"#{ok.id} ● running on s" in out and f"#{ok.id} ✔ completed: version" in out
    assert f"#{bad.id} ✖ failed (exit 2): bad" in out and "recipe file not found" in out


def test_a_detached_scheduler_runs_on_and_a_second_is_refused(queue, capsys, tmp_path):
    code, out, _ = cli(capsys, "queue", "run", "--slots", "1", "--detach", "--poll", "0.1")
    assert code == 0 and out.startswith("scheduler started in the background: pid ")
    pid = int(out.split("pid ")[1].split(",")[0])
    scheduler = psutil.Process(pid)
    try:
        assert os.getsid(pid) == pid  # a session of its own: closing the terminal leaves it
        job = queue.add(["--version"], tmp_path)
        wait_until(lambda: queue.get(job.id).status == "completed")
        code, _, err = cli(capsys, "queue", "run", "--slots", "1")
        assert code == 2
        one_error(err, f"(pid {pid})")
        assert f"scheduler: pid {pid}" in cli(capsys, "queue")[1]
    finally:
        scheduler.send_signal(signal.SIGTERM)  # it ends as after a Ctrl-C
        assert scheduler.wait(timeout=30) == 0
    log = (queue.folder / "scheduler.log").read_text()
    assert f"#{job.id} ✔ completed" in log


@pytest.mark.slow
def test_queued_trainings_run_two_at_a_time_and_one_stops_with_a_checkpoint(
    queue, ner_recipe, classification_recipe, capsys
):
    for recipe in (ner_recipe, classification_recipe):
        assert cli(capsys, "queue", "add", str(recipe), "--set", "train.epochs=1")[0] == 0
    long = ["train.max_steps=100000", "train.checkpoint_every=2"]
    assert cli(capsys, "queue", "add", str(ner_recipe), "--set", *long)[0] == 0

    def stop_the_long_one_once_it_trains():
        wait_until(lambda: queue.get(3).run_dir is not None, 300)
        run_dir = queue.get(3).run_dir
        wait_until(lambda: any(isinstance(e, Step) for e in read_events(run_dir)), 300)
        queue.stop(3)

    stopper = threading.Thread(target=stop_the_long_one_once_it_trains, daemon=True)
    stopper.start()
    code, out, _ = cli(capsys, "queue", "run", "--slots", "2", "--until-empty", "--poll", "0.2")
    stopper.join(timeout=5)
    assert code == 0, out
    first, second, third = queue.jobs()
    assert (first.status, second.status, third.status) == ("completed", "completed", "stopped")
    assert max(first.started, second.started) < min(first.ended, second.ended)  # together
    assert third.started >= min(first.ended, second.ended)  # once a slot was free
    assert third.returncode == 130
    for job, status in ((first, "completed"), (second, "completed"), (third, "stopped")):
        events = read_events(job.run_dir)
        assert events[-1].type == "end" and events[-1].status == status, job
    assert any(isinstance(e, Checkpoint) for e in read_events(third.run_dir))
