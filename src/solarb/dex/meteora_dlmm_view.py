"""Meteora DLMM: what a quote and an instruction derive from a pair's state and bitmap extension
alone: PDAs, the combined bin-array bitmap and the arrays a swap walks, limit-order support, the
fee side, and :class:`PairView` (all of it cached per pair while the state and extension are the
same objects). The adapter is :mod:`solarb.dex.meteora_dlmm`."""

from __future__ import annotations

from functools import lru_cache

from solders.pubkey import Pubkey

from solarb.dex import meteora_dlmm_math as m
from solarb.dex.base import QuoteError
from solarb.dex.meteora_dlmm_layout import LbPair, decode_bitmap_extension

__all__ = [
    "COLLECT_FEE_MODE_ONLY_Y", "FUNCTION_TYPE_LIMIT_ORDER", "PROGRAM_ID", "SWAP_BIN_ARRAYS", "PairView",
    "bin_array_address", "bin_arrays_for_swap", "bitmap_extension_address", "combined_bits",
    "fee_args", "fee_on_input", "pair_view", "spared_arrays", "supports_limit_orders",
]

PROGRAM_ID = Pubkey.from_string("LBUZKhRxPF3XUpBCjp4YzTKgLccjZhTSDM9YuVaPwxo")
SWAP_BIN_ARRAYS = 3
FUNCTION_TYPE_LIMIT_ORDER = 2
COLLECT_FEE_MODE_ONLY_Y = 1


@lru_cache(maxsize=1 << 16)
def bin_array_address(pair: Pubkey, index: int) -> Pubkey:
    """``BinArray`` PDA: ``["bin_array", pair, index as i64 LE]``."""
    return Pubkey.find_program_address(
        [b"bin_array", bytes(pair), index.to_bytes(8, "little", signed=True)], PROGRAM_ID
    )[0]


@lru_cache(maxsize=1 << 16)
def bitmap_extension_address(pair: Pubkey) -> Pubkey:
    """``BinArrayBitmapExtension`` PDA: ``["bitmap", pair]``."""
    return Pubkey.find_program_address([b"bitmap", bytes(pair)], PROGRAM_ID)[0]


def combined_bits(state: LbPair, extension: bytes | None) -> tuple[int, bool]:
    if not extension:  # None (not loaded) or b"" (no such account): the internal bitmap only
        return m.combined_bitmap(state.bin_array_bitmap, None, None), False
    ext = decode_bitmap_extension(bitmap_extension_address(state.address), extension)
    return m.combined_bitmap(state.bin_array_bitmap, list(ext.positive), list(ext.negative)), True


def bin_arrays_for_swap(
    state: LbPair, swap_for_y: bool, count: int = SWAP_BIN_ARRAYS, extension: bytes | None = None
) -> list[int]:
    """Indexes of the next ``count`` bin arrays with liquidity a swap would cross, from the
    active bin's array in the swap direction (``get_bin_array_pubkeys_for_swap``)."""
    bits, has_ext = combined_bits(state, extension)
    out: list[int] = []
    start = m.bin_id_to_array_index(state.active_id)
    step = -1 if swap_for_y else 1
    while len(out) < count:
        idx = m.next_array_index(bits, start, swap_for_y, has_ext)
        if idx is None:
            break
        out.append(idx)
        start = idx + step
    return out


def fee_args(s: LbPair) -> tuple[int, ...]:
    return (
        s.bin_step, s.base_factor, s.base_fee_power_factor, s.variable_fee_control,
        s.max_volatility_accumulator, s.filter_period, s.decay_period, s.reduction_factor,
        s.protocol_share, s.volatility_accumulator, s.volatility_reference, s.index_reference,
        s.last_update_timestamp,
    )  # fmt: skip


class PairView:
    """What a quote derives from the pair state and the extension bytes alone (combined bitmap,
    limit-order support, fee-parameter fields, instruction bin arrays per walk), kept for the
    latest (state, extension) of each pair while both are the same objects."""

    __slots__ = ("arrays", "bits", "ext_key", "extension", "fee_args", "has_ext", "spared",
                 "state", "support_lo", "walk")

    def __init__(
        self, state: LbPair, extension: bytes | None, previous: PairView | None = None
    ) -> None:
        """``previous``: the pair's last view; when its extension is the same object and its
        state has the same internal bitmap, its bitmap, walk memo, addresses and spared arrays
        (functions of those and of the pair address alone) are shared, not made again."""
        self.state, self.extension = state, extension
        if (previous is not None and previous.extension is extension
                and previous.state.address == state.address
                and previous.state.bin_array_bitmap == state.bin_array_bitmap):  # fmt: skip
            self.bits, self.has_ext = previous.bits, previous.has_ext
            self.spared, self.walk, self.arrays = previous.spared, previous.walk, previous.arrays
        else:
            self.bits, self.has_ext = combined_bits(state, extension)
            self.spared: dict[tuple[bool, tuple[int, ...]], tuple[Pubkey, ...]] = {}
            self.walk: dict[tuple[int, bool], int | None] = {}  # (from array, swap_for_y) -> next
            self.arrays: dict[int, tuple[Pubkey, int, int]] = {}  # index -> address, bounds
        self.support_lo = supports_limit_orders(state)
        self.fee_args = fee_args(state)

    def next_array(self, start: int, swap_for_y: bool) -> int | None:
        """``next_array_index`` over this view's bitmap, remembered per argument pair."""
        key = (start, swap_for_y)
        nxt = self.walk.get(key, _UNKNOWN)
        if nxt is _UNKNOWN:  # not a KeyError: a miss is common for a new bitmap
            nxt = self.walk[key] = m.next_array_index(self.bits, start, swap_for_y, self.has_ext)
        return nxt  # type: ignore[return-value]

    def array(self, index: int) -> tuple[Pubkey, int, int]:
        """``(address, lower bin id, upper bin id)`` of bin array ``index``."""
        a = self.arrays.get(index)
        if a is None:
            lower, upper = m.bin_array_bounds(index)
            a = self.arrays[index] = (bin_array_address(self.state.address, index), lower, upper)
        return a

    def array_key(self, index: int) -> Pubkey:
        """The address of bin array ``index`` (:meth:`array`'s first item)."""
        return self.array(index)[0]


_VIEWS: dict[Pubkey, PairView] = {}
_UNKNOWN = object()  # PairView.walk has no entry (None is an entry: no next array)


def pair_view(state: LbPair, extension: bytes | None) -> PairView:
    v = _VIEWS.get(state.address)
    if v is None or v.state is not state or v.extension is not extension:
        v = _VIEWS[state.address] = PairView(state, extension, v)
    return v


def supports_limit_orders(s: LbPair) -> bool:
    """``is_support_limit_order``: function type LimitOrder, or Undetermined with no rewards."""
    if s.function_type == FUNCTION_TYPE_LIMIT_ORDER:
        return True
    if s.function_type == 0:  # both reward mints are the default (all-zero) pubkey
        rewards = s.reward_infos
        return rewards[0:32] == _ZERO_KEY and rewards[144:176] == _ZERO_KEY
    return False


_ZERO_KEY = bytes(32)  # Pubkey.default()


def fee_on_input(s: LbPair, swap_for_y: bool) -> bool:
    """``collect_fee_mode``: InputOnly (0) or OnlyY (1: fee in Y, so on the output selling X)."""
    if s.collect_fee_mode == COLLECT_FEE_MODE_ONLY_Y:
        return not swap_for_y
    if s.collect_fee_mode != 0:
        raise QuoteError(f"meteora_dlmm: collect_fee_mode {s.collect_fee_mode}", 6110)
    return True


def spared_arrays(view: PairView, walked: tuple[int, ...], a_to_b: bool) -> tuple[Pubkey, ...]:
    """Addresses of the bin arrays a swap that ``walked`` these arrays passes: those plus the
    next one with liquidity in the direction (a spare for a price that moved), in traversal
    order."""
    key = (a_to_b, walked)
    out = view.spared.get(key)
    if out is not None:
        return out
    idx = set(walked)
    last = min(idx) if a_to_b else max(idx)  # X->Y walks down the bin ids
    nxt = view.next_array(last + (-1 if a_to_b else 1), a_to_b)  # the walk's next, as a rule
    if nxt is not None:
        idx.add(nxt)
    address = view.array_key  # the view's addresses: the walked arrays' are there already
    out = view.spared[key] = tuple([address(i) for i in sorted(idx, reverse=a_to_b)])
    return out
