"""The kill switch: a file in the data directory that a running engine watches.

``solarb stop`` writes it; the engine checks it every ``POLL_S`` seconds (a cheap stat, no busy
loop), stops sending at once and exits cleanly. A stale file is cleared when an engine starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from solarb.errors import UsageError

STOP_FILE = "STOP"
POLL_S = 0.2


def stop_path(data_dir: Path) -> Path:
    """Where the kill-switch file lives."""
    return data_dir / STOP_FILE


def request_stop(data_dir: Path, reason: str = "manual stop") -> Path:
    """Write the kill-switch file; :class:`UsageError` if the data directory is not writable."""
    path = stop_path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(reason.strip() or "manual stop", encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write kill-switch file {path}: {e.strerror}") from None
    return path


def clear_stop(data_dir: Path) -> None:
    """Remove a stale kill-switch file before an engine starts."""
    stop_path(data_dir).unlink(missing_ok=True)


async def watch_stop(data_dir: Path, on_stop: Callable[[str], None]) -> None:
    """Poll for the kill-switch file; call ``on_stop(reason)`` once and return when it appears."""
    path = stop_path(data_dir)
    while True:
        if path.exists():
            try:
                reason = path.read_text(encoding="utf-8").strip() or "manual stop"
            except OSError:
                reason = "manual stop"
            on_stop(reason)
            return
        await asyncio.sleep(POLL_S)
