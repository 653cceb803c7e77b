"""Whether the model and dataset hub may, and can, be reached: answered in seconds,
where the hub clients retry for most of a minute. Used by model loading and by the
hub dataset reader alike."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse


def offline_mode() -> bool:
    """Has the user told the hub client to stay offline (and use its cache)?"""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")


def hub_reachable(timeout: float = 3.0) -> bool:
    """Can the model hub be reached at all? Answers in seconds when offline,
    where the hub client would retry for most of a minute."""
    if offline_mode():
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False
