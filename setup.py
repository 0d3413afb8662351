"""Build of solarb's optional C kernels (exact concentrated-liquidity swap math).

Metadata lives in pyproject.toml. Each kernel is its own extension, ``solarb.native._<name>``,
built from ``src/solarb/native/<name>.c``; all are optional: without a C compiler the install
succeeds and solarb runs the pure-Python path (see ``solarb.native``). ``make`` builds them in
place; ``SOLARB_NATIVE_ONLY=<name>`` builds one.
"""

import os

from setuptools import Extension, setup

NATIVE_DIR = "src/solarb/native"
KERNELS = ("whirlpool", "raydium_clmm", "meteora_dlmm")


def _extensions() -> list[Extension]:
    only = os.environ.get("SOLARB_NATIVE_ONLY")
    out = []
    for name in KERNELS:
        source = f"{NATIVE_DIR}/{name}.c"
        if (only and name != only) or not os.path.exists(source):
            continue
        out.append(
            Extension(
                f"solarb.native._{name}",
                sources=[source],
                depends=[f"{NATIVE_DIR}/u256.h"],
                extra_compile_args=["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-function"],
                optional=True,
            )
        )
    return out


setup(ext_modules=_extensions())
