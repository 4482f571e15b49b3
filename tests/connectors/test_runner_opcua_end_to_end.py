"""End to end on real peers: the simulator's OPC UA server → the runner (OPC UA adapter, durable outbox) → the
foundation's ingestion → PostgreSQL rows with the machine's timestamps, the connector as source, quality kept, and
the connector status and tag freshness updated."""
import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from connectors.models import ConnectorStatus, TagMapping
from connectors.outbox import Outbox
from connectors.runner import Runner, RunnerSettings
from connectors.services import DjangoRunnerBackend
from connectors.simulator.faces import SimulatorOptions
from connectors.simulator.opcua_server import OpcUaFace, node_id_string
from connectors.simulator.plant import Sample, SimulatedPlant
from qms.models import Measurement
from tests.connectors.protocol_helpers import free_port
from tests.factories import ConnectorFactory, TagMappingFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.asyncio
async def test_simulator_values_become_measurements(characteristic, tmp_path):
    face = OpcUaFace(SimulatedPlant(machines=("IMM01",)), SimulatorOptions(opcua_port=free_port()))
    await face.start()

    def configure():
        connector = ConnectorFactory(site=characteristic.site, name="sim", config={
            "endpoint": face.endpoint, "publishing_interval_ms": 50, "sampling_interval_ms": 0})
        TagMappingFactory(connector=connector, characteristic=characteristic,
                          source_ref=node_id_string("IMM01", "TemperatureZones/Barrel/Zone2/ActualValue"))
        return connector

    connector = await sync_to_async(configure)()
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), DjangoRunnerBackend(),
                    RunnerSettings(config_poll_s=0.2, status_interval_s=0.2, flush_interval_s=0.02))
    task = asyncio.create_task(runner.run())
    machine_time = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=3)
    try:
        deadline = time.monotonic() + 30
        while (connector.pk not in runner.healths or runner.healths[connector.pk].state != "connected") \
                and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await face.publish([Sample("IMM01", "BARREL_Z2.TEMP", 212.3, True, machine_time)], machine_time)
        stored = sync_to_async(lambda: list(Measurement.objects.filter(ts=machine_time).values_list(
            "value", "quality", "source")))
        while not await stored() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)    # a status save
    finally:
        runner.request_stop()
        await task
        await face.stop()
    rows = await stored()
    status = await sync_to_async(ConnectorStatus.objects.get)(connector=connector)
    tag = await sync_to_async(TagMapping.objects.get)(connector=connector)
    await sync_to_async(connections.close_all)()
    assert rows == [(212.3, 0, "connector:sim")]
    assert status.stored >= 1 and status.received >= 1 and status.buffered == 0
    assert tag.last_quality == "good" and tag.last_value_at is not None
