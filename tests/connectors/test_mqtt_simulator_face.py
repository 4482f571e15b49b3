"""The simulator's MQTT face (cycle records) read by the MQTT adapter configured from the face's own tag list."""
import uuid

import pytest

from connectors.mqtt.adapter import MqttAdapter
from connectors.simulator.faces import SimulatorOptions
from connectors.simulator.mqtt_publisher import build_face, connector_tags
from connectors.simulator.plant import ScenarioOptions, SimulatedPlant
from connectors.spec import ConnectorSpec, TagSpec
from tests.connectors.protocol_helpers import ListSink, port_open, require_service
from tests.connectors.test_mqtt_adapter import start, stop, wait_for

pytestmark = pytest.mark.asyncio


async def shots_through_the_adapter(scenario: str, shots: int = 3):
    require_service(port_open("127.0.0.1", 1883), "an MQTT broker on 127.0.0.1:1883")
    prefix = f"qp-sim-test/{uuid.uuid4().hex[:8]}"
    plant = SimulatedPlant(scenario=ScenarioOptions(name=scenario), seed=3)
    face = build_face(plant, SimulatorOptions(extra={"mqtt_prefix": prefix}))
    tags = tuple(TagSpec(source_ref=t["source_ref"], characteristic=t["characteristic"], params=t["params"])
                 for t in connector_tags(plant.machines, prefix))
    spec = ConnectorSpec(id=1, site="S1", name=f"sim-{prefix[-8:]}", kind="mqtt", tags=tags, config={
        "host": "127.0.0.1", "port": 1883, "id_path": "id", "lot_path": "lot", "session_expiry_s": 60,
        "client_id": f"qp-{prefix[-8:]}"})
    sink = ListSink()
    adapter = MqttAdapter(spec, sink)
    task = await start(adapter)
    await face.start()
    try:
        records = [plant.shot("IMM01") for _ in range(shots)]
        for shot in records:
            await face.publish_shot(shot)
        await wait_for(lambda: adapter.received == face.published)
    finally:
        await face.stop()
        await stop(task)
    return records, adapter, sink


async def test_each_shot_becomes_one_reading_per_shot_value():
    records, _adapter, sink = await shots_through_the_adapter("normal")
    weights = [e for e in sink.envelopes if e.characteristic == "IMM01.PART.WEIGHT"]
    assert [e.value for e in weights] == [shot.values["PART.WEIGHT"] for shot in records]
    assert {e.lot for e in weights} == {records[0].lot}


async def test_duplicate_deliveries_scenario_is_stored_once():
    records, adapter, sink = await shots_through_the_adapter("duplicate-deliveries", shots=5)
    assert adapter.received == 11          # 2 + 2 + 2 + 2 + 3 (every fifth shot three times)
    assert adapter.duplicates == 6
    assert len(sink.envelopes) == 5 * 4    # five shots × four shot values
