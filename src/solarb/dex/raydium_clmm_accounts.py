"""Raydium CLMM accounts a quote reads, decoded and navigated once per version: the tick arrays a
swap walks (:func:`swap_tick_arrays`, the navigation per pool state), the decoded and checked tick
arrays, amm configs and bitmap extensions. Caches hold the latest version per account (or per pool
and direction); the adapter (:mod:`solarb.dex.raydium_clmm`) and its kernel plans read them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from solders.pubkey import Pubkey

from solarb.dex.base import MissingAccount, QuoteError, loaded
from solarb.dex.raydium_clmm_bitmap import (
    array_start_index,
    first_tick_array_start,
    next_tick_array_start,
)
from solarb.dex.raydium_clmm_layout import (
    ERR_INVALID_TICK_ARRAY,
    MAX_TICK,
    MIN_TICK,
    NAME,
    AmmConfig,
    BitmapExtension,
    ClmmPool,
    TickArray,
    TickState,
    bitmap_extension_address,
    decode_amm_config,
    decode_extension,
    decode_tick_array,
    program_error,
    tick_array_address,
)
from solarb.dex.spl_token import TOKEN_2022_PROGRAM_ID

__all__ = [
    "MAX_SWAP_TICK_ARRAYS", "MissingTicks", "Nav", "cached_config", "checked_array",
    "decoded_extension", "mint_datas", "missing_array", "navigation", "pool_extension",
    "program_error", "swap_arrays", "swap_tick_arrays",
]

MAX_SWAP_TICK_ARRAYS = 5
"""Tick arrays per direction that ``aux_accounts`` lists and ``swap_instruction`` passes."""


def pool_extension(state: ClmmPool, aux: Mapping[Pubkey, bytes] | None) -> BitmapExtension | None:
    """The pool's decoded bitmap extension; None when ``aux`` lacks it or it does not exist."""
    if aux is None:
        return None
    key = bitmap_extension_address(state.address)
    data = aux.get(key)
    return decoded_extension(key, data) if data else None  # b"": the account does not exist


def mint_datas(state: ClmmPool, aux: Mapping[Pubkey, bytes],
               a_to_b: bool) -> tuple[bytes | None, bytes | None]:
    """The input and output mints' data (needed for a Token-2022 mint: else MissingAccount)."""
    mint_in, mint_out = (state.mint_a, state.mint_b) if a_to_b else (state.mint_b, state.mint_a)
    prog_in, prog_out = ((state.token_program_a, state.token_program_b) if a_to_b
                         else (state.token_program_b, state.token_program_a))  # fmt: skip
    data_in = (loaded(aux, mint_in, NAME, "mint") if prog_in == TOKEN_2022_PROGRAM_ID
               else aux.get(mint_in))  # fmt: skip
    data_out = (loaded(aux, mint_out, NAME, "mint") if prog_out == TOKEN_2022_PROGRAM_ID
                else aux.get(mint_out))  # fmt: skip
    return data_in, data_out


def swap_tick_arrays(state: ClmmPool, a_to_b: bool, ext: BitmapExtension | None = None,
                     count: int = MAX_SWAP_TICK_ARRAYS) -> list[int]:
    """Start indices of the first ``count`` tick arrays a swap in this direction walks, as the
    program finds them (the current array when its bit is set, then the next initialized ones).
    Stops early where the walk needs the (absent) extension or the direction is exhausted."""
    out: list[int] = []
    try:
        _contains, start = first_tick_array_start(state, ext, a_to_b)
        out.append(start)
        while len(out) < count:
            nxt = next_tick_array_start(state, ext, out[-1], a_to_b)
            if nxt is None:
                break
            out.append(nxt)
    except QuoteError:
        pass
    return out


class MissingTicks(dict[int, TickState]):
    """Ticks of a tick array whose account is not loaded: the quote needs it only if the swap
    reaches it, and then raises :class:`MissingAccount`."""

    def __init__(self, key: Pubkey) -> None:
        super().__init__()
        self._key = key

    def _missing(self) -> MissingAccount:
        return MissingAccount(f"{NAME}: tick array {self._key} not loaded")

    def get(self, k: int, default: TickState | None = None) -> TickState | None:  # type: ignore
        raise self._missing()

    def items(self):  # type: ignore[no-untyped-def,override]
        raise self._missing()

    def values(self):  # type: ignore[no-untyped-def,override]
        raise self._missing()

    def __getitem__(self, k: int) -> TickState:
        raise self._missing()

    def __setitem__(self, k: int, v: TickState) -> None:
        raise self._missing()


class Nav:
    """The tick arrays a swap in one direction walks (:func:`swap_tick_arrays`: starts and
    addresses), ``first_tick_array_start`` (None: it raised), ``Quote.arrays`` per walked count,
    and (for the kernel, computed once) whether the swap runs out of liquidity after the last
    array. Pure functions of the extension and of the state's spacing, bitmap and current tick
    array (``where``): reused while those are the same."""

    __slots__ = ("ext", "first", "keys", "prefixes", "starts", "state", "terminal", "where")

    def __init__(self, state: ClmmPool, ext: BitmapExtension | None, a_to_b: bool,
                 where: tuple[int, int, bool, int]) -> None:
        self.state, self.ext, self.where = state, ext, where
        self.starts = swap_tick_arrays(state, a_to_b, ext)
        self.keys = [tick_array_address(state.address, s) for s in self.starts]
        self.prefixes = tuple(tuple(self.keys[:n]) for n in range(len(self.keys) + 1))
        self.terminal: bool | None = None
        try:
            self.first: tuple[bool, int] | None = first_tick_array_start(state, ext, a_to_b)
        except QuoteError:
            self.first = None


_ARRAYS: dict[Pubkey, tuple[bytes, TickArray]] = {}  # latest checked version per tick array
_CONFIGS: dict[Pubkey, tuple[bytes, AmmConfig]] = {}  # latest version per amm config
_NAV: dict[tuple[Pubkey, bool], Nav] = {}
"""Per pool and direction: the navigation of the latest state and extension seen (see Nav)."""


def cached_config(key: Pubkey, data: bytes) -> AmmConfig:
    c = _CONFIGS.get(key)
    if c is not None and (c[0] is data or c[0] == data):
        return c[1]
    config = decode_amm_config(key, data)
    _CONFIGS[key] = (data, config)
    return config


def navigation(state: ClmmPool, ext: BitmapExtension | None, a_to_b: bool) -> Nav:
    key = (state.address, a_to_b)
    c = _NAV.get(key)
    if c is not None and c.state is state and c.ext is ext:
        return c
    tick, spacing = state.tick_current, state.tick_spacing
    where = (spacing, array_start_index(tick, spacing), MIN_TICK <= tick <= MAX_TICK,
             state.tick_array_bitmap)  # fmt: skip
    if c is not None and c.ext is ext and c.where == where:
        c.state = state
        return c
    c = _NAV[key] = Nav(state, ext, a_to_b, where)
    return c


def checked_array(key: Pubkey, pool: Pubkey, start: int, data: bytes,
                  keep: bool = True) -> TickArray:  # fmt: skip
    """The decoded tick array (shared: copy before writing), checked against its address once
    per account version; ``keep=False`` (the kernel plans, which keep only packed ticks) does
    not cache a new decode."""
    c = _ARRAYS.get(key)
    if c is not None and (c[0] is data or c[0] == data):
        return c[1]
    arr = decode_tick_array(key, data)
    if arr.start_tick_index != start or arr.pool_id != pool:
        raise program_error(ERR_INVALID_TICK_ARRAY, f"tick array {key} does not match its address")
    if keep:
        _ARRAYS[key] = (data, arr)
    return arr


def swap_arrays(pool: Pubkey, starts: Sequence[int], keys: Sequence[Pubkey],
                 aux: Mapping[Pubkey, bytes]) -> list[TickArray]:
    """The tick arrays passed to the swap (shared decoded versions: the swap copies before it
    writes), each loaded one checked against its address; a placeholder that raises
    :class:`MissingAccount` when reached for one not loaded."""
    out = []
    for start, key in zip(starts, keys):
        data = aux.get(key)
        out.append(missing_array(key, pool, start) if data is None
                   else checked_array(key, pool, start, data))  # fmt: skip
    return out


@lru_cache(maxsize=1024)
def decoded_extension(key: Pubkey, data: bytes) -> BitmapExtension:
    return decode_extension(key, data)


@lru_cache(maxsize=4096)
def missing_array(key: Pubkey, pool: Pubkey, start: int) -> TickArray:
    return TickArray(key, pool, start, MissingTicks(key), 0)
