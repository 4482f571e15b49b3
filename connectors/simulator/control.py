"""Client side of the simulator's excursion control (Objects/Simulator/SetOffset over OPC UA). No Django import.

    async with SimulatorControl("opc.tcp://127.0.0.1:4840/qualitypulse/") as control:
        source_ts = await control.set_offset("IMM02", "BARREL_Z2.TEMP", 4.0)   # the offending value's timestamp
        ...
        await control.set_offset("IMM02", "BARREL_Z2.TEMP", 0.0)              # back to normal
"""
from __future__ import annotations

from datetime import UTC, datetime

from asyncua import Client, ua

from connectors.simulator.opcua_server import NAMESPACE


class SimulatorControl:
    def __init__(self, endpoint: str, *, timeout_s: float = 10.0):
        self.client = Client(endpoint, timeout=timeout_s)
        self._control = None
        self._method = None

    async def __aenter__(self) -> SimulatorControl:
        await self.client.connect()
        ns = await self.client.get_namespace_index(NAMESPACE)
        self._control = self.client.get_node(ua.NodeId("Simulator", ns))
        self._method = ua.NodeId("Simulator/SetOffset", ns)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.client.disconnect()

    async def set_offset(self, machine: str, tag: str, offset: float) -> datetime:
        """Shift `machine`'s `tag` (dictionary suffix) by `offset` (0: normal again); returns the source timestamp
        of the first value published with it. Raises asyncua's BadInvalidArgument for an unknown machine/tag."""
        source_ts = await self._control.call_method(
            self._method, ua.Variant(machine, ua.VariantType.String), ua.Variant(tag, ua.VariantType.String),
            ua.Variant(float(offset), ua.VariantType.Double),
        )
        return source_ts if source_ts.tzinfo else source_ts.replace(tzinfo=UTC)
