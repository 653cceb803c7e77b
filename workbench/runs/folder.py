"""The run folder: the contract between a training process and its readers.

Layout::

    runs/20261122-143005-demo-ner/
        recipe.toml      the resolved recipe (overrides applied, paths absolute)
        events.jsonl     one JSON object a line (see ``workbench.runs.events``)
        report.json      final reports, for machines
        report.txt       the same, for people
        model/           the best model: save_pretrained + tokenizer + workbench.json
        checkpoints/     resumable training states, the last K kept:
            step-300/    Accelerate's save_state (model, optimizer, scheduler, RNG
                         states, grad scaler) + trainer_state.json (the loop's own)
        run.lock         held by the process that writes the run
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import TextIO

from workbench.errors import WorkbenchError
from workbench.runs.events import Event, now, parse_event

EVENTS = "events.jsonl"
RECIPE = "recipe.toml"
REPORT_JSON = "report.json"
REPORT_TEXT = "report.txt"
MODEL = "model"
CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.json"  # the last file written into a checkpoint
LOCK = "run.lock"
# Written where a sweep removed a run's model and checkpoints (`[sweep] keep`): its
# one line says why, for whoever asks for the model.
MODEL_REMOVED = "model-removed.txt"
# The console line a run announces its folder with; launchers read the path back from it.
RUN_FOLDER_PREFIX = "run folder: "


def slug(name: str) -> str:
    """A name as it may stand in a folder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"


def create_run_dir(output_dir: str | Path, name: str) -> Path:
    """Make a new run folder named ``YYYYMMDD-HHMMSS-name`` so runs sort by time.
    A folder that cannot be made (read-only, a file in the way, a full disk) is
    a user error naming ``output.dir``."""
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = f"{stamp}-{slug(name)}"
        for attempt in range(1000):
            path = output_dir / (base if attempt == 0 else f"{base}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            probe = path / ".write-test"
            probe.write_bytes(b"")  # mkdir can succeed where files cannot be written
            probe.unlink()
            return path
    except OSError as exc:
        raise WorkbenchError(
            f"output.dir {output_dir}: cannot create a run folder there ({exc.strerror or exc})"
        ) from None
    raise WorkbenchError(
        f"output.dir {output_dir}: cannot create a run folder there "
        f"(1000 folders named {base} already)"
    )


class EventLog:
    """Appends events to ``events.jsonl``, a whole line at a time, flushed."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / EVENTS
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - the run's life
        # A process killed mid-write leaves a line without its newline: end it, so
        # the next event starts a line of its own (readers skip the broken one).
        if self._handle.tell() > 0:
            with open(self.path, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    self._handle.write("\n")

    def __call__(self, event: Event) -> None:
        if event.time is None:
            event.time = now()
        self._handle.write(json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


class LineSplitter:
    """Whole lines out of the chunks read from a growing file (bytes or text): a
    last line without its newline waits for the next chunk, or for ``rest()`` once
    the writer has gone. The event log and a launched run's console are both read
    this way."""

    def __init__(self, empty: bytes | str = b""):
        self.partial = empty

    def feed(self, data):
        """The lines completed by ``data``, without their newlines."""
        lines = (self.partial + data).split(b"\n" if isinstance(data, bytes) else "\n")
        self.partial = lines.pop()
        return lines

    def rest(self):
        """The unfinished last line, given up (the writer has exited)."""
        rest, self.partial = self.partial, self.partial[:0]
        return rest


class EventFollower:
    """Reads the events appended to ``events.jsonl`` since the last ``poll``.

    A line that is still being written (no newline yet) is kept for the next
    poll; a line that is not an event is skipped, never fatal.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / EVENTS
        self.offset = 0
        self._lines = LineSplitter(b"")
        self.skipped = 0  # lines that were not events (a torn write, a stray edit)

    @property
    def pending(self) -> bool:
        """Does the file end in a line without its newline? Mid-write while a run
        writes; torn, once its writer is gone."""
        return bool(self._lines.partial.strip())

    def poll(self) -> list[Event]:
        """The complete events written since the previous call (maybe none)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                if size < self.offset:  # the file was replaced: start again
                    self.offset, self._lines, self.skipped = 0, LineSplitter(b""), 0
                handle.seek(self.offset)
                data = handle.read()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return []
        self.offset += len(data)
        events = []
        for line in self._lines.feed(data):
            if not line.strip():
                continue
            try:
                event = parse_event(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
                self.skipped += 1
                continue
            if event is not None:
                events.append(event)
        return events


def read_events(run_dir: str | Path) -> list[Event]:
    """All complete events of a run; a last line still being written is skipped."""
    return EventFollower(run_dir).poll()


# -- checkpoints ------------------------------------------------------------------------
def checkpoint_name(step: int) -> str:
    return f"step-{step}"


def checkpoints(run_dir: str | Path) -> list[Path]:
    """The complete checkpoints of a run, oldest first. A checkpoint is complete
    when its folder has its final name and its trainer state (the last file
    written before the rename): a half-written one is never listed."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = re.fullmatch(r"step-(\d+)", path.name)
        if match and (path / TRAINER_STATE).is_file():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def tidy_run_folder(run_dir: str | Path) -> None:
    """Clear what a killed writer left half done: temporary checkpoint and model
    folders, and a model folder caught between its two renames (put back)."""
    run_dir = Path(run_dir)
    for tmp in [*(run_dir / CHECKPOINTS).glob(".step-*.tmp"), *run_dir.glob(f".{MODEL}.*.tmp")]:
        shutil.rmtree(tmp, ignore_errors=True)
    old = run_dir / f".{MODEL}.old"
    if old.is_dir():
        if (run_dir / MODEL).exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, run_dir / MODEL)


# -- the writer's lock --------------------------------------------------------------------
class RunLock:
    """An exclusive lock on ``run.lock`` held while a process writes the run.

    The operating system drops it when the process dies, however it dies, so a
    resume can tell a dead writer from a live one even on another host sharing
    the folder. Where ``fcntl`` is missing (Windows) the lock is advisory only.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / LOCK
        self._handle: TextIO | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another process holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not on Linux or macOS
            return True
        handle = open(self.path, "a+")  # noqa: SIM115 - held as long as the lock
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def held_elsewhere(self) -> bool:
        """Is another process writing this run right now?"""
        if not self.path.exists():
            return False
        if self.acquire():
            self.release()
            return False
        return True
