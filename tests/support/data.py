"""Where the shared real data lives: ``shared/data`` beside the repository (as on CI), or
``$SOLARB_SHARED_DATA``."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


def _find() -> Path:
    env = os.environ.get("SOLARB_SHARED_DATA")
    if env:
        return Path(env)
    for candidate in (_REPO.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(
        "shared/data not found beside the repository; set SOLARB_SHARED_DATA to its path"
    )


SHARED_DATA = _find()
