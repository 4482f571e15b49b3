"""The OPC UA adapter against a real asyncua server on loopback (the simulator's OPC UA face): status codes,
timestamps, deadband, cycle events, reconnect after a server restart and a half-open link, the two asyncua
pitfalls, bounded CPU. One server for the module (asyncua needs seconds to build its address space)."""
import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from asyncua import ua

from connectors.health import ConnectorHealth
from connectors.opcua import guards
from connectors.opcua.adapter import OpcUaAdapter
from connectors.simulator.faces import SimulatorOptions
from connectors.simulator.opcua_server import OpcUaFace, node_id_string
from connectors.simulator.plant import Sample, Shot, SimulatedPlant
from connectors.simulator.tcp_proxy import TcpProxy
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import ListSink, free_port

pytestmark = pytest.mark.asyncio(loop_scope="module")

Z2 = "TemperatureZones/Barrel/Zone2/ActualValue"
Z3 = "TemperatureZones/Barrel/Zone3/ActualValue"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def face():
    plant = SimulatedPlant(machines=("IMM01",), seed=1)
    face = OpcUaFace(plant, SimulatorOptions(opcua_port=free_port()))
    await face.start()
    yield face
    await face.stop()


def tag(path, code, **params):
    return TagSpec(source_ref=node_id_string("IMM01", path), characteristic=code, params=params, equipment="IMM01",
                   physical_min=0.0, physical_max=400.0)


def spec(endpoint, tags, **config):
    return ConnectorSpec(id=1, site="S1", name="opc", kind="opcua",
                         config={"endpoint": endpoint, "publishing_interval_ms": 50, "sampling_interval_ms": 0,
                                 "watchdog_s": 0.5, "request_timeout_s": 1.0, **config},
                         tags=tuple(tags))


async def write(face, path, value, *, source_ts=None, status=ua.StatusCodes.Good):
    node_id = ua.NodeId.from_string(node_id_string("IMM01", path, face.ns))
    variant = ua.Variant(value, ua.VariantType.Double) if value is not None else ua.Variant(None)
    await face.server.write_attribute_value(node_id, ua.DataValue(
        variant, StatusCode=ua.StatusCode(status), SourceTimestamp=source_ts or datetime.now(UTC),
        ServerTimestamp=datetime.now(UTC)))


async def until(predicate, timeout=8.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.02)


class Running:
    def __init__(self, adapter_spec):
        self.sink = ListSink()
        self.health = ConnectorHealth()
        self.adapter = OpcUaAdapter(adapter_spec, self.sink, self.health)

    async def __aenter__(self):
        self.task = asyncio.create_task(self.adapter.run())
        await until(lambda: self.health.state == "connected", what="connected")
        await asyncio.sleep(0.2)     # initial values
        return self

    async def __aexit__(self, *exc):
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def values(self, code="IMM01.BARREL_Z2.TEMP"):
        return [e.value for e in self.sink.of(code)]


async def test_values_keep_source_and_server_timestamps_apart(face):
    async with Running(spec(face.endpoint, [tag(Z2, "IMM01.BARREL_Z2.TEMP")])) as run:
        measured = datetime.now(UTC) - timedelta(seconds=5)
        await write(face, Z2, 211.5, source_ts=measured)
        await until(lambda: 211.5 in run.values())
    [envelope] = [e for e in run.sink.of("IMM01.BARREL_Z2.TEMP") if e.value == 211.5]
    assert envelope.quality == "good"
    assert envelope.source_ts == measured.replace(microsecond=envelope.source_ts.microsecond)
    assert envelope.server_ts > measured + timedelta(seconds=4)
    assert envelope.connector == "S1/opc" and envelope.equipment == "IMM01"


async def test_bad_status_gives_bad_quality_without_a_value(face):
    async with Running(spec(face.endpoint, [tag(Z2, "IMM01.BARREL_Z2.TEMP")])) as run:
        await write(face, Z2, None, status=ua.StatusCodes.BadSensorFailure)
        await until(lambda: None in run.values())
    bad = [e for e in run.sink.of("IMM01.BARREL_Z2.TEMP") if e.value is None][0]
    assert bad.quality == "bad"
    assert bad.extra["status"] == "BadSensorFailure"


async def test_uncertain_status_keeps_the_value_with_uncertain_quality(face):
    async with Running(spec(face.endpoint, [tag(Z2, "IMM01.BARREL_Z2.TEMP")])) as run:
        await write(face, Z2, 212.25, status=ua.StatusCodes.UncertainLastUsableValue)
        await until(lambda: 212.25 in run.values())
    envelope = [e for e in run.sink.of("IMM01.BARREL_Z2.TEMP") if e.value == 212.25][0]
    assert envelope.quality == "uncertain"


async def test_absolute_deadband_filters_small_changes(face):
    await write(face, Z3, 100.0)
    async with Running(spec(face.endpoint, [tag(Z3, "IMM01.BARREL_Z3.TEMP", deadband=1.0)])) as run:
        for value in (100.4, 102.0, 102.5):
            await write(face, Z3, value)
            await asyncio.sleep(0.15)
        await until(lambda: 102.0 in run.values("IMM01.BARREL_Z3.TEMP"))
        await asyncio.sleep(0.3)
    assert run.values("IMM01.BARREL_Z3.TEMP") == [100.0, 102.0]


async def test_a_bad_value_on_a_deadband_item_does_not_kill_the_item(face):
    """asyncua pitfall 2: abs(None - old) on a bad-quality value must not crash the deadband item."""
    await write(face, Z3, 150.0)
    async with Running(spec(face.endpoint, [tag(Z3, "IMM01.BARREL_Z3.TEMP", deadband=1.0)])) as run:
        await write(face, Z3, None, status=ua.StatusCodes.BadSensorFailure)
        await until(lambda: None in run.values("IMM01.BARREL_Z3.TEMP"), what="bad value")
        await write(face, Z3, 155.0)
        await until(lambda: 155.0 in run.values("IMM01.BARREL_Z3.TEMP"), what="value after the bad one")
    assert run.values("IMM01.BARREL_Z3.TEMP") == [150.0, None, 155.0]


async def test_without_the_server_guard_asyncua_loses_the_bad_value_on_a_deadband_item(face):
    """The same scenario on the unguarded asyncua server: proves the test above can fail."""
    await write(face, Z3, 160.0)
    guards.uninstall_server_guard()
    try:
        async with Running(spec(face.endpoint, [tag(Z3, "IMM01.BARREL_Z3.TEMP", deadband=1.0)])) as run:
            await write(face, Z3, None, status=ua.StatusCodes.BadSensorFailure)
            await write(face, Z3, 165.0)
            await asyncio.sleep(0.5)
    finally:
        guards.install_server_guard()
    assert None not in run.values("IMM01.BARREL_Z3.TEMP")


async def test_a_cycle_event_becomes_one_record_per_shot(face):
    machine = ua.NodeId("IMM01", face.ns).to_string()
    tags = [
        TagSpec(source_ref=machine, characteristic="IMM01.CYCLE.TIME", params={"event_field": "CycleTime"}),
        TagSpec(source_ref=machine, characteristic="IMM01.SCREW.CUSHION", params={"event_field": "Cushion"}),
    ]
    async with Running(spec(face.endpoint, tags)) as run:
        shot_ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
        await face.publish_shot(Shot("IMM01", 4711, "L-0042", shot_ts, {
            "CYCLE.TIME": 31.9, "SCREW.CUSHION": 5.1, "INJECTION.PRESSURE": 850.0, "PART.WEIGHT": 48.5,
            "INJECTION.TIME": 1.8}))
        await until(lambda: len(run.sink.envelopes) >= 2, what="shot record")
    by_code = {e.characteristic: e for e in run.sink.envelopes}
    assert by_code["IMM01.CYCLE.TIME"].value == 31.9 and by_code["IMM01.SCREW.CUSHION"].value == 5.1
    assert {e.source_ts for e in run.sink.envelopes} == {shot_ts}
    assert {(e.lot, e.extra["shot"]) for e in run.sink.envelopes} == {("L-0042", 4711)}


async def test_after_a_server_restart_the_adapter_reconnects_and_values_resume(face):
    async with Running(spec(face.endpoint, [tag(Z2, "IMM01.BARREL_Z2.TEMP")])) as run:
        await face.restart(down_s=1.0)
        await until(lambda: run.health.reconnects >= 1 and run.health.state == "connected", what="reconnected")
        await write(face, Z2, 219.75)
        await until(lambda: 219.75 in run.values(), what="value after restart")


async def test_cpu_stays_bounded_while_the_server_is_down(face):
    async with Running(spec(face.endpoint, [tag(Z2, "IMM01.BARREL_Z2.TEMP")])) as run:
        await face.go_down()
        try:
            await until(lambda: run.health.state != "connected", what="outage noticed")
            started = time.process_time()
            await asyncio.sleep(3.0)
            used = time.process_time() - started
        finally:
            await face.come_up()
        await write(face, Z2, 218.5)
        await until(lambda: 218.5 in run.values(), timeout=15, what="value after outage")
    assert used < 0.75, f"{used:.2f} s of CPU in 3 s of outage: the client spins"


async def test_a_half_open_link_is_detected_and_missed_values_are_recovered(face):
    proxy = TcpProxy("127.0.0.1", 0, "127.0.0.1", face.server_port)
    await proxy.start()
    try:
        endpoint = f"opc.tcp://127.0.0.1:{proxy.listen_port}/qualitypulse/"
        async with Running(spec(endpoint, [tag(Z2, "IMM01.BARREL_Z2.TEMP")], queue_size=100)) as run:
            await write(face, Z2, 201.0)
            await until(lambda: 201.0 in run.values())
            proxy.pause()                              # silence: no FIN, no RST
            missed = [202.0, 203.0, 204.0]
            for value in missed:
                await write(face, Z2, value)
                await asyncio.sleep(0.1)
            await until(lambda: run.health.state != "connected", timeout=10, what="half-open link detected")
            proxy.drop_connections()
            proxy.resume()
            await until(lambda: run.health.state == "connected", timeout=15, what="reconnected")
            await write(face, Z2, 205.0)
            await until(lambda: 205.0 in run.values(), timeout=10, what="live values again")
            await asyncio.sleep(0.3)
    finally:
        await proxy.stop()
    assert set(missed) <= set(run.values()), f"missed values not recovered: {run.values()}"
    live = [e for e in run.sink.of("IMM01.BARREL_Z2.TEMP") if e.value in (201.0, 205.0)]
    assert not any(e.backfill for e in live)


async def test_republish_guard_stops_on_empty_messages_where_asyncua_spins(face):
    """asyncua pitfall 1: asyncua's server answers an unknown sequence number with an empty message, never with
    BadMessageNotAvailable; the library's republish loop then asks again and again, forever."""
    from asyncua import Client

    async with Client(face.endpoint) as client:
        subscription = await client.create_subscription(100, None)
        calls = 0
        original = subscription.server.republish

        async def counting(*args, **kwargs):
            nonlocal calls
            calls += 1
            return await original(*args, **kwargs)

        subscription.server.republish = counting
        guards.uninstall()
        try:
            spinning = asyncio.create_task(subscription._republish_gaps([]))
            await asyncio.sleep(1.0)
            unguarded_calls = calls
            spinning.cancel()
            await asyncio.gather(spinning, return_exceptions=True)
        finally:
            guards.install()
        calls = 0
        await asyncio.wait_for(subscription._republish_gaps([]), 2)
        await asyncio.wait_for(subscription._republish_gaps([1, 2, 3]), 2)
    assert unguarded_calls > 50, "the unguarded library did not spin: the test proves nothing"
    assert calls <= 1


async def test_samples_published_by_the_simulator_arrive(face):
    async with Running(spec(face.endpoint, [tag(Z2, "IMM01.BARREL_Z2.TEMP")])) as run:
        now = datetime.now(UTC)
        await face.publish([Sample("IMM01", "BARREL_Z2.TEMP", 209.9, True, now)], now)
        await until(lambda: 209.9 in run.values())
