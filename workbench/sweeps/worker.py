"""A sweep worker: asks the study for trials and runs each one as an ordinary
`workbench run` process, until the sweep has as many trials as it wants.

Several workers (other terminals, queue slots, machines) share one sweep through
its storage and never run the same trial: on one machine they take turns asking
(a lock in the sweep folder; SQLite alone would let two take the same waiting
trial), across machines the database keeps them apart. A trial whose worker died
(SIGKILL, a machine gone) is failed and asked for again with the same values; its
run goes on from its last checkpoint where the folder is at hand. A trial that
fails on its own (an error in the run) is counted and not repeated.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.runs.files import write_json_atomic
from workbench.runs.folder import RUN_FOLDER_PREFIX
from workbench.runs.processes import process_alive
from workbench.sweeps.keep import disk_hint, tidy
from workbench.sweeps.space import grid_size
from workbench.sweeps.study import SPEC, Sweep, refresh

Say = Callable[[str], None]
# How long a reclaimed trial's run may take to stop on its own (it checks its worker
# every few seconds, then writes a checkpoint).
ORPHAN_WAIT_S = 60.0
LOCK = ".worker.lock"


def counted(study) -> tuple[int, bool]:
    """How many trials count towards the sweep's total, and whether any waits to be
    run (a retry). A failure that was retried is not counted twice."""
    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    waiting = any(t.state.name == "WAITING" for t in trials)
    count = sum(
        1
        for t in trials
        if t.state.name in ("COMPLETE", "PRUNED", "RUNNING")
        or (t.state.name == "FAIL" and t.number not in retried)
    )
    return count, waiting


def retry(study, trial) -> None:
    """Ask for ``trial``'s values again (its run resumed where it can be)."""
    attrs: dict[str, Any] = {"retry_of": trial.number}
    run_dir = trial.user_attrs.get("run_dir") or trial.user_attrs.get("resume")
    if run_dir:
        attrs["resume"] = run_dir
    study.enqueue_trial(dict(trial.params), user_attrs=attrs)


def worker_seed(seed: int | None, first: bool, trials: int) -> int | None:
    """The sampler's seed for a worker: the sweep's own for the worker that made it
    (its proposals repeat), another for each worker that joins (the same seed would
    propose the same values again)."""
    if seed is None or first:
        return seed
    return random.Random(f"{seed}-{socket.gethostname()}-{os.getpid()}-{trials}").randrange(2**31)


@contextlib.contextmanager
def _turn(sweep: Sweep) -> Iterator[None]:
    """This machine's workers of ``sweep`` one at a time (counting and asking)."""
    with open(sweep.folder / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def reclaim(study, say: Say) -> int:
    """Fail and retry the running trials whose worker on this machine is gone (its
    run, if still alive, stops itself first). Returns how many."""
    import optuna

    host, found = socket.gethostname(), 0
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        if trial.state.name != "RUNNING" or attrs.get("worker_host") != host:
            continue
        if process_alive(attrs.get("worker_pid"), host):
            continue
        began, run_pid = time.monotonic(), attrs.get("run_pid")
        while process_alive(run_pid, host) and time.monotonic() - began < ORPHAN_WAIT_S:
            time.sleep(0.5)
        try:
            study._storage.set_trial_user_attr(trial._trial_id, "error", "its worker died")
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (RuntimeError, ValueError):  # another worker got there first
            continue
        retry(study, trial)
        say(f"trial {trial.number}: its worker died; it will run again")
        found += 1
    return found


def _wants_more(study, sweep: Sweep) -> bool:
    count, waiting = counted(study)
    if waiting:
        return True
    if sweep.spec.sampler == "grid":  # until every point is taken, whatever the count
        taken = {
            json.dumps(t.params, sort_keys=True)
            for t in study.get_trials(deepcopy=False)
            if t.params and t.state.name != "FAIL"
        }
        return len(taken) < (grid_size(sweep.spec.parameters()) or 0)
    # The total as the study holds it now: `sweep join --trials` may have raised it
    # since this worker began, here or on another machine.
    return count < refresh(sweep.spec, study).trials


KEEP_AS_IT_IS = object()


def change(sweep: Sweep, trials: int | None = None, keep: Any = KEEP_AS_IT_IS) -> int:
    """A new total (more trials for a sweep that has run its own, or is still
    running) and what its trials keep (``keep``: a number, None for all); every
    worker, on any machine, goes on with them. Returns how many trials it had."""
    points = grid_size(sweep.spec.parameters()) if sweep.spec.sampler == "grid" else None
    if trials is not None and points is not None and trials != points:
        raise WorkbenchError(
            f"sweep {sweep.folder}: a grid sweep runs its {points} points; --trials cannot "
            "change that (make a sweep with a larger grid)"
        )
    if trials is not None and trials < 1:
        raise WorkbenchError(f"sweep --trials: a whole number, at least 1: {trials}")
    study = sweep.study()
    with _turn(sweep):  # not while another worker here counts and asks
        refresh(sweep.spec, study)  # another machine may have changed it since
        count, _ = counted(study)
        if trials is not None and trials < count:
            raise WorkbenchError(
                f"sweep {sweep.folder}: it has {count} trials already; --trials {trials} "
                f"would take some back (ask for {count} or more)"
            )
        changes: dict[str, Any] = {} if trials is None else {"trials": trials}
        if keep is not KEEP_AS_IT_IS:
            changes["keep"] = keep
        kept = dict(study.user_attrs.get("workbench") or {})
        kept["spec"] = {**(kept.get("spec") or asdict(sweep.spec)), **changes}
        study.set_user_attr("workbench", kept)
        for name, value in changes.items():
            setattr(sweep.spec, name, value)
        write_json_atomic(sweep.folder / SPEC, asdict(sweep.spec))  # read by others meanwhile
    if "keep" in changes:
        tidy(sweep, study)  # what the new setting no longer keeps goes now, not later
    return count


def run_worker(
    sweep: Sweep,
    stop: threading.Event | None = None,
    say: Say = lambda _: None,
    first=False,
    seed: int | None = None,
) -> int:
    """Run trials until the sweep has its count (or ``stop`` is set); the number run.
    ``first``: this worker made the sweep (its sampler takes the sweep's seed);
    ``seed``: this worker's sampler seed, over the one it would take."""
    import warnings

    import optuna

    stop = stop or threading.Event()
    if seed is None:
        seed = worker_seed(sweep.spec.seed, first, len(sweep.study().get_trials(deepcopy=False)))
    study = sweep.study(retry_callback=retry, seed=seed)
    trial_runner = _Trial(sweep, study, stop, say)
    hinted = False
    while not stop.is_set():
        with _turn(sweep):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # fail_stale_trials is "experimental"
                optuna.storages.fail_stale_trials(study)  # other machines' dead workers
            reclaim(study, say)  # this machine's
            if not _wants_more(study, sweep):
                break
            trial = study.ask()
            trial.set_user_attr("worker_host", socket.gethostname())
            trial.set_user_attr("worker_pid", os.getpid())
        trial_runner(trial)
        tidy(sweep, study)  # with the study's keep: `sweep join --keep` may have changed it
        if not hinted and trial_runner.run_dir:  # once, from the first trial's folder
            hinted = True
            remaining = sweep.spec.trials - counted(study)[0]
            hint = disk_hint(sweep, Path(trial_runner.run_dir), remaining)
            if hint:
                say(hint)
    return trial_runner.runs


class _Heartbeat:
    """Optuna's heartbeat for a trial while its run trains (a worker on another
    machine fails the trial when it stops)."""

    def __init__(self, storage, trial_id: int):
        self.stop = threading.Event()
        interval = (
            storage.get_heartbeat_interval() if hasattr(storage, "record_heartbeat") else None
        )
        self.thread = None
        if interval:
            storage.record_heartbeat(trial_id)
            self.thread = threading.Thread(
                target=self._beat, args=(storage, trial_id, interval), daemon=True
            )
            self.thread.start()

    def _beat(self, storage, trial_id: int, interval: float) -> None:
        while not self.stop.wait(interval):
            with contextlib.suppress(Exception):  # a database blip: the next beat
                storage.record_heartbeat(trial_id)

    def close(self) -> None:
        self.stop.set()


class _Trial:
    """One trial, one `workbench run` process, told to the study as it ends."""

    def __init__(self, sweep: Sweep, study, stop: threading.Event, say: Say):
        self.sweep, self.study, self.stop, self.say = sweep, study, stop, say
        self.params = sweep.spec.parameters()
        self.runs = 0
        self.run_dir: str | None = None  # the last trial's run folder

    def __call__(self, trial) -> None:
        import optuna

        values = {p.name: p.suggest(trial) for p in self.params}
        overrides = self.sweep.overrides(values)
        resume = trial.user_attrs.get("resume")
        resume = resume if resume and _resumable(resume) else None
        if resume:  # known before it runs: a worker killed again still resumes it
            trial.set_user_attr("run_dir", resume)
        log = self.sweep.runs_dir / f"trial-{trial.number:03d}.log"
        retried = trial.user_attrs.get("retry_of")
        again = f" (again, for trial {retried})" if retried is not None else ""
        self.say(f"trial {trial.number} started{again}: {' '.join(overrides)}")
        heartbeat = _Heartbeat(self.study._storage, trial._trial_id)
        try:
            code = self._launch(trial, self._argv(trial, overrides, resume), log)
        except KeyboardInterrupt:  # a second Ctrl-C: no waiting; the trial runs again later
            self._again(trial, "interrupted")
            raise
        finally:
            heartbeat.close()
        self.runs += 1
        attrs = self.study._storage.get_trial_user_attrs(trial._trial_id)
        run_dir = self.run_dir = attrs.get("run_dir") or _run_dir_from(log)
        summary = _summary(run_dir)
        if summary is not None:
            trial.set_user_attr("steps", summary.steps)
            if not attrs.get("run_dir"):
                trial.set_user_attr("run_dir", str(run_dir))
        metric = self.sweep.spec.metric
        completed = summary is not None and summary.status.value == "completed"
        if attrs.get("pruned_at") is not None and not completed:  # judged as it ended: done
            value = attrs.get("pruned_value")
            shown = f" ({metric} {value:.4f})" if value is not None else ""
            self.say(f"trial {trial.number} pruned at step {attrs['pruned_at']}{shown}")
            self.study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif completed:
            assert summary is not None
            if attrs.get("pruned_at") is not None:
                trial.set_user_attr("pruned_at", None)  # judged only as it finished
            if summary.best_value is None:
                self._failed(trial, "the run evaluated nothing (no validation split?)")
                return
            self.say(f"trial {trial.number} completed: {metric} {summary.best_value:.4f}")
            self.study.tell(trial, float(summary.best_value))
        elif self.stop.is_set() or (summary is not None and summary.status.value == "stopped"):
            self._again(trial, "stopped with its worker")
            self.say(f"trial {trial.number} stopped; it will run again when the sweep goes on")
        else:
            error = (summary.error if summary is not None else None) or _last_error(log)
            self._failed(trial, error or f"its run exited with {code}")

    def _again(self, trial, why: str) -> None:
        """Fail ``trial`` and ask for it again (its run resumed)."""
        import optuna

        trial.set_user_attr("error", why)
        retry(self.study, self.study._storage.get_trial(trial._trial_id))
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _failed(self, trial, error: str) -> None:
        import optuna

        trial.set_user_attr("error", error)
        self.say(f"trial {trial.number} failed: {error}")
        self.study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _argv(self, trial, overrides: list[str], resume: str | None) -> list[str]:
        ref = f"{self.sweep.folder.resolve()}#{trial._trial_id}"
        if resume is not None:
            argv = ["run", "--resume", resume]
        else:
            name = f"{self.sweep.spec.name.split('-', 2)[-1]}-t{trial.number:03d}"
            argv = [
                "run",
                str(self.sweep.recipe_path.resolve()),
                "--set",
                *overrides,
                f"output.dir={self.sweep.runs_dir.resolve()}",
                f"name={name}",
            ]
        return [*argv, "--plain", "--quiet-reports", "--sweep-trial", ref]

    def _launch(self, trial, argv: list[str], log: Path) -> int:
        """Run the trial, its output to ``log``; on a stop, ask it to checkpoint and
        stop (SIGTERM), as a person's Ctrl-C would."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            # Its own session: a terminal's signals reach the worker, which passes on a
            # stop the run can checkpoint for, rather than killing it mid-step.
            process = subprocess.Popen(
                [sys.executable, "-m", "workbench", *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        trial.set_user_attr("run_pid", process.pid)
        asked = False
        try:
            while process.poll() is None:
                if self.stop.is_set() and not asked:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGTERM)
                    asked = True
                time.sleep(0.3)
        except KeyboardInterrupt:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
            raise
        return process.returncode


def _resumable(run_dir: str) -> bool:
    summary = _summary(run_dir)
    return summary is not None and summary.resumable_from is not None


def _summary(run_dir):
    from workbench.runs.index import summarize

    if not run_dir or not Path(run_dir).is_dir():
        return None
    return summarize(run_dir)


def _run_dir_from(log: Path) -> str | None:
    """The run folder a `workbench run` printed (the last one in the log)."""
    found = None
    with contextlib.suppress(OSError):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(RUN_FOLDER_PREFIX):
                found = line[len(RUN_FOLDER_PREFIX) :].strip()
    return found


def _last_error(log: Path) -> str | None:
    with contextlib.suppress(OSError):
        for line in reversed(log.read_text(encoding="utf-8", errors="replace").splitlines()):
            if "error:" in line:
                return line.split("error:", 1)[1].strip()
    return None
