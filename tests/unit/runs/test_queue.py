"""The run queue and its scheduler, with jobs that are small Python scripts (run_queue's
``program`` hook) in place of trainings: real processes, real slots, real exit codes,
in about a second each."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.errors import WorkbenchError
from workbench.runs.queue import Queue, default_slots, run_queue

# A job: writes its environment to OUT, announces a run folder, sleeps SECONDS and exits
# CODE; a SIGTERM ends it with 130, as it ends `workbench run` after its checkpoint.
JOB = textwrap.dedent(
    """
    import json, os, signal, sys, time
    out, seconds, code = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    names = ("CUDA_VISIBLE_DEVICES", "WORKBENCH_QUEUE_JOB")
    with open(out, "w") as handle:
        json.dump({name: os.environ.get(name) for name in names}, handle)
    print("run folder: runs/" + os.path.basename(out), flush=True)
    time.sleep(seconds)
    if code:
        print("error: failed on purpose")
    sys.exit(code)
    """
)
PROGRAM = [sys.executable, "-c", JOB]


@pytest.fixture
def queue(tmp_path, monkeypatch) -> Queue:
    monkeypatch.setenv("WORKBENCH_QUEUE", str(tmp_path / "queue"))
    return Queue.open()


def add(queue: Queue, name: str, seconds: float = 0.0, code: int = 0, devices: int = 1):
    out = queue.folder.parent / f"{name}.json"
    return queue.add([str(out), str(seconds), str(code)], queue.folder.parent, devices, name)


def drain(queue: Queue, slots: list[str], **options) -> None:
    run_queue(queue, slots, poll_s=0.05, until_empty=True, program=PROGRAM, **options)


def environment(queue: Queue, name: str) -> dict:
    return json.loads((queue.folder.parent / f"{name}.json").read_text())


def wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def most_at_once(jobs) -> int:
    """The most jobs that ran at the same time (an end and a start at one instant do not
    overlap: the scheduler saw the end before it started the next)."""
    edges = sorted([(j.started, 1) for j in jobs] + [(j.ended, -1) for j in jobs])
    return max(itertools.accumulate(step for _, step in edges))


def test_two_slots_four_runs_at_most_two_at_a_time_and_a_failure_goes_on(queue):
    added = [add(queue, f"job{i}", 0.4, code=1 if i == 1 else 0) for i in range(4)]
    heard: list[tuple[int, str]] = []
    drain(queue, ["s0", "s1"], on_change=lambda job: heard.append((job.id, job.status)))
    jobs = queue.jobs()
    assert [j.status for j in jobs] == ["completed", "failed", "completed", "completed"]
    assert [j.returncode for j in jobs] == [0, 1, 0, 0]
    assert jobs[1].error == "failed on purpose" and jobs[0].error is None
    assert most_at_once(jobs) == 2  # both slots used, never more
    for a, b in itertools.combinations(jobs, 2):
        if a.started < b.ended and b.started < a.ended:
            assert a.slots != b.slots
    assert {j.slots for j in jobs} == {"s0", "s1"}
    assert jobs[0].run_dir == str(queue.folder.parent / "runs" / "job0.json")
    assert sorted(heard) == sorted(
        [(j.id, "running") for j in added] + [(j.id, j.status) for j in jobs]
    )
    assert queue.log_path(jobs[1].id).read_text().splitlines()[-1] == "error: failed on purpose"


def test_each_job_sees_its_own_gpus_and_its_id(queue, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")  # the scheduler's own: replaced per job
    add(queue, "both", 0.2, devices=2)
    add(queue, "one", 0.2)
    add(queue, "other", 0.2)
    drain(queue, ["0", "1"])
    jobs = {job.label: job for job in queue.jobs()}
    assert jobs["both"].slots == "0,1"
    for name, job in jobs.items():
        assert job.status == "completed"
        seen = environment(queue, name)
        assert seen == {"CUDA_VISIBLE_DEVICES": job.slots, "WORKBENCH_QUEUE_JOB": str(job.id)}


def test_simulated_and_cpu_slots_set_no_gpus(queue, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    add(queue, "simulated")
    drain(queue, ["s0", "s1"])
    add(queue, "cpu")
    drain(queue, ["cpu"])
    assert environment(queue, "simulated")["CUDA_VISIBLE_DEVICES"] is None
    assert environment(queue, "cpu")["CUDA_VISIBLE_DEVICES"] is None


def test_a_job_needing_more_slots_than_exist_fails_and_blocks_nothing(queue):
    long = add(queue, "long", 0.6)
    huge = add(queue, "huge", devices=3)
    pair = add(queue, "pair", 0.1, devices=2)
    short = add(queue, "short", 0.1)
    drain(queue, ["s0", "s1"])
    long, huge, pair, short = (queue.get(job.id) for job in (long, huge, pair, short))
    assert huge.status == "failed" and huge.started is None
    assert huge.error == "needs 3 slots; the scheduler has 2 (s0,s1)"
    assert {long.status, pair.status, short.status} == {"completed"}
    # The policy: the pair waits for two free slots without holding back the short job.
    assert short.started < long.ended <= pair.started
    assert pair.slots == "s0,s1"


def test_remove_stop_and_clear(queue):
    running = add(queue, "running", 30)
    waiting = add(queue, "waiting")
    stop = threading.Event()
    scheduler = threading.Thread(
        target=run_queue, args=(queue, ["s0"], stop, 0.05), kwargs={"program": PROGRAM}
    )
    scheduler.start()
    try:
        wait_until(lambda: queue.get(running.id).status == "running")
        with pytest.raises(WorkbenchError, match=f"job #{running.id} is running: stop it"):
            queue.remove(running.id)
        assert queue.remove(waiting.id).status == "removed"
        with pytest.raises(WorkbenchError, match="already ended"):
            queue.remove(waiting.id)
        wait_until((queue.folder.parent / "running.json").exists)  # its handler is set
        queue.stop(running.id)
        wait_until(lambda: queue.get(running.id).is_ended)
    finally:
        stop.set()
        scheduler.join()
    stopped = queue.get(running.id)
    assert (stopped.status, stopped.returncode, stopped.error) == ("stopped", 130, None)
    assert queue.get(waiting.id).started is None  # removed before it could start
    with pytest.raises(WorkbenchError, match="not running"):
        wait_until((queue.folder.parent / "running.json").exists)  # its handler is set
        queue.stop(running.id)
    assert queue.jobs(include_ended=False) == []
    kept = add(queue, "kept")
    assert queue.clear_ended() == 2
    assert [job.id for job in queue.jobs()] == [kept.id]
    assert not queue.log_path(running.id).exists()
    with pytest.raises(WorkbenchError, match=f"no job #{running.id}"):
        queue.get(running.id)


def test_a_second_scheduler_on_the_same_folder_is_refused(queue):
    stop = threading.Event()
    first = threading.Thread(target=run_queue, args=(queue, ["s0"], stop, 0.05))
    first.start()
    try:
        wait_until(lambda: queue.scheduler_pid() == os.getpid())
        with pytest.raises(WorkbenchError, match=f"already runs .* \\(pid {os.getpid()}\\)"):
            run_queue(Queue.open(queue.folder), ["s1"], until_empty=True)
    finally:
        stop.set()
        first.join()
    assert queue.scheduler_pid() is None
    run_queue(queue, ["s0"], until_empty=True)  # free again once the first has gone


SCHEDULER = (
    "import json, sys; from workbench.runs.queue import Queue, run_queue; "
    "run_queue(Queue.open(), ['s0'], poll_s=0.05, program=json.loads(sys.argv[1]))"
)


def killed_scheduler(queue: Queue, job) -> None:
    """A scheduler in another process, killed (SIGKILL) while ``job`` runs."""
    scheduler = subprocess.Popen([sys.executable, "-c", SCHEDULER, json.dumps(PROGRAM)])
    try:
        wait_until(lambda: queue.get(job.id).status == "running")
    finally:
        scheduler.kill()
        scheduler.wait()


def test_a_restarted_scheduler_reads_how_a_job_ended_while_it_was_gone(queue):
    first = add(queue, "first", 0.5, code=3)
    second = add(queue, "second")
    killed_scheduler(queue, first)
    wait_until(lambda: queue.rc_path(first.id).exists())  # the job ends on its own
    assert queue.get(first.id).status == "running" and queue.get(second.id).status == "waiting"
    drain(queue, ["s0"])
    first, second = queue.get(first.id), queue.get(second.id)
    assert (first.status, first.returncode, first.error) == ("failed", 3, "failed on purpose")
    assert second.status == "completed"


def test_a_restarted_scheduler_adopts_a_running_job_and_keeps_its_slot(queue):
    first = add(queue, "first", 1.0)
    second = add(queue, "second")
    killed_scheduler(queue, first)
    adopted: list[int] = []
    drain(queue, ["s0"], on_change=lambda job: adopted.append(job.id))
    first, second = queue.get(first.id), queue.get(second.id)
    assert adopted[0] == first.id  # heard of at once, still running
    assert first.status == second.status == "completed" and first.returncode == 0
    assert second.started >= first.ended  # its slot stayed busy until it ended


def test_a_job_killed_with_its_wrapper_died_without_an_exit_code(queue):
    job = add(queue, "doomed", 30)
    killed_scheduler(queue, job)
    os.killpg(queue.get(job.id).pid, signal.SIGKILL)  # the wrapper too: nothing writes rc
    drain(queue, ["s0"])
    died = queue.get(job.id)
    assert (died.status, died.returncode, died.error) == ("failed", None, "died (no exit code)")


def test_a_job_whose_folder_has_gone_fails_to_start(queue, tmp_path):
    job = queue.add(["--version"], tmp_path / "gone")
    drain(queue, ["s0"])
    failed = queue.get(job.id)
    assert failed.status == "failed" and failed.error.startswith(f"cannot start in {tmp_path}")


def test_a_failed_training_is_told_by_its_end_line_not_its_run_folder_line(queue):
    # What `workbench run` prints last when training fails (no `error:` line then).
    lines = ["step 3", "run failed after 0:00:04: CUDA out of memory", "run folder: runs/r"]
    script = f"print({chr(10).join(lines)!r}); raise SystemExit(1)"
    job = queue.add([], queue.folder)
    run_queue(queue, ["s0"], poll_s=0.05, until_empty=True, program=[sys.executable, "-c", script])
    failed = queue.get(job.id)
    assert failed.error == "run failed after 0:00:04: CUDA out of memory"
    assert failed.run_dir == str(queue.folder / "runs" / "r")


def test_default_slots(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)

    def fake_torch(available: bool, count: int = 0) -> None:
        cuda = SimpleNamespace(is_available=lambda: available, device_count=lambda: count)
        monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))

    fake_torch(False)
    assert default_slots() == ["cpu"]
    fake_torch(True, 3)
    assert default_slots() == ["0", "1", "2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # the GPUs this scheduler was given
    assert default_slots() == ["2", "3"]


def test_bad_jobs_and_slots_are_refused(queue):
    with pytest.raises(WorkbenchError, match="at least 1"):
        queue.add(["--version"], Path.cwd(), devices=0)
    with pytest.raises(WorkbenchError, match="distinct"):
        run_queue(queue, ["s0", "s0"], until_empty=True)
