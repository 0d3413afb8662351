"""u256.h (the C kernels' exact 256-bit integers) against Python's integers.

The test compiles a small driver with the machine's C compiler (the one that builds the
kernels) and feeds it random and edge operands; every result must equal Python's."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

import solarb.native

HERE = Path(__file__).parent
HEADER_DIR = Path(solarb.native.__file__).parent
M256 = (1 << 256) - 1


def _edges(bits: int) -> list[int]:
    out = [0, 1, 2, 3]
    for b in range(1, bits + 1):
        out += [(1 << b) - 1, 1 << (b - 1)]
    return [x for x in out if x < 1 << bits]


def _rand(rng: random.Random, bits: int) -> int:
    """Operands of every length, many with long runs of ones/zeros (carry and qhat edges)."""
    n = rng.randint(1, bits)
    kind = rng.random()
    if kind < 0.2:
        return max(0, (1 << n) - 1 - rng.getrandbits(rng.randint(0, 8)))
    if kind < 0.3:
        return (1 << (n - 1)) + rng.getrandbits(rng.randint(0, 8))
    return rng.getrandbits(n)


def _cases(rng: random.Random) -> list[tuple[str, int, int]]:
    cases: list[tuple[str, int, int]] = []
    e128, e256 = _edges(128), _edges(256)
    for a in e128[::7]:
        for b in e128[::11]:
            cases.append(("mul128", a, b))
    for _ in range(3000):
        a, b = _rand(rng, 128), _rand(rng, 128)
        cases.append(("mul128", a, b))
        x, y = _rand(rng, 256), _rand(rng, 256)
        cases.append(("mul", x, y))
        cases.append(("mul", _rand(rng, 130), _rand(rng, 126)))
        cases.append(("add", x, y))
        cases.append(("sub", max(x, y), min(x, y)))
        cases.append(("shl", x, rng.randrange(256)))
        cases.append(("shr", x, rng.randrange(256)))
        cases.append(("cmp", x, y))
        d = _rand(rng, rng.choice((64, 128, 192, 256))) or 1
        cases.append(("divmod", x, d))
        cases.append(("divceil", x, d))
        # quotients near a limb boundary and divisors with a top limb of all ones: algorithm D's
        # rare "add back" branch
        q = _rand(rng, 128)
        d2 = (M256 >> rng.randrange(0, 190)) - rng.getrandbits(4)
        if d2 > 0 and q * d2 + d2 <= M256:
            cases.append(("divmod", q * d2 + rng.randrange(d2), d2))
    # algorithm D's "add back" step (qhat still one too large after the two-limb check): the
    # classic vector scaled to 64-bit limbs (checked to take that branch), and shifted variants
    n, d = (1 << 191) + (((1 << 63) - 1) << 192), 1 + (1 << 191)
    for shift in range(0, 64, 7):
        cases.append(("divmod", n >> shift, d >> shift))
        cases.append(("divceil", n >> shift, d >> shift))
    for a in e256[::5]:
        for d in e256[1::13]:
            cases.append(("divmod", a, d))
            cases.append(("cmp", a, d))
    return cases


def _expected(op: str, a: int, b: int) -> str:
    def h(x: int) -> str:
        return f"{x & M256:064x}"

    if op == "mul128":
        return h(a * b)
    if op == "mul":
        return f"{h(a * b)} {int(a * b > M256)}"
    if op == "divmod":
        return f"{h(a // b)} {h(a % b)}"
    if op == "divceil":
        return h(-(-a // b))
    if op == "add":
        return f"{h(a + b)} {int(a + b > M256)}"
    if op == "sub":
        return h(a - b)
    if op == "shl":
        return h(a << b)
    if op == "shr":
        return h(a >> b)
    cmp = (a > b) - (a < b)
    return f"{cmp} {a.bit_length()}"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler on this machine (the kernels are not built either)")
    exe = tmp_path_factory.mktemp("u256") / "u256_check"
    subprocess.run(
        [cc, "-O2", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-I", str(HEADER_DIR),
         str(HERE / "u256_check.c"), "-o", str(exe)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    return exe


def test_u256_matches_python_integers(driver: Path) -> None:
    cases = _cases(random.Random(256))
    text = "".join(f"{op} {a:x} {b:x}\n" for op, a, b in cases)
    done = subprocess.run([str(driver)], check=False, input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    got = done.stdout.splitlines()
    assert len(got) == len(cases)
    bad = [(c, g, _expected(*c)) for c, g in zip(cases, got) if g != _expected(*c)]
    assert not bad, f"{len(bad)} of {len(cases)} differ, first: {bad[0]}"


def test_driver_detects_a_wrong_result(driver: Path) -> None:
    """The comparison can fail: a deliberately wrong expectation is caught."""
    done = subprocess.run([str(driver)], check=False, input="mul128 3 5\n", capture_output=True, text=True,
                          timeout=10)  # fmt: skip
    assert done.stdout.strip() == _expected("mul128", 3, 5)
    assert done.stdout.strip() != _expected("mul128", 3, 6)
