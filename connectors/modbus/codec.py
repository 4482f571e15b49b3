"""Modbus register decoding: data types, the four byte/word orders, scale/offset and the plausibility check.

Pure functions, no I/O: the poller hands in the registers it read and gets engineering values back.

Byte/word orders name where the value's big-endian bytes A B C D (E F G H for 64-bit) end up on the wire:
  ABCD  big-endian words, big-endian bytes            (Modicon convention)     regs: AB CD
  CDAB  word-swapped ("little-endian word order")     (many PLCs, most meters) regs: CD AB
  BADC  byte-swapped inside each word                                          regs: BA DC
  DCBA  fully reversed (little-endian)                                         regs: DC BA
For 16-bit types only the byte swap matters (ABCD = CDAB, BADC = DCBA). For 64-bit types the word swap reverses
all four registers (GH EF CD AB), as the devices that use it do.
"""
from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from enum import StrEnum


class DataType(StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BOOL = "bool"          # coils and discrete inputs


class WordOrder(StrEnum):
    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"


_STRUCT = {
    DataType.INT16: ">h", DataType.UINT16: ">H", DataType.INT32: ">i", DataType.UINT32: ">I",
    DataType.FLOAT32: ">f", DataType.FLOAT64: ">d",
}
_WORD_SWAP = {WordOrder.ABCD: False, WordOrder.CDAB: True, WordOrder.BADC: False, WordOrder.DCBA: True}
_BYTE_SWAP = {WordOrder.ABCD: False, WordOrder.CDAB: False, WordOrder.BADC: True, WordOrder.DCBA: True}


class DecodeError(ValueError):
    """The registers cannot be a value of the configured type (wrong count, out-of-range register)."""


def register_count(data_type: DataType | str) -> int:
    """How many 16-bit registers (or bits, for BOOL) one value of this type occupies."""
    data_type = DataType(data_type)
    if data_type is DataType.BOOL:
        return 1
    return struct.calcsize(_STRUCT[data_type]) // 2


def _reorder(words: list[bytes], order: WordOrder) -> list[bytes]:
    if _BYTE_SWAP[order]:
        words = [word[::-1] for word in words]
    if _WORD_SWAP[order]:
        words = words[::-1]
    return words


def decode(registers: Sequence[int], data_type: DataType | str, order: WordOrder | str = WordOrder.ABCD) -> int | float:
    """Registers as read from the device → the raw (unscaled) number."""
    data_type, order = DataType(data_type), WordOrder(order)
    if data_type is DataType.BOOL:
        if len(registers) != 1:
            raise DecodeError(f"a bool is one bit, got {len(registers)} values")
        return int(bool(registers[0]))
    expected = register_count(data_type)
    if len(registers) != expected:
        raise DecodeError(f"{data_type} needs {expected} registers, got {len(registers)}")
    for register in registers:
        if not 0 <= int(register) <= 0xFFFF:
            raise DecodeError(f"register value {register} is not a 16-bit word")
    words = _reorder([int(r).to_bytes(2, "big") for r in registers], order)
    # _reorder is its own inverse for every order, so the same function maps wire order back to ABCD.
    packed = b"".join(words)
    value = struct.unpack(_STRUCT[data_type], packed)[0]
    if data_type is DataType.FLOAT32:
        return shortest_float32(value, packed)
    return value


def shortest_float32(value: float, packed: bytes) -> float:
    """The shortest decimal that is the same float32: a PLC's 199.2 arrives as 199.1999969482422 in a double, which
    a dictionary entry with one decimal and the "reject extra decimals" policy would refuse."""
    if math.isnan(value) or math.isinf(value):
        return value
    for digits in range(6, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack(">f", candidate) == packed:
            return candidate
    return value


def encode(value: int | float, data_type: DataType | str, order: WordOrder | str = WordOrder.ABCD) -> list[int]:
    """The raw number → the registers a device with this order would hold (simulator, write-back, tests)."""
    data_type, order = DataType(data_type), WordOrder(order)
    if data_type is DataType.BOOL:
        return [int(bool(value))]
    packed = struct.pack(_STRUCT[data_type], value)
    words = _reorder([packed[i:i + 2] for i in range(0, len(packed), 2)], order)
    return [int.from_bytes(word, "big") for word in words]


def to_engineering(raw: int | float, scale: float = 1.0, offset: float = 0.0) -> float:
    """Engineering value = raw × scale + offset (e.g. a register in 0.1 °C: scale 0.1). Rounded to 12 significant
    digits so binary noise (2315 × 0.1 = 231.50000000000003) does not pose as extra decimals."""
    value = float(raw) * scale + offset
    if scale == 1.0 and offset == 0.0 or math.isnan(value) or math.isinf(value):
        return value
    return float(f"{value:.12g}")


def from_engineering(value: float, data_type: DataType | str, scale: float = 1.0, offset: float = 0.0) -> int | float:
    """Inverse of `to_engineering`, rounded for integer types (simulator and write-back)."""
    raw = (value - offset) / scale
    if DataType(data_type) in (DataType.FLOAT32, DataType.FLOAT64):
        return raw
    return round(raw)


# No instrument resolves this; a word-swapped float whose low word is small decodes to about 1e-40 … 1e-15.
MIN_PHYSICAL_MAGNITUDE = 1e-12


def implausibility(value: float, physical_min: float | None, physical_max: float | None) -> str | None:
    """Why a decoded value cannot be physically true, or None when it can. A wrong word order typically yields
    NaN, ±inf, 1e-38 or 4e9: all caught here so they surface as bad quality instead of as numbers. (A few swapped
    values do land inside the range by chance: `SuspectDecoding` catches the tag as a whole.)"""
    if math.isnan(value) or math.isinf(value):
        return "not a finite number"
    if value != 0 and abs(value) < MIN_PHYSICAL_MAGNITUDE:
        return f"magnitude {value:.3g} is below any instrument's resolution (wrong word order?)"
    if physical_min is not None and value < physical_min:
        return f"below the physical minimum {physical_min:g}"
    if physical_max is not None and value > physical_max:
        return f"above the physical maximum {physical_max:g}"
    return None


class SuspectDecoding:
    """Per-tag memory of implausible decodes. A misconfigured word order or scale makes most values implausible but
    lets some fall inside the physical range by chance; once `threshold` of the last `window` values of a tag were
    implausible, its plausible-looking values are not trusted either (bad quality) until a full window is clean.
    A single glitch (one implausible value) does not taint the tag."""

    def __init__(self, window: int = 10, threshold: int = 3):
        from collections import deque

        self.window, self.threshold = window, threshold
        self.recent: deque[bool] = deque(maxlen=window)

    def record(self, implausible: bool) -> str | None:
        """Record one decode; returns why the tag is suspect, or None."""
        self.recent.append(implausible)
        bad = sum(self.recent)
        if bad >= self.threshold:
            return f"suspect decoding: {bad} of the last {len(self.recent)} values implausible (check word order/scale)"
        return None
