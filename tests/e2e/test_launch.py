"""`workbench run` as a child process: its output, its run folder, its errors."""

from __future__ import annotations

import time

import pytest

from workbench.runs.launch import LaunchedRun


def wait_exit(run: LaunchedRun, timeout: float = 60) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines += run.read_output()
        if run.returncode is not None:
            return lines + run.read_output()
        time.sleep(0.1)
    raise AssertionError("the child did not exit")


def test_a_child_that_fails_on_bad_input_says_why(tmp_path):
    run = LaunchedRun(tmp_path / "missing.toml", ["train.epochs=1"])
    lines = wait_exit(run)
    assert run.returncode == 2
    assert run.error() == f"{tmp_path / 'missing.toml'}: recipe file not found"
    assert run.run_dir is None and any("recipe file not found" in line for line in lines)
    assert not run.log_path.exists()  # the console log is dropped once read


@pytest.mark.slow
def test_a_child_run_announces_its_folder_and_completes(ner_recipe):
    run = LaunchedRun(ner_recipe, ["train.epochs=1"])
    lines = wait_exit(run, 120)
    assert run.returncode == 0 and run.error() is None
    assert run.run_dir is not None and (run.run_dir / "events.jsonl").is_file()
    assert run.run_dir.parent == ner_recipe.parent / "runs"
    assert any(line.startswith("run completed") for line in lines)
