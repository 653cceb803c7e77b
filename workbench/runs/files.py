"""Writing files so that a reader never mistakes a half-written one for a whole one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp/mkdtemp make private files (0600/0700); what is published gets the
# permissions any other file the user writes gets, so others can read a model.
_UMASK = _umask()


def write_atomic(path: str | Path, write: Callable[[TextIO], None]) -> Path:
    """``write(handle)`` into a temporary file beside ``path`` (UTF-8, ``\n`` line
    ends), flushed to the disk, then renamed into place: a reader sees the old file
    or the whole new one, never a part. Returns ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | Path, text: str) -> None:
    """``write_atomic`` of a string."""

    def write(handle: TextIO) -> None:
        handle.write(text)

    write_atomic(path, write)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """``write_text_atomic`` for JSON."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def fsync_tree(folder: str | Path) -> None:
    """Flush every file under ``folder`` to the disk, and the folder itself, so a
    rename that publishes it never outlives its contents in a power cut."""
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(folder)


def fsync_dir(folder: str | Path) -> None:
    """Flush a folder's entries (a rename inside it) to the disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_dir_atomic(target: str | Path, fill: Callable[[Path], None]) -> None:
    """Build a folder with ``fill(tmp)`` beside ``target``, then swap it in.

    Readers see the old folder or the new one, never a half-written one: the
    new folder is complete before a rename puts it in place.
    """
    target = Path(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
