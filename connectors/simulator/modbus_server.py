"""A real Modbus TCP server (pymodbus) whose registers come from a `RegisterBank` the simulator or a test writes.

Each unit id on the "gateway" has its own coils, discrete inputs, holding and input registers. Scenarios:
- `bank.set_down(unit)` — the gateway answers that unit with exception 0x0B (target device failed to respond) after
  `gateway_timeout_s`, as a real RS-485 gateway does for a dead slave;
- `bank.word_order_swapped = True` — every 32/64-bit value written through `write_value` lands word-swapped
  (the classic misconfiguration the plausibility check must catch);
- stopping the server (`await server.shutdown()`) — connection refused / lost for every unit.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice
from pymodbus.simulator.simutils import SimUtils

from connectors.modbus.codec import DataType, WordOrder, encode, from_engineering
from connectors.modbus.plan import Table

_READ_TABLE = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}
_WRITE_TABLE = {5: Table.COIL, 15: Table.COIL, 6: Table.HOLDING, 16: Table.HOLDING}
_SWAPPED = {WordOrder.ABCD: WordOrder.CDAB, WordOrder.CDAB: WordOrder.ABCD,
            WordOrder.BADC: WordOrder.DCBA, WordOrder.DCBA: WordOrder.BADC}


@dataclass
class UnitMemory:
    size: int
    tables: dict[Table, list] = field(default_factory=dict)

    def __post_init__(self):
        bits = self.size * 16
        self.tables = {Table.COIL: [False] * bits, Table.DISCRETE: [False] * bits,
                       Table.HOLDING: [0] * self.size, Table.INPUT: [0] * self.size}


class RegisterBank:
    def __init__(self, unit_ids=(1,), size: int = 1024, gateway_timeout_s: float = 0.05):
        self.units = {unit: UnitMemory(size) for unit in unit_ids}
        self.down: set[int] = set()
        self.gateway_timeout_s = gateway_timeout_s
        self.word_order_swapped = False
        self.requests: dict[int, int] = dict.fromkeys(unit_ids, 0)   # per unit, for starvation tests

    def set_down(self, unit: int, down: bool = True) -> None:
        (self.down.add if down else self.down.discard)(unit)

    def write_raw(self, unit: int, table: Table | str, address: int, values: list) -> None:
        self.units[unit].tables[Table(table)][address:address + len(values)] = list(values)

    def write_value(self, unit: int, table: Table | str, address: int, value: float, data_type: DataType | str,
                    word_order: WordOrder | str = WordOrder.ABCD, scale: float = 1.0, offset: float = 0.0) -> None:
        """Store an engineering value the way a device configured with this type/order/scale would."""
        order = WordOrder(word_order)
        if self.word_order_swapped:
            order = _SWAPPED[order]
        raw = from_engineering(value, data_type, scale, offset)
        self.write_raw(unit, table, address, encode(raw, data_type, order))

    def device(self, unit: int) -> SimDevice:
        size = self.units[unit].size

        async def action(func_code, start_address, address, count, registers, set_values):
            self.requests[unit] = self.requests.get(unit, 0) + 1
            if unit in self.down:
                await asyncio.sleep(self.gateway_timeout_s)
                return ExcCodes.GATEWAY_NO_RESPONSE
            memory = self.units[unit].tables
            if set_values is not None and func_code in _WRITE_TABLE:
                memory[_WRITE_TABLE[func_code]][address:address + len(set_values)] = [
                    bool(v) if _WRITE_TABLE[func_code].is_bits else int(v) for v in set_values]
            table = _READ_TABLE.get(func_code) or _WRITE_TABLE[func_code]
            data = memory[table]
            registers[:] = SimUtils.bitsToRegisters(data) if table.is_bits else data
            return None

        bits_block = [SimData(0, count=size, values=0, datatype=SimType.REGISTERS)]
        return SimDevice(
            id=unit,
            simdata=([SimData(0, count=size * 16, values=False, datatype=SimType.BITS)],
                     [SimData(0, count=size * 16, values=False, datatype=SimType.BITS)],
                     list(bits_block), [SimData(0, count=size, values=0, datatype=SimType.REGISTERS)]),
            action=action,
        )


async def start_modbus_server(bank: RegisterBank, host: str = "127.0.0.1", port: int = 5020) -> ModbusTcpServer:
    """Start serving in the background on the running loop; stop with `await server.shutdown()`."""
    server = ModbusTcpServer([bank.device(unit) for unit in bank.units], address=(host, port))
    await server.serve_forever(background=True)
    return server


# --- the simulator face ------------------------------------------------------------------------------------------
# Register map of each machine (unit id = position in the line, from 1): every tag a float32 in holding registers,
# word order CDAB (the common PLC convention), at 2 × its index in TAG_PATHS; the shot counter a uint32 in input
# registers 100–101.
FACE_WORD_ORDER = WordOrder.CDAB
SHOT_COUNTER_ADDRESS = 100


def register_map(machines) -> dict[str, tuple[int, str, int]]:
    """Characteristic code → (unit id, table, address), for configuring a connector against the simulator."""
    from connectors.simulator.plant import TAG_PATHS

    return {
        f"{machine}.{suffix}": (unit, Table.HOLDING.value, 2 * index)
        for unit, machine in enumerate(machines, start=1) for index, suffix in enumerate(TAG_PATHS)
    }


def connector_tags(machines) -> list[dict]:
    """Tag mappings (source_ref, characteristic, params) of a Modbus connector reading the simulator."""
    return [
        {"source_ref": f"{unit}/{table}/{address}", "characteristic": code,
         "params": {"data_type": DataType.FLOAT32.value, "word_order": FACE_WORD_ORDER.value}}
        for code, (unit, table, address) in register_map(machines).items()
    ]


class ModbusFace:
    """Scenarios of its own: "word-order-swap" (32-bit values land word-swapped: the plausibility check must turn
    them into bad quality) and "device-down" (the second machine's unit id stops answering for `down_s` every
    `restart_every_s`, through the gateway's 0x0B exception)."""

    name = "modbus"

    def __init__(self, plant, options):
        self.plant, self.options = plant, options
        self.units = {machine: unit for unit, machine in enumerate(plant.machines, start=1)}
        self.addresses = {code: address for code, (_unit, _table, address) in register_map(plant.machines).items()}
        self.bank = RegisterBank(unit_ids=tuple(self.units.values()), size=128)
        self.bank.word_order_swapped = plant.scenario.name == "word-order-swap"
        self.server: ModbusTcpServer | None = None
        self._started = 0.0

    async def start(self) -> None:
        self.server = await start_modbus_server(self.bank, host=self.options.host, port=self.options.modbus_port)
        self._started = asyncio.get_running_loop().time()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    def _write(self, machine: str, suffix: str, value: float | None) -> None:
        address = self.addresses.get(f"{machine}.{suffix}")
        if address is None:
            return
        # A failed sensor reads as NaN on most PLCs: decoded, it is implausible, hence bad quality — never a number.
        self.bank.write_value(self.units[machine], Table.HOLDING, address, float("nan") if value is None else value,
                              DataType.FLOAT32, FACE_WORD_ORDER)

    def _device_down_tick(self) -> None:
        if self.plant.scenario.name != "device-down" or len(self.plant.machines) < 2:
            return
        scenario = self.plant.scenario
        elapsed = asyncio.get_running_loop().time() - self._started
        down = elapsed % scenario.restart_every_s > scenario.restart_every_s - scenario.down_s
        self.bank.set_down(self.units[self.plant.machines[1]], down)

    async def publish(self, samples, now) -> None:
        self._device_down_tick()
        for sample in samples:
            self._write(sample.machine, sample.suffix, sample.value if sample.good else None)

    async def publish_shot(self, shot) -> None:
        for suffix, value in shot.values.items():
            self._write(shot.machine, suffix, value)
        self.bank.write_value(self.units[shot.machine], Table.INPUT, SHOT_COUNTER_ADDRESS, shot.counter,
                              DataType.UINT32)

    async def publish_backfill(self, samples) -> None:
        """Registers have no history: a backfill burst has nothing to show on Modbus."""


def build_face(plant, options) -> ModbusFace:
    return ModbusFace(plant, options)
