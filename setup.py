"""Build of solarb's optional C kernels (exact concentrated-liquidity swap math).

Metadata lives in pyproject.toml. Each ``src/solarb/native/<name>.c`` is its own extension,
``solarb.native._<name>`` (``solarb.native.KERNELS`` names those the engine loads). All are
optional: without a C compiler the install succeeds and solarb runs the pure-Python path (see
``solarb.native``). ``make`` builds them in place; ``SOLARB_NATIVE_ONLY=<name>`` builds one.
"""

import os
from pathlib import Path

from setuptools import Extension, setup

NATIVE_DIR = "src/solarb/native"


def _extensions() -> list[Extension]:
    only = os.environ.get("SOLARB_NATIVE_ONLY")
    out = []
    for path in sorted(Path(NATIVE_DIR).glob("*.c")):
        name, source = path.stem, path.as_posix()
        if only and name != only:
            continue
        out.append(
            Extension(
                f"solarb.native._{name}",
                sources=[source],
                depends=[
                    f"{NATIVE_DIR}/{h}"
                    for h in ("u256.h", "pyint.h", "quote_obj.h", "gc_fields.h", "plan_head.h")
                ],
                extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-function"],
                optional=True,
            )
        )
    return out


setup(ext_modules=_extensions())
