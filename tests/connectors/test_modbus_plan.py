"""Read planning and unit-id demotion (pure)."""
import pytest

from connectors.modbus.codec import DataType
from connectors.modbus.plan import MAX_REGISTERS_PER_READ, ModbusPoint, Table, UnitHealth, plan_reads


def point(address, unit=1, table=Table.HOLDING, data_type=DataType.UINT16, code=None):
    return ModbusPoint(characteristic=code or f"C{unit}.{address}", address=address, unit_id=unit, table=table,
                       data_type=data_type)


def test_adjacent_points_are_read_in_one_request():
    blocks = plan_reads([point(0), point(1, data_type=DataType.FLOAT32), point(3)])
    assert [(b.address, b.count) for b in blocks] == [(0, 4)]


def test_a_large_gap_splits_the_block():
    blocks = plan_reads([point(0), point(100)], max_gap=8)
    assert [(b.address, b.count) for b in blocks] == [(0, 1), (100, 1)]


def test_units_and_tables_are_never_mixed_in_one_read():
    blocks = plan_reads([point(0, unit=1), point(1, unit=2), point(2, table=Table.INPUT)])
    assert {(b.unit_id, b.table) for b in blocks} == {(1, Table.HOLDING), (2, Table.HOLDING), (1, Table.INPUT)}


def test_blocks_respect_the_protocol_limit_of_125_registers():
    blocks = plan_reads([point(a) for a in range(300)])
    assert all(b.count <= MAX_REGISTERS_PER_READ for b in blocks)
    assert sum(len(b.points) for b in blocks) == 300


def test_config_refuses_unknown_settings():
    with pytest.raises(ValueError, match="unknown Modbus point setting"):
        ModbusPoint.from_config({"characteristic": "X", "address": 1, "adress": 2})


def test_config_refuses_a_float_on_a_coil():
    with pytest.raises(ValueError, match="coils/discrete inputs are bool"):
        ModbusPoint.from_config({"characteristic": "X", "address": 1, "table": "coil", "data_type": "float32"})


def test_config_accepts_lower_case_word_order():
    assert ModbusPoint.from_config({"characteristic": "X", "address": 1, "word_order": "cdab"}).word_order == "CDAB"


def polled_cycles(health, cycles):
    return [cycle for cycle in range(cycles) if health.due()]


def test_a_healthy_unit_is_polled_every_cycle():
    assert polled_cycles(UnitHealth(), 10) == list(range(10))


def test_a_dead_unit_is_polled_ever_less_often():
    health = UnitHealth(demote_after=2, max_skip=8)
    polled = []
    for cycle in range(40):
        if health.due():
            polled.append(cycle)
            health.record_failure()
    assert polled[:2] == [0, 1]
    gaps = [b - a for a, b in zip(polled, polled[1:], strict=False)]
    assert gaps[1:5] == [2, 4, 8, 8]


def test_an_answer_promotes_a_demoted_unit_back_to_every_cycle():
    health = UnitHealth(demote_after=1)
    health.record_failure()
    health.record_failure()
    assert health.demoted
    assert health.record_success() is True
    assert polled_cycles(health, 3) == [0, 1, 2]
