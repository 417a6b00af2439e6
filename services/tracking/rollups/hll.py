"""HyperLogLog visitor sketches (see migration 0004_rollups): 1024 registers of 16 one-hot bits.

PostgreSQL builds them (`tme_hll_pos`, `tme_hll_sketch`) and merges them with `bit_or`; this
module turns a merged sketch into a count: the highest rank per register, the HLL estimate, and
linear counting while many registers are still empty. Standard error 1.04/sqrt(1024) = 3.3%."""

from __future__ import annotations

import math
import sys
from array import array

REGISTERS = 1024
WIDTH = 16
SKETCH_BITS = REGISTERS * WIDTH
STANDARD_ERROR = 1.04 / math.sqrt(REGISTERS)
_ALPHA = 0.7213 / (1 + 1.079 / REGISTERS)


def _inverse_power(word: int) -> float:
    """2^-rank for a register's 16-bit word (rank k sets the bit 1 << (16 - k))."""
    if word == 0:
        return 1.0
    trailing = (word & -word).bit_length() - 1
    return 2.0 ** -(WIDTH - trailing)


_INVERSE = [_inverse_power(word) for word in range(1 << WIDTH)]


def estimate(sketch: bytes) -> int:
    """Distinct visitors behind a (merged) sketch."""
    if len(sketch) != SKETCH_BITS // 8:
        raise ValueError(f"a sketch has {SKETCH_BITS // 8} bytes, got {len(sketch)}")
    words = array("H", sketch)
    if sys.byteorder == "little":
        words.byteswap()
    empty = words.count(0)
    if empty == REGISTERS:
        return 0
    raw = _ALPHA * REGISTERS * REGISTERS / sum(map(_INVERSE.__getitem__, words))
    if raw <= 2.5 * REGISTERS and empty:
        return round(REGISTERS * math.log(REGISTERS / empty))
    return round(raw)
