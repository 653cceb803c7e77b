"""What a RUN argument names: a path, a run folder's name or start, or a recipe's
latest usable run; and `workbench runs` showing every name whole."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers.fake_runs import write_run
from workbench.errors import WorkbenchError
from workbench.runs.index import find_run


@pytest.fixture
def runs(tmp_path):
    runs = tmp_path / "runs"
    write_run(runs, "20261101-090000-demo-ner")
    write_run(runs, "20261101-100000-demo-ner")
    write_run(runs, "20261101-110000-demo-ner", status="failed", steps=50, checkpoint_at=50)
    write_run(runs, "20261101-120000-ner", recipe="ner")
    write_run(
        runs,
        "20261101-130000-demo-sentiment-with-a-long-name",
        recipe="demo-sentiment-with-a-long-name",
        task="classification",
    )
    return runs


def test_a_recipe_name_means_its_latest_completed_run(runs):
    path, note = find_run("demo-ner", runs)
    assert path.name == "20261101-100000-demo-ner"  # the newest completed: 11:00 failed
    assert "20261101-100000-demo-ner" in note
    # "ner" is a recipe of its own, not the tail of "demo-ner"
    assert find_run("ner", runs)[0].name == "20261101-120000-ner"
    resumable, _ = find_run(
        "demo-ner",
        runs,
        usable=lambda run: run.resumable_from,
        wanted="resumable run",
        newest_only=True,
    )
    assert resumable.name == "20261101-110000-demo-ner"
    # a second run in the same second is "...-demo-ner-1": still the recipe's, and whole
    # names that start another name are still taken whole
    write_run(runs, "20261101-110000-demo-ner-1")
    assert find_run("demo-ner", runs)[0].name == "20261101-110000-demo-ner-1"
    assert find_run("20261101-110000-demo-ner", runs)[0].name == "20261101-110000-demo-ner"
    # --resume by recipe: only its newest run, never an older one behind it
    newest_not_resumable = r"the newest run of this recipe in .*runs/ is not a resumable run"
    with pytest.raises(WorkbenchError, match=newest_not_resumable):
        find_run(
            "demo-ner",
            runs,
            usable=lambda run: run.resumable_from,
            wanted="resumable run",
            newest_only=True,
        )


def test_a_unique_start_of_a_folder_name(runs):
    assert find_run("20261101-09", runs)[0].name == "20261101-090000-demo-ner"
    assert find_run("20261101-120000-ner", runs) == (runs / "20261101-120000-ner", None)
    with pytest.raises(WorkbenchError) as error:
        find_run("20261101-1", runs)
    message = str(error.value)
    assert "4 runs" in message and "20261101-100000-demo-ner" in message
    assert "\n" not in message


def test_paths_are_taken_as_they_are_and_unknown_names_say_where_they_looked(runs, tmp_path):
    model = tmp_path / "exported"
    model.mkdir()
    assert find_run(str(model), runs) == (model, None)
    with pytest.raises(WorkbenchError, match="no-such-recipe: no such file, and no run folder"):
        find_run("no-such-recipe", runs)
    with pytest.raises(WorkbenchError, match="no completed run of this recipe"):
        find_run("demo-ner", runs, usable=lambda run: False)


def test_runs_shows_every_folder_name_whole_at_80_columns(runs, tmp_path):
    env = {**os.environ, "COLUMNS": "80"}
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "runs", "--dir", str(runs)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    for folder in runs.iterdir():
        assert folder.name in out
    assert "failed" in out and "completed" in out


def test_runs_into_a_closed_pipe_exits_quietly(runs):
    for argv in (["runs", "--dir", str(runs)], ["runs", "--dir", str(runs), "--json"]):
        reader, writer = os.pipe()
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", *argv], stdout=writer, stderr=subprocess.PIPE
        )
        os.close(writer)
        os.close(reader)
        _, err = process.communicate(timeout=60)
        assert (process.returncode, err.decode()) == (0, "")
