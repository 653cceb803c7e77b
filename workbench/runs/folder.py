"""The run folder: the contract between a training process and its readers.

Layout::

    runs/20261122-143005-demo-ner/
        recipe.toml      the resolved recipe (overrides applied, paths absolute)
        events.jsonl     one JSON object a line: start, step, eval, checkpoint, end
        report.json      final reports, for machines
        report.txt       the same, for people
        model/           save_pretrained + tokenizer + workbench.json
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

EVENTS = "events.jsonl"
RECIPE = "recipe.toml"
REPORT_JSON = "report.json"
REPORT_TEXT = "report.txt"
MODEL = "model"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"


def create_run_dir(output_dir: str | Path, name: str) -> Path:
    """Make a new run folder named ``YYYYMMDD-HHMMSS-name`` so runs sort by time."""
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{_slug(name)}"
    for attempt in range(1000):
        path = output_dir / (base if attempt == 0 else f"{base}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"cannot create a run folder under {output_dir}")


class EventLog:
    """Appends events to ``events.jsonl``, a whole line at a time, flushed."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / EVENTS
        self._handle = open(self.path, "a", encoding="utf-8")

    def __call__(self, event: dict[str, Any]) -> None:
        self._handle.write(json.dumps(finite(event), ensure_ascii=False, default=str) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def finite(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


class EventFollower:
    """Reads the events appended to ``events.jsonl`` since the last ``poll``.

    A line that is still being written (no newline yet) is kept for the next
    poll; a line that is not JSON is skipped, never fatal.
    """

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / EVENTS
        self.offset = 0
        self._partial = b""

    def poll(self) -> list[dict[str, Any]]:
        """The complete events written since the previous call (maybe none)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                if size < self.offset:  # the file was replaced: start again
                    self.offset, self._partial = 0, b""
                handle.seek(self.offset)
                data = handle.read()
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return []
        self.offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(event, dict):
                events.append(event)
        return events



def read_events(run_dir: str | Path) -> list[dict[str, Any]]:
    """All complete events of a run; a last line still being written is skipped."""
    return EventFollower(run_dir).poll()


def now() -> float:
    """Seconds since the epoch, as events carry them."""
    return time.time()
