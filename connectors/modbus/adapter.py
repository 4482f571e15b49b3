"""The Modbus TCP adapter hosted by the connector runner: builds the poller from the connector spec and reports
health (connected / degraded when a unit is demoted / down when the gateway is unreachable)."""
from __future__ import annotations

import asyncio

from connectors.adapters import Adapter
from connectors.envelope import Envelope
from connectors.gateway import MqttGateway, plant_hierarchy_or_empty
from connectors.spec import ConnectorSpec

from .config import parse_source_ref, validate_config, validate_tag
from .plan import ModbusPoint
from .poller import NO_COMMUNICATION, ModbusPoller


def points_from_spec(spec: ConnectorSpec) -> list[ModbusPoint]:
    points = []
    for tag in spec.tags:
        unit_id, table, address = parse_source_ref(tag.source_ref)
        params = validate_tag(tag.source_ref, tag.params)
        points.append(ModbusPoint(
            characteristic=tag.characteristic, address=address, unit_id=unit_id, table=table,
            data_type=params["data_type"], word_order=params["word_order"], scale=params["scale"],
            offset=params["offset"], physical_min=tag.physical_min, physical_max=tag.physical_max,
            equipment=tag.equipment,
        ))
    return points


class _CountingSink:
    def __init__(self, adapter: ModbusAdapter):
        self.adapter = adapter

    async def put(self, envelopes: list[Envelope]) -> None:
        await self.adapter.emit(envelopes)
        self.adapter.report(envelopes)


class ModbusAdapter(Adapter):
    kind = "modbus"

    def __init__(self, spec, sink, health=None):
        super().__init__(spec, sink, health)
        config = self.config = validate_config(spec.config)
        self.poller = ModbusPoller(
            connector=spec.key, host=config["host"], port=config["port"], points=points_from_spec(spec),
            sink=_CountingSink(self), interval_s=config["interval_s"], timeout_s=config["timeout_s"],
            max_gap=config["max_gap"], demote_after=config["demote_after"], max_skip=config["max_skip"],
        )

    def report(self, envelopes: list[Envelope]) -> None:
        unanswered = sum(1 for e in envelopes if e.extra.get("reason") == NO_COMMUNICATION)
        demoted = sorted(unit for unit, health in self.poller.health.items() if health.demoted)
        if envelopes and unanswered == len(envelopes) and not demoted:
            self.health.down(f"{self.poller.host}:{self.poller.port}: no communication")
        elif demoted:
            self.health.degraded(f"unit id(s) {', '.join(map(str, demoted))} not answering (demoted)")
        else:
            self.health.connected(f"{self.poller.host}:{self.poller.port}")
        self.health.reconnects = self.poller.stats.reconnects

    async def run(self) -> None:
        if not self.poller.points:
            self.health.degraded("no tags configured")
        self.health.set_state("connecting")
        gateway = await self._start_gateway()
        try:
            await self.poller.run(asyncio.Event())   # cancelled by the runner; run() closes the client on the way out
        finally:
            if gateway is not None:
                gateway.close()

    async def _start_gateway(self) -> MqttGateway | None:
        """Protocol gateway (optional): republish every reading to MQTT after it is durable."""
        republish = self.config["republish"]
        if not republish:
            return None
        hierarchy = await asyncio.to_thread(plant_hierarchy_or_empty, self.spec.site)
        gateway = MqttGateway(self.sink, host=republish["host"], port=republish["port"], hierarchy=hierarchy,
                              prefix=republish["prefix"], qos=republish["qos"], retain=republish["retain"],
                              client_id=republish["client_id"] or f"qualitypulse-gateway-{self.spec.site}-{self.spec.name}")
        self.sink = gateway
        return gateway
