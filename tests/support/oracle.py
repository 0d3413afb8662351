"""Run an npm-SDK oracle script (tests/oracle/*.mjs): JSON request on stdin, JSON reply on stdout.

Skips with the reason when node or the npm packages are missing on a developer machine; fails
instead on CI (CI=true), where `make test` installs them and a skip would hide a broken install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ORACLE_DIR = Path(__file__).resolve().parents[1] / "oracle"


def require_oracle(package: str) -> None:
    """Skip (or fail on CI) unless node and ``package`` under tests/oracle/node_modules exist."""
    reason = None
    if shutil.which("node") is None:
        reason = "node is not installed"
    elif not (ORACLE_DIR / "node_modules" / package).is_dir():
        reason = "tests/oracle/node_modules missing (run: make oracle)"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"oracle required in CI: {reason}")
        pytest.skip(reason)


def run_oracle(script: str, package: str, request: Any, timeout: float = 300) -> Any:
    """Run ``tests/oracle/<script>`` once with ``request`` as JSON; return its parsed JSON reply."""
    require_oracle(package)
    proc = subprocess.run(
        ["node", str(ORACLE_DIR / script)],
        input=json.dumps(request).encode(),
        capture_output=True,
        cwd=ORACLE_DIR,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return json.loads(proc.stdout)
