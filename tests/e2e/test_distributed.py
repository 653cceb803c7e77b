"""Several processes, as torchrun starts them (two CPU processes, gloo): one run
folder written by the main process, disjoint shards, step counts from the
sharded loader, metrics equal to a single-process evaluation, a stop that every
process agrees on, and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.files import write
from helpers.runs import wait_for_event
from helpers.sentences import SENTENCES, conll
from workbench.cli import main
from workbench.evaluate import evaluate_saved
from workbench.runs.events import Checkpoint, Resumed, Start, Step
from workbench.runs.folder import checkpoints, read_events

DRIVER = Path(__file__).resolve().parents[1] / "helpers" / "dist_driver.py"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

# Real trainings (or processes that train): deselect with -m "not slow".
pytestmark = pytest.mark.slow


@pytest.fixture
def recipe(tmp_path, tiny_model) -> Path:
    """Eight training sentences: batches of 2 on 2 processes make 2 steps an epoch.
    The dev split has an odd number of windows, so the last batch is uneven."""
    write(tmp_path / "train.conll", conll(SENTENCES))
    write(
        tmp_path / "dev.conll",
        conll(SENTENCES[:3]) + "\n" + conll([" ".join(["Jon visited Lisbon and"] * 8 + ["."])]),
    )
    return write(
        tmp_path / "r.toml",
        f"""
task = "ner"
name = "dist"
[model]
name = "{tiny_model}"
max_length = 24
[data]
train = "train.conll"
validation = "dev.conll"
test = "dev.conll"
[train]
batch_size = 2
eval_batch_size = 2
learning_rate = 1e-3
log_every = 1
[eval]
every = "steps"
steps = 2
""",
    )


def torchrun(
    recipe: Path,
    trace: Path,
    *args: str,
    stop: tuple[int, int] = (0, 0),
    wait: bool = True,
    env: dict | None = None,
):
    trace.mkdir(exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(DRIVER),
        str(trace),
        str(stop[0]),
        str(stop[1]),
        *args,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**ENV, **(env or {})},
        cwd=recipe.parent,
    )
    if not wait:
        return process
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def traces(trace: Path) -> list[list[list[int]]]:
    return [json.loads((trace / f"rank-{r}.json").read_text()) for r in (0, 1)]


def only_run(runs: Path) -> Path:
    found = list(runs.iterdir())
    assert len(found) == 1, found
    return found[0]


def test_two_processes_write_one_run_from_disjoint_shards(recipe, tmp_path):
    code, out, err = torchrun(
        recipe, tmp_path / "trace", "run", str(recipe), "--plain", "--set", "train.max_steps=6"
    )
    assert code == 0, err
    run = only_run(tmp_path / "runs")
    events = read_events(run)
    start = next(e for e in events if isinstance(e, Start))
    assert start.processes == 2 and start.batch_size == 4
    assert start.steps_per_epoch == 2  # from the sharded loader: 8 examples / (2 x 2)
    assert events[-1].status == "completed" and events[-1].steps == 6
    assert (run / "model" / "config.json").is_file()
    assert out.count("run folder: ") == 2  # announced once at creation, once at the end
    assert out.count("run completed") == 1  # only the main process prints

    ranks = traces(tmp_path / "trace")
    assert len(ranks[0]) == len(ranks[1]) == 6
    for step in range(6):
        assert not set(ranks[0][step]) & set(ranks[1][step]), step
    for epoch in range(3):  # every example once an epoch, across both processes
        seen = [i for r in ranks for s in r[2 * epoch : 2 * epoch + 2] for i in s]
        assert sorted(seen) == list(range(8))

    # The evaluation gathered from both processes equals one process scoring the model.
    report = json.loads((run / "report.json").read_text())["reports"]["validation"]
    _, alone = evaluate_saved(run, str(tmp_path / "dev.conll"))
    for key in ("f1", "precision", "recall", "accuracy"):
        assert report["metrics"][key] == alone["metrics"][key], key
    assert report["per_label"] == alone["per_label"]


def test_lora_in_two_processes_saves_what_one_process_scores(recipe, tmp_path):
    code, _out, err = torchrun(
        recipe,
        tmp_path / "trace",
        "run",
        str(recipe),
        "--plain",
        "--set",
        "train.max_steps=4",
        "peft.method=lora",
    )
    assert code == 0, err
    run = only_run(tmp_path / "runs")
    start = next(e for e in read_events(run) if isinstance(e, Start))
    assert start.processes == 2 and start.tuning == "lora"
    report = json.loads((run / "report.json").read_text())["reports"]["validation"]
    # The merged model and the adapter score as the two processes did together.
    for model in (run, run / "model" / "adapter"):
        _, alone = evaluate_saved(model, str(tmp_path / "dev.conll"))
        for key in ("f1", "accuracy"):
            assert report["metrics"][key] == alone["metrics"][key], (model, key)
        assert report["per_label"] == alone["per_label"]


def test_a_stop_seen_by_one_process_stops_both_and_resumes(recipe, tmp_path, capsys):
    args = ["--plain", "--set", "train.max_steps=8", "train.deterministic=true"]
    code, _, err = torchrun(
        recipe, tmp_path / "t1", "run", str(recipe), *args, f"output.dir={tmp_path / 'reference'}"
    )
    assert code == 0, err
    reference = only_run(tmp_path / "reference")

    # Only process 1 is asked to stop, after step 3 (its vote for step 3 is cast): the
    # vote cast after step 4 is read after step 5, and both processes stop there.
    code, out, err = torchrun(recipe, tmp_path / "t2", "run", str(recipe), *args, stop=(1, 3))
    assert code == 0, err  # a clean stop: torchrun must not take it for a crash
    run = only_run(tmp_path / "runs")
    end = read_events(run)[-1]
    assert end.status == "stopped" and end.steps == 5
    assert [p.name for p in checkpoints(run)] == ["step-5"]
    assert [len(r) for r in traces(tmp_path / "t2")] == [5, 5]

    # A two-process checkpoint does not resume in one process...
    assert main(["run", "--resume", str(run)]) == 2
    assert "written by 2 process(es); resume it with as many" in capsys.readouterr().err
    # ...and goes on in two, to the result of the run never stopped.
    code, out, err = torchrun(recipe, tmp_path / "t3", "run", "--resume", str(run), "--plain")
    assert code == 0, err
    events = read_events(run)
    assert [e.from_step for e in events if isinstance(e, Resumed)] == [5]
    assert events[-1].status == "completed" and events[-1].steps == 8
    ours = json.loads((run / "report.json").read_text())["reports"]
    theirs = json.loads((reference / "report.json").read_text())["reports"]
    for split in ("validation", "test"):
        for key, value in theirs[split]["metrics"].items():
            assert ours[split]["metrics"][key] == pytest.approx(value, abs=1e-5), (split, key)


def test_sigterm_to_torchrun_checkpoints_every_process(recipe, tmp_path):
    process = torchrun(
        recipe,
        tmp_path / "t",
        "run",
        str(recipe),
        "--plain",
        "--set",
        "train.max_steps=100000",
        wait=False,
    )
    runs = tmp_path / "runs"
    wait_for_event(runs, Step, process, timeout=180)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=180)
    run = only_run(runs)
    end = read_events(run)[-1]
    assert end.status == "stopped", err
    saved = [e for e in read_events(run) if isinstance(e, Checkpoint)]
    assert [e.step for e in saved] == [end.steps]
    # Both processes wrote their RNG state into the one checkpoint.
    assert {p.name for p in checkpoints(run)[0].iterdir()} >= {
        "random_states_0.pkl",
        "random_states_1.pkl",
    }


def test_devices_starts_the_processes_itself(recipe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert (
        main(["run", str(recipe), "--devices", "2", "--plain", "--set", "train.max_steps=2"]) == 0
    )
    run = only_run(tmp_path / "runs")
    assert next(e for e in read_events(run) if isinstance(e, Start)).processes == 2
    assert read_events(run)[-1].status == "completed"


def test_devices_passes_a_stop_on_and_says_stopped(recipe, tmp_path):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            str(recipe),
            "--devices",
            "2",
            "--plain",
            "--set",
            "train.max_steps=100000",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        cwd=tmp_path,
    )
    runs = tmp_path / "runs"
    wait_for_event(runs, Step, process, timeout=180)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "SignalException" not in err
    assert read_events(only_run(runs))[-1].status == "stopped"


def test_devices_checks_the_input_before_starting_processes(recipe, tmp_path, capsys):
    assert main(["run", str(tmp_path / "nosuch.toml"), "--devices", "2"]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'nosuch.toml'}: recipe file not found\n"
    assert main(["run", str(recipe), "--devices", "2", "--set", "train.bogus=1"]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_failure_in_another_process_is_told(recipe, tmp_path):
    code, out, err = torchrun(
        recipe,
        tmp_path / "t",
        "run",
        str(recipe),
        "--plain",
        "--set",
        "train.max_steps=50",
        env={"WORKBENCH_TEST_FAIL": "1:2"},
    )
    assert code != 0
    assert "[rank 1] error: injected failure at step 2" in err
    end = read_events(only_run(tmp_path / "runs"))[-1]
    assert end.status == "failed"  # the main process saw its peer go


def test_shared_relation_rows_gathered_from_two_processes_score_as_one(relation_recipe, tmp_path):
    """Rows holding different numbers of pairs on each process: the pairs (and their
    candidate indices) padded and gathered score as one process scores the model."""
    code, _out, err = torchrun(
        relation_recipe,
        tmp_path / "trace",
        "run",
        str(relation_recipe),
        "--plain",
        "--set",
        "relation.encoding=shared",
        "train.max_steps=3",
        "train.eval_batch_size=1",
    )
    assert code == 0, err
    run = only_run(tmp_path / "runs")
    report = json.loads((run / "report.json").read_text())["reports"]["validation"]
    _, alone = evaluate_saved(run, str(tmp_path / "data" / "rel.jsonl"))
    assert report["relations"] == alone["relations"] == 5
    for key in ("micro_f1", "precision", "recall", "macro_f1"):
        assert report["metrics"][key] == alone["metrics"][key], key
    assert report["per_label"] == alone["per_label"]
