"""Modbus point configuration, read planning (contiguous blocks per unit and table) and unit-id health.

Pure: no I/O. `plan_reads` groups points so 200 registers cost a handful of requests, not 200; `UnitHealth`
demotes a unit id that stops answering so one dead device behind a gateway does not starve the others.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .codec import DataType, WordOrder, register_count


class Table(StrEnum):
    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)


# Modbus limits per request (spec: 125 registers, 2000 bits).
MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    characteristic: str
    address: int
    unit_id: int = 1
    table: Table = Table.HOLDING
    data_type: DataType = DataType.UINT16
    word_order: WordOrder = WordOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0
    physical_min: float | None = None
    physical_max: float | None = None
    equipment: str | None = None

    def __post_init__(self):   # accept plain strings for the enums (JSON config, simulator register maps)
        object.__setattr__(self, "table", Table(self.table))
        object.__setattr__(self, "data_type", DataType(self.data_type))
        object.__setattr__(self, "word_order", WordOrder(str(self.word_order).upper()))

    @classmethod
    def from_config(cls, data: dict) -> ModbusPoint:
        """From a connector's JSON config entry; unknown keys are refused so typos do not pass silently."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Modbus point setting(s): {', '.join(sorted(unknown))}")
        values = dict(data)
        values["table"] = Table(values.get("table", Table.HOLDING))
        default_type = DataType.BOOL if values["table"].is_bits else DataType.UINT16
        values["data_type"] = DataType(values.get("data_type", default_type))
        values["word_order"] = WordOrder(str(values.get("word_order", WordOrder.ABCD)).upper())
        if values["table"].is_bits != (values["data_type"] is DataType.BOOL):
            raise ValueError(f"{values['characteristic']}: coils/discrete inputs are bool, registers are not")
        return cls(**values)

    @property
    def width(self) -> int:
        return register_count(self.data_type)

    @property
    def source_ref(self) -> str:
        return f"unit{self.unit_id}/{self.table}/{self.address}/{self.data_type}/{self.word_order}"


@dataclass(frozen=True, slots=True)
class ReadBlock:
    unit_id: int
    table: Table
    address: int
    count: int
    points: tuple[ModbusPoint, ...]


def plan_reads(points: list[ModbusPoint], max_gap: int = 8) -> list[ReadBlock]:
    """Merge points of the same unit and table into as few contiguous reads as the protocol allows. Gaps of up to
    `max_gap` unused registers are read along (cheaper than another round trip); larger gaps split the block."""
    blocks: list[ReadBlock] = []
    groups: dict[tuple[int, Table], list[ModbusPoint]] = {}
    for point in points:
        groups.setdefault((point.unit_id, point.table), []).append(point)
    for (unit_id, table), members in sorted(groups.items()):
        limit = MAX_BITS_PER_READ if table.is_bits else MAX_REGISTERS_PER_READ
        members.sort(key=lambda p: p.address)
        start, end, current = members[0].address, members[0].address + members[0].width, [members[0]]
        for point in members[1:]:
            new_end = max(end, point.address + point.width)
            if point.address - end <= max_gap and new_end - start <= limit:
                end, current = new_end, [*current, point]
                continue
            blocks.append(ReadBlock(unit_id, table, start, end - start, tuple(current)))
            start, end, current = point.address, point.address + point.width, [point]
        blocks.append(ReadBlock(unit_id, table, start, end - start, tuple(current)))
    return blocks


@dataclass
class UnitHealth:
    """Auto-demotion of one unit id. After `demote_after` failed polls in a row the unit is polled only every
    2, 4, 8 ... cycles (capped at `max_skip`); the first answer promotes it back to every cycle."""

    demote_after: int = 2
    max_skip: int = 32
    consecutive_failures: int = 0
    skip: int = 1
    _countdown: int = field(default=0, repr=False)

    @property
    def demoted(self) -> bool:
        return self.skip > 1

    def due(self) -> bool:
        """Call once per poll cycle: is this unit to be polled in this cycle?"""
        if self._countdown > 0:
            self._countdown -= 1
            return False
        return True

    def record_success(self) -> bool:
        """Returns True when this success promoted a demoted unit."""
        was_demoted = self.demoted
        self.consecutive_failures, self.skip, self._countdown = 0, 1, 0
        return was_demoted

    def record_failure(self) -> bool:
        """Returns True when this failure demoted (or further demoted) the unit."""
        self.consecutive_failures += 1
        if self.consecutive_failures < self.demote_after:
            return False
        self.skip = min(self.max_skip, self.skip * 2)
        self._countdown = self.skip - 1
        return True
