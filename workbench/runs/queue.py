"""A persistent queue of `workbench` commands that start as GPUs (slots) free up.

The queue is a folder (``$WORKBENCH_QUEUE``, else ``~/.local/state/workbench/queue``):
``queue.sqlite`` (the jobs; any number of processes may add, list, remove and stop),
``logs/<id>.log`` (a job's console output), ``logs/<id>.rc`` (its exit status) and
``scheduler.lock`` (flock, held by the one ``run_queue`` of the folder; its pid inside).

Each job runs in a session of its own under a small ``sh`` wrapper that writes its exit
status to the rc file: a scheduler that died (or was stopped with Ctrl-C) learns when it
starts again how the jobs it left ended, and adopts those still running.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError, first_line
from workbench.runs.folder import RUN_FOLDER_PREFIX

JOB_ENV = "WORKBENCH_QUEUE_JOB"  # set in each job's environment: its id
DATABASE, LOGS, LOCK = "queue.sqlite", "logs", "scheduler.lock"
SCHEDULER_LOG = "scheduler.log"  # a detached scheduler's own output
WAITING, RUNNING, COMPLETED, FAILED = "waiting", "running", "completed", "failed"
STOPPED, REMOVED = "stopped", "removed"
ENDED = (COMPLETED, FAILED, STOPPED, REMOVED)
DIED = "died (no exit code)"
# `workbench run` exits 130 when it stopped with a checkpoint; 143 is a process that a
# SIGTERM ended before it could handle one (the shell reports 128 + the signal).
STOPPED_CODES = (130, 128 + signal.SIGTERM)
# The wrapper every job runs under. Its trap keeps it alive through a SIGTERM or Ctrl-C
# sent to the whole group (the shell runs a trap once the command has ended), so the
# exit status is written whatever ends the command.
WRAPPER = 'rc="$1"; shift; trap : INT TERM; "$@"; echo $? > "$rc.tmp"; mv "$rc.tmp" "$rc"'
_SCHEMA = """CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY AUTOINCREMENT,
    argv TEXT NOT NULL, cwd TEXT NOT NULL, devices INTEGER NOT NULL, label TEXT NOT NULL,
    status TEXT NOT NULL, slots TEXT NOT NULL DEFAULT '', pid INTEGER, host TEXT,
    added REAL NOT NULL, started REAL, ended REAL, returncode INTEGER, run_dir TEXT,
    error TEXT)"""


@dataclass
class Job:
    """One queued command. ``argv`` are `workbench` arguments; ``slots`` the slot ids it
    runs (or ran) on, joined by commas; ``pid`` its wrapper's (the process group's);
    times are seconds since the epoch."""

    id: int
    argv: list[str]
    cwd: str
    devices: int
    label: str
    status: str
    slots: str = ""
    pid: int | None = None
    host: str | None = None
    added: float = 0.0
    started: float | None = None
    ended: float | None = None
    returncode: int | None = None
    run_dir: str | None = None
    error: str | None = None

    @property
    def is_ended(self) -> bool:
        return self.status in ENDED


class Queue:
    """The jobs of one queue folder. Each call opens a short-lived connection of its own,
    so threads may share a Queue and processes the folder."""

    def __init__(self, folder: Path):
        self.folder = folder

    @classmethod
    def open(cls, path: Path | None = None) -> Queue:
        """The queue in ``path`` (default: ``$WORKBENCH_QUEUE``, else
        ``~/.local/state/workbench/queue``), created if need be."""
        configured = os.environ.get("WORKBENCH_QUEUE")
        default = Path.home() / ".local" / "state" / "workbench" / "queue"
        queue = cls(Path(path or configured or default).expanduser())
        try:
            (queue.folder / LOGS).mkdir(parents=True, exist_ok=True)
            with contextlib.closing(queue._connect()) as db:
                # WAL lets lists read while a job starts; a file system without it keeps
                # the default journal, which works too, with more waiting.
                with contextlib.suppress(sqlite3.OperationalError):
                    db.execute("PRAGMA journal_mode=WAL")
                db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise WorkbenchError(f"queue folder {queue.folder}: cannot use it ({exc})") from None
        return queue

    def log_path(self, job_id: int) -> Path:
        """Where job ``job_id``'s console output goes."""
        return self.folder / LOGS / f"{job_id}.log"

    def rc_path(self, job_id: int) -> Path:
        """Where the wrapper writes job ``job_id``'s exit status."""
        return self.folder / LOGS / f"{job_id}.rc"

    def _connect(self) -> sqlite3.Connection:
        # Autocommit: transactions are begun explicitly, where they are needed.
        db = sqlite3.connect(self.folder / DATABASE, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, taken at once (BEGIN IMMEDIATE): what it reads stays
        true until it commits."""
        with contextlib.closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _select(self, where: str = "1", params: Sequence = (), db=None) -> list[Job]:
        """The jobs ``where`` says, read through ``db`` (a transaction's) when given."""
        own = contextlib.closing(self._connect()) if db is None else contextlib.nullcontext(db)
        with own as connection:
            query = f"SELECT * FROM jobs WHERE {where} ORDER BY id"
            rows = connection.execute(query, params).fetchall()
        return [Job(**{**dict(row), "argv": json.loads(row["argv"])}) for row in rows]

    def add(
        self, argv: list[str], cwd: str | Path, devices: int = 1, label: str | None = None
    ) -> Job:
        """Queue ``workbench ARGV``, to run in ``cwd`` on ``devices`` slots."""
        if devices < 1:
            raise WorkbenchError("a job needs at least 1 device")
        values = (json.dumps(list(argv)), str(Path(cwd).absolute()), devices)
        with self.transaction() as db:
            job_id = db.execute(
                "INSERT INTO jobs (argv, cwd, devices, label, status, added) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (*values, label or shlex.join(argv), WAITING, time.time()),
            ).lastrowid
        return self.get(job_id or 0)

    def add_run(
        self, recipe: str | Path, overrides: list[str], cwd: str | Path, devices: int = 1
    ) -> Job:
        """Queue `workbench run RECIPE --set OVERRIDES` (the CLI's and the TUI's way in;
        the caller has checked the recipe)."""
        argv = ["run", str(Path(recipe).resolve())]
        if overrides:
            argv += ["--set", *overrides]
        argv.append("--plain")
        if devices > 1:
            argv += ["--devices", str(devices)]
        return self.add(argv, cwd, devices=devices, label=" ".join([str(recipe), *overrides]))

    def jobs(self, include_ended: bool = True) -> list[Job]:
        """The jobs in the order they were added; only waiting and running ones unless
        ``include_ended``."""
        if include_ended:
            return self._select()
        return self._select("status IN (?, ?)", (WAITING, RUNNING))

    def get(self, job_id: int, db: sqlite3.Connection | None = None) -> Job:
        """Job ``job_id`` (read through ``db`` when given)."""
        found = self._select("id = ?", (job_id,), db)
        if not found:
            raise WorkbenchError(f"no job #{job_id} in the queue {self.folder}")
        return found[0]

    def remove(self, job_id: int) -> Job:
        """Take a waiting job off the queue (it stays listed, as removed)."""
        with self.transaction() as db:  # no scheduler can start it meanwhile
            job = self.get(job_id, db)
            if job.status == RUNNING:
                raise WorkbenchError(
                    f"job #{job_id} is running: stop it first (workbench queue stop {job_id})"
                )
            if job.status != WAITING:
                raise WorkbenchError(f"job #{job_id} has already ended ({job.status})")
            _set(db, job_id, WAITING, status=REMOVED, ended=time.time())
        return self.get(job_id)

    def stop(self, job_id: int) -> Job:
        """Ask a running job to stop: a SIGTERM to its `workbench` process, which
        checkpoints and exits 130; the scheduler then marks it stopped."""
        job = self.get(job_id)
        if job.status != RUNNING:
            hint = f" (workbench queue remove {job_id})" if job.status == WAITING else ""
            raise WorkbenchError(f"job #{job_id} is not running, it is {job.status}{hint}")
        if job.host != socket.gethostname():
            raise WorkbenchError(f"job #{job_id} runs on {job.host}: stop it there")
        if not _alive(job):
            raise WorkbenchError(f"job #{job_id} has no process any more; it is being ended")
        _terminate(job.pid or 0)
        return job

    def clear_ended(self) -> int:
        """Delete the ended jobs (and their logs) from the queue; how many there were."""
        marks = ", ".join("?" * len(ENDED))
        with self.transaction() as db:
            ended = [job.id for job in self._select(f"status IN ({marks})", ENDED, db)]
            db.executemany("DELETE FROM jobs WHERE id = ?", [(i,) for i in ended])
        for job_id in ended:
            self.log_path(job_id).unlink(missing_ok=True)
            self.rc_path(job_id).unlink(missing_ok=True)
        return len(ended)

    def scheduler_pid(self) -> int | None:
        """The pid of the scheduler running this queue (-1 for a moment, before it has
        written it), or None when none runs."""
        with open(self.folder / LOCK, "a+") as handle:
            holder = _lock(handle)
        return None if holder is None else int(holder) if holder.isdigit() else -1

    @contextlib.contextmanager
    def scheduler_lock(self) -> Iterator[None]:
        """Held while a scheduler runs; a second one is refused with the first's pid.
        The kernel lets go of it however the holder ends."""
        with open(self.folder / LOCK, "a+") as handle:
            holder = _lock(handle)
            # `scheduler_pid` takes the lock for an instant to look: a scheduler that
            # starts in that instant waits it out rather than take it for a rival.
            deadline = time.monotonic() + 2.0
            while holder is not None and time.monotonic() < deadline:
                time.sleep(0.05)
                holder = _lock(handle)
            if holder is not None:
                raise WorkbenchError(
                    f"a scheduler already runs the queue {self.folder} (pid {holder or '?'})"
                )
            handle.truncate(0)
            handle.write(str(os.getpid()))
            handle.flush()
            yield


def _lock(handle) -> str | None:
    """Take the scheduler lock on ``handle`` (kept until it is closed): None, or, when
    another process holds it, what that one wrote (its pid)."""
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        return handle.read().strip()
    return None


def _set(db: sqlite3.Connection, job_id: int, was: str, **values) -> None:
    """Set ``values`` on a job that is still ``was`` (another process may have moved it)."""
    columns = ", ".join(f"{column} = ?" for column in values)
    db.execute(
        f"UPDATE jobs SET {columns} WHERE id = ? AND status = ?", (*values.values(), job_id, was)
    )


def _alive(job: Job) -> bool:
    """Is the job's wrapper still there? A zombie is not, nor a process born well after
    the job started (its pid reused, after a reboot)."""
    import psutil

    if not job.pid:
        return False
    try:
        process = psutil.Process(job.pid)
        born = process.create_time()
        return born <= (job.started or 0) + 5 and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _terminate(pid: int) -> None:
    """SIGTERM to the command the wrapper ``pid`` runs. Not to the whole group: a GPU
    run's data-loader workers would die of it and fail the run, where its own process
    checkpoints and then ends them."""
    import psutil

    children = []
    for _ in range(50):  # a wrapper started a moment ago may not have started it yet
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(pid).children()
        if children:
            break
        time.sleep(0.02)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.send_signal(signal.SIGTERM)
    if not children:  # the group then: the wrapper's trap outlives it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)


def default_slots() -> list[str]:
    """The GPUs of this machine as slot ids (``$CUDA_VISIBLE_DEVICES``'s when it is set,
    so a scheduler keeps to the GPUs it was given), else ``["cpu"]``: one slot."""
    import torch

    if not torch.cuda.is_available():
        return ["cpu"]
    visible = [gpu.strip() for gpu in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")]
    if any(visible):
        return [gpu for gpu in visible if gpu]
    return [str(i) for i in range(torch.cuda.device_count())]


def simulated_slots(count: int) -> list[str]:
    """``count`` slots that are not GPUs (``s0``, ``s1``...): runs side by side on a CPU."""
    if count < 1:
        raise WorkbenchError("--slots must be at least 1")
    return [f"s{i}" for i in range(count)]


def gpu_slot(slot: str) -> bool:
    """A slot that names a GPU (its index or UUID) rather than a CPU or simulated slot."""
    return slot.isdigit() or slot.startswith(("GPU-", "MIG-"))


def run_queue(
    queue: Queue,
    slots: list[str],
    stop: threading.Event | None = None,
    poll_s: float = 1.0,
    on_change: Callable[[Job], None] | None = None,
    until_empty: bool = False,
    program: Sequence[str] | None = None,
) -> None:
    """Start the queue's waiting jobs on ``slots`` as they free up, until ``stop`` is set
    (with ``until_empty``: until nothing waits, nor runs on this host).

    Policy: every poll, the waiting jobs are taken in the order they were added, and each
    one that fits in the free slots starts on the first of them. One that does not fit
    yet holds back no later, smaller job (no slot idles while a job could use it; a large
    job waits for as long as small ones keep taking freed slots). A job needing more
    slots than there are fails at once.

    Each job runs ``program + argv`` (``python -m workbench``; tests give a small script)
    in its folder and a session of its own, with ``CUDA_VISIBLE_DEVICES`` set to its
    slots when they are GPUs and ``WORKBENCH_QUEUE_JOB`` to its id. The scheduler ending
    ends none of them: the next one adopts those still running (their slots stay busy)
    and reads the exit status of those that ended. ``on_change`` hears of every job that
    starts, ends or is adopted."""
    if not slots or len(set(slots)) != len(slots):
        raise WorkbenchError(f"slots {','.join(slots) or '(none)'}: give distinct slot ids")
    command = list(program) if program is not None else [sys.executable, "-m", "workbench"]
    notify = on_change or (lambda job: None)
    children: dict[int, subprocess.Popen] = {}
    with queue.scheduler_lock():
        for job in filter(_alive, _running_here(queue)):
            notify(job)
        while True:
            for job in _check_running(queue, children):
                notify(job)
            for job in _start_waiting(queue, slots, children, command):
                notify(job)
            idle = not _running_here(queue) and not queue._select("status = ?", (WAITING,))
            if until_empty and idle:
                return
            if stop is None:
                time.sleep(poll_s)
            elif stop.wait(poll_s):
                return


def _running_here(queue: Queue) -> list[Job]:
    return queue._select("status = ? AND host = ?", (RUNNING, socket.gethostname()))


def _check_running(queue: Queue, children: dict[int, subprocess.Popen]) -> list[Job]:
    """End the running jobs of this host whose wrapper has exited; note run folders."""
    changed = []
    for job in _running_here(queue):
        child = children.get(job.id)
        if not _alive(job) if child is None else child.poll() is not None:
            children.pop(job.id, None)
            changed.append(_finish(queue, job))
        elif job.run_dir is None and (run_dir := _run_dir(queue, job, head_only=True)):
            with queue.transaction() as db:
                _set(db, job.id, RUNNING, run_dir=run_dir)
    return changed


def _finish(queue: Queue, job: Job) -> Job:
    """Record how a job whose wrapper has gone ended, from the rc file it left."""
    try:
        returncode: int | None = int(queue.rc_path(job.id).read_text())
    except (OSError, ValueError):
        returncode = None
    status: str = FAILED
    error: str | None = DIED
    if returncode == 0 or returncode in STOPPED_CODES:
        status, error = (COMPLETED if returncode == 0 else STOPPED), None
    elif returncode is not None:
        error = _error_line(queue.log_path(job.id), returncode)
    run_dir = _run_dir(queue, job) or job.run_dir
    with queue.transaction() as db:
        _set(db, job.id, RUNNING, status=status, ended=time.time(), returncode=returncode,
             error=error, run_dir=run_dir)  # fmt: skip
    return queue.get(job.id)


def _start_waiting(
    queue: Queue, slots: list[str], children: dict[int, subprocess.Popen], command: list[str]
) -> list[Job]:
    busy = {slot for job in _running_here(queue) for slot in job.slots.split(",")}
    free = [slot for slot in slots if slot not in busy]
    changed = []
    for job in queue._select("status = ?", (WAITING,)):
        if job.devices > len(slots):
            error = f"needs {job.devices} slots; the scheduler has {len(slots)} ({','.join(slots)})"
            with queue.transaction() as db:
                _set(db, job.id, WAITING, status=FAILED, ended=time.time(), error=error)
            changed.append(queue.get(job.id))
        elif job.devices <= len(free):
            taken, free = free[: job.devices], free[job.devices :]
            if _launch(queue, job, taken, children, command):
                changed.append(queue.get(job.id))
    return changed


def _launch(
    queue: Queue,
    job: Job,
    taken: list[str],
    children: dict[int, subprocess.Popen],
    command: list[str],
) -> bool:
    """Start ``job`` on the slots ``taken``; False when it stopped waiting meanwhile."""
    env = {**os.environ, JOB_ENV: str(job.id), "PYTHONUNBUFFERED": "1"}
    if all(gpu_slot(slot) for slot in taken):
        env["CUDA_VISIBLE_DEVICES"] = ",".join(taken)
    rc_file = queue.rc_path(job.id)
    # Started inside the transaction: another process's `remove` finds the job either
    # still waiting, or running with its pid.
    with queue.transaction() as db:
        if queue.get(job.id, db).status != WAITING:
            return False
        rc_file.unlink(missing_ok=True)
        now = time.time()
        try:
            with open(queue.log_path(job.id), "wb") as log:
                child = subprocess.Popen(
                    ["sh", "-c", WRAPPER, "sh", str(rc_file), *command, *job.argv],
                    cwd=job.cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            error = f"cannot start in {job.cwd}: {first_line(exc)}"
            _set(db, job.id, WAITING, status=FAILED, started=now, ended=now, error=error)
        else:
            children[job.id] = child
            _set(db, job.id, WAITING, status=RUNNING, slots=",".join(taken), pid=child.pid,
                 host=socket.gethostname(), started=now)  # fmt: skip
    return True


def _run_dir(queue: Queue, job: Job, head_only: bool = False) -> str | None:
    """The run folder the job's log announces (the last one; of a running job, read
    every poll, in the first 64 KiB only)."""
    try:
        with open(queue.log_path(job.id), encoding="utf-8", errors="replace") as handle:
            lines = (handle.read(65536) if head_only else handle.read()).splitlines()
    except OSError:
        return None
    found = [line[len(RUN_FOLDER_PREFIX) :] for line in lines if line.startswith(RUN_FOLDER_PREFIX)]
    return str(Path(job.cwd) / found[-1].strip()) if found else None


def _error_line(log: Path, returncode: int) -> str:
    """A failed job's error from the end of its log: its last ``error:`` line, else the
    run's end line (``run failed after ...: why``), else its last line."""
    try:
        with open(log, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - 65536))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        text = ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(RUN_FOLDER_PREFIX)]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    ends = [line for line in lines if line.startswith("run failed")]
    return (errors or ends or lines or [f"exited with status {returncode}"])[-1]
