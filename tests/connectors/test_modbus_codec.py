"""Modbus decoding: round trips for every type × byte/word order, the orders' definitions, scale and plausibility."""
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.modbus.codec import (
    DataType,
    DecodeError,
    SuspectDecoding,
    WordOrder,
    decode,
    encode,
    from_engineering,
    implausibility,
    register_count,
    to_engineering,
)

VALUES = {
    DataType.INT16: st.integers(-(2**15), 2**15 - 1),
    DataType.UINT16: st.integers(0, 2**16 - 1),
    DataType.INT32: st.integers(-(2**31), 2**31 - 1),
    DataType.UINT32: st.integers(0, 2**32 - 1),
    DataType.FLOAT32: st.floats(width=32, allow_nan=False),
    DataType.FLOAT64: st.floats(allow_nan=False),
    DataType.BOOL: st.booleans(),
}


@pytest.mark.parametrize("order", list(WordOrder))
@pytest.mark.parametrize("data_type", list(DataType))
@given(data=st.data())
def test_encode_then_decode_is_identity_for_every_type_and_order(data_type, order, data):
    value = data.draw(VALUES[data_type])
    registers = encode(value, data_type, order)
    assert len(registers) == register_count(data_type)
    assert all(0 <= r <= 0xFFFF for r in registers)
    decoded = decode(registers, data_type, order)
    if data_type is DataType.FLOAT32:   # the same float32 (given back as its shortest decimal)
        assert struct.pack(">f", decoded) == struct.pack(">f", value)
    else:
        assert decoded == value


@given(st.floats(width=32, allow_nan=True))
def test_nan_float32_survives_the_round_trip_as_nan_bits(value):
    registers = encode(value, DataType.FLOAT32, WordOrder.DCBA)
    decoded = decode(registers, DataType.FLOAT32, WordOrder.DCBA)
    assert struct.pack(">f", decoded) == struct.pack(">f", value) or (math.isnan(decoded) and math.isnan(value))


@pytest.mark.parametrize("order,registers", [
    (WordOrder.ABCD, [0x0102, 0x0304]),
    (WordOrder.CDAB, [0x0304, 0x0102]),
    (WordOrder.BADC, [0x0201, 0x0403]),
    (WordOrder.DCBA, [0x0403, 0x0201]),
])
def test_orders_place_the_bytes_as_their_names_say(order, registers):
    assert encode(0x01020304, DataType.UINT32, order) == registers


def test_float64_word_swap_reverses_all_four_registers():
    abcd = encode(1234.5678, DataType.FLOAT64, WordOrder.ABCD)
    assert encode(1234.5678, DataType.FLOAT64, WordOrder.CDAB) == abcd[::-1]


def test_16_bit_types_only_see_the_byte_swap():
    assert encode(0x1234, DataType.UINT16, WordOrder.CDAB) == [0x1234]
    assert encode(0x1234, DataType.UINT16, WordOrder.DCBA) == [0x3412]


def test_known_float32_from_a_device_manual():
    # 231.5 as IEEE-754 single is 0x43678000.
    assert decode([0x4367, 0x8000], DataType.FLOAT32, WordOrder.ABCD) == 231.5
    assert decode([0x8000, 0x4367], DataType.FLOAT32, WordOrder.CDAB) == 231.5


def test_wrong_register_count_is_a_decode_error():
    with pytest.raises(DecodeError, match="needs 2 registers"):
        decode([1], DataType.FLOAT32)


def test_register_out_of_16_bit_range_is_a_decode_error():
    with pytest.raises(DecodeError, match="16-bit"):
        decode([70000], DataType.UINT16)


@given(st.integers(-30000, 30000), st.sampled_from([0.1, 0.01, 2.0]), st.floats(-100, 100))
def test_scale_and_offset_invert(raw, scale, offset):
    value = to_engineering(raw, scale, offset)
    assert from_engineering(value, DataType.INT16, scale, offset) == raw


@pytest.mark.parametrize("value,reason", [
    (float("nan"), "not a finite number"),
    (float("inf"), "not a finite number"),
    (-5.0, "below the physical minimum 0"),
    (4.2e9, "above the physical maximum 500"),
])
def test_implausible_values_have_a_reason(value, reason):
    assert implausibility(value, 0.0, 500.0) == reason


def test_value_inside_the_physical_range_is_plausible():
    assert implausibility(231.5, 0.0, 500.0) is None


def test_word_swapped_float_is_implausible_for_a_barrel_temperature():
    swapped = decode(encode(231.5, DataType.FLOAT32, WordOrder.CDAB), DataType.FLOAT32, WordOrder.ABCD)
    assert implausibility(swapped, 0.0, 500.0) is not None


def test_a_word_swapped_round_number_decodes_to_a_denormal_and_is_implausible():
    swapped = decode(encode(230.0, DataType.FLOAT32, WordOrder.CDAB), DataType.FLOAT32, WordOrder.ABCD)
    assert 0 < swapped < 1e-30
    assert "below any instrument's resolution" in implausibility(swapped, 0.0, 400.0)


def test_zero_is_plausible():
    assert implausibility(0.0, 0.0, 400.0) is None


def test_a_tag_turns_suspect_after_repeated_implausible_values_and_recovers_after_a_clean_window():
    suspect = SuspectDecoding(window=5, threshold=2)
    assert suspect.record(True) is None            # one glitch does not taint the tag
    assert suspect.record(False) is None
    assert "2 of the last 3" in suspect.record(True)
    assert suspect.record(False) is not None       # a plausible-looking value of a suspect tag is not trusted
    for _ in range(4):
        suspect.record(False)
    assert suspect.record(False) is None


def test_float32_comes_back_as_the_decimal_the_plc_holds():
    assert decode(encode(199.2, DataType.FLOAT32, WordOrder.CDAB), DataType.FLOAT32, WordOrder.CDAB) == 199.2


def test_scaling_does_not_invent_decimals():
    assert to_engineering(2315, scale=0.1) == 231.5
    assert to_engineering(123, scale=0.01, offset=-0.5) == 0.73
