"""Opening text data files: plain or gzipped, UTF-8, with errors that name the file."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from typing import IO

from workbench.errors import WorkbenchError


def open_text(path: str | Path) -> IO[str]:
    """Open ``path`` for reading as UTF-8 text, transparently un-gzipping ``.gz``."""
    path = Path(path)
    try:
        if path.suffix == ".gz":
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
        return open(path, encoding="utf-8", newline="")
    except FileNotFoundError:
        raise WorkbenchError(f"{path}: file not found") from None
    except OSError as exc:
        raise WorkbenchError(f"{path}: cannot read ({exc.strerror or exc})") from None
