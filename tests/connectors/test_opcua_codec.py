"""connectors.opcua.datachange_codec against asyncua's own generic codec (property tests: same bytes, same objects,
for the common shape and every unusual one), its wiring into asyncua, the simulator's server speed-ups, and a
stock asyncua client reading the simulator's fast-encoded notifications."""
import asyncio
import math
import struct
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import Client, ua
from asyncua.common.utils import Buffer, NotEnoughData
from asyncua.server.monitored_item_service import MonitoredItemValues
from asyncua.ua import ua_binary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.opcua import datachange_codec as codec
from connectors.simulator import opcua_speedups
from connectors.simulator.faces import SimulatorOptions
from connectors.simulator.opcua_server import OpcUaFace
from connectors.simulator.plant import Sample, SimulatedPlant
from tests.connectors.protocol_helpers import free_port

VT = ua.VariantType
asyncua_encode = codec._ORIGINAL_STRUCT_TO_BINARY


def asyncua_decode(data: bytes) -> ua.DataChangeNotification:
    return codec._ORIGINAL_FROM_BINARY(ua.DataChangeNotification, Buffer(data))


# --- strategies -------------------------------------------------------------------------------------------------
def _ints(variant_type, low, high):
    return st.integers(low, high).map(lambda n: ua.Variant(n, variant_type))


SCALAR_VARIANTS = st.one_of(
    st.floats(allow_nan=False).map(lambda x: ua.Variant(x, VT.Double)),
    st.floats(width=32, allow_nan=False).map(lambda x: ua.Variant(x, VT.Float)),
    st.booleans().map(lambda b: ua.Variant(b, VT.Boolean)),
    _ints(VT.SByte, -128, 127), _ints(VT.Byte, 0, 255), _ints(VT.Int16, -2**15, 2**15 - 1),
    _ints(VT.UInt16, 0, 2**16 - 1), _ints(VT.Int32, -2**31, 2**31 - 1), _ints(VT.UInt32, 0, 2**32 - 1),
    _ints(VT.Int64, -2**63, 2**63 - 1), _ints(VT.UInt64, 0, 2**64 - 1),
)
UNUSUAL_VARIANTS = st.one_of(
    st.just(ua.Variant(None)),                                              # a bad value carries no value
    st.text(max_size=20).map(lambda s: ua.Variant(s, VT.String)),
    st.lists(st.floats(allow_nan=False), max_size=4).map(lambda xs: ua.Variant(xs, VT.Double)),
    st.datetimes(min_value=datetime(1700, 1, 1), timezones=st.just(UTC)).map(lambda d: ua.Variant(d, VT.DateTime)),
    st.integers(-2**31, 2**31 - 1).map(lambda n: ua.Variant(n, VT.Double)),  # an int declared Double
)
STATUS = st.one_of(
    st.sampled_from([ua.StatusCodes.Good, ua.StatusCodes.BadSensorFailure, ua.StatusCodes.UncertainLastUsableValue,
                     ua.StatusCodes.BadCommunicationError]),
    st.integers(0, 2**32 - 1),
).map(ua.StatusCode)
TIMES = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(1500, 1, 1), timezones=st.just(UTC)),    # before 1601 / near 9999: clamped
)


@st.composite
def complete_items(draw):
    """The common shape: a scalar number with status and both timestamps."""
    return ua.MonitoredItemNotification(draw(st.integers(0, 2**32 - 1)), ua.DataValue(
        draw(SCALAR_VARIANTS), StatusCode=draw(STATUS), SourceTimestamp=draw(TIMES), ServerTimestamp=draw(TIMES)))


@st.composite
def any_items(draw):
    """Any value: missing status or timestamps, picoseconds, non-numeric and array variants."""
    return ua.MonitoredItemNotification(draw(st.integers(0, 2**32 - 1)), ua.DataValue(
        draw(st.one_of(SCALAR_VARIANTS, UNUSUAL_VARIANTS)), StatusCode=draw(st.one_of(st.none(), STATUS)),
        SourceTimestamp=draw(st.one_of(st.none(), TIMES)), ServerTimestamp=draw(st.one_of(st.none(), TIMES)),
        SourcePicoseconds=draw(st.one_of(st.none(), st.integers(0, 9999))),
        ServerPicoseconds=draw(st.one_of(st.none(), st.integers(0, 9999)))))


def notifications(items):
    return st.builds(lambda monitored, diagnostics: ua.DataChangeNotification(MonitoredItems=monitored,
                                                                             DiagnosticInfos=diagnostics),
                     st.lists(items, max_size=25),
                     st.lists(st.builds(ua.DiagnosticInfo, SymbolicId=st.integers(0, 100)), max_size=2))


# --- the codec against asyncua ----------------------------------------------------------------------------------
@given(notifications(st.one_of(complete_items(), any_items())))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_encoding_is_byte_for_byte_asyncuas(notification):
    assert codec.encode(notification) == asyncua_encode(notification)


@given(notifications(st.one_of(complete_items(), any_items())))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_decoding_gives_the_objects_asyncua_gives(notification):
    data = asyncua_encode(notification)
    decoded, reference = codec.decode(Buffer(data)), asyncua_decode(data)
    assert decoded == reference
    assert asyncua_encode(decoded) == asyncua_encode(reference)     # also what equality skips (Dimensions, is_array)


def test_a_shared_timestamp_decodes_to_equal_aware_datetimes():
    now = datetime.now(UTC).replace(microsecond=123456)
    notification = ua.DataChangeNotification(MonitoredItems=[
        ua.MonitoredItemNotification(i, ua.DataValue(ua.Variant(float(i), VT.Double), SourceTimestamp=now,
                                                     ServerTimestamp=now + timedelta(milliseconds=1)))
        for i in range(3)])
    decoded = codec.decode(Buffer(asyncua_encode(notification)))
    assert [item.Value.SourceTimestamp for item in decoded.MonitoredItems] == [now] * 3
    assert decoded.MonitoredItems[2].Value.ServerTimestamp.tzinfo is not None


def test_nan_and_infinities_survive_both_ways():
    values = [math.nan, math.inf, -math.inf]
    notification = ua.DataChangeNotification(MonitoredItems=[
        ua.MonitoredItemNotification(1, ua.DataValue(ua.Variant(x, VT.Double), SourceTimestamp=datetime.now(UTC),
                                                     ServerTimestamp=datetime.now(UTC))) for x in values])
    data = codec.encode(notification)
    assert data == asyncua_encode(notification)
    decoded = [item.Value.Value.Value for item in codec.decode(Buffer(data)).MonitoredItems]
    assert math.isnan(decoded[0]) and decoded[1:] == [math.inf, -math.inf]


def test_a_truncated_body_raises_instead_of_inventing_values():
    notification = ua.DataChangeNotification(MonitoredItems=[ua.MonitoredItemNotification(1, ua.DataValue(
        ua.Variant(1.0, VT.Double), SourceTimestamp=datetime.now(UTC), ServerTimestamp=datetime.now(UTC)))])
    with pytest.raises((struct.error, NotEnoughData)):
        codec.decode(Buffer(asyncua_encode(notification)[:-6]))


# --- wiring into asyncua ----------------------------------------------------------------------------------------
def _publish_response() -> ua.PublishResponse:
    now = datetime.now(UTC)
    changes = ua.DataChangeNotification(MonitoredItems=[
        ua.MonitoredItemNotification(1, ua.DataValue(ua.Variant(2.5, VT.Double), SourceTimestamp=now,
                                                     ServerTimestamp=now)),
        ua.MonitoredItemNotification(2, ua.DataValue(ua.Variant(None), StatusCode=ua.StatusCode(
            ua.StatusCodes.BadSensorFailure), SourceTimestamp=now))])
    events = ua.EventNotificationList(Events=[ua.EventFieldList(ClientHandle=3, EventFields=[
        ua.Variant("L-1", VT.String), ua.Variant(7, VT.UInt32)])])
    message = ua.NotificationMessage(SequenceNumber=4, PublishTime=now, NotificationData=[changes, events])
    return ua.PublishResponse(Parameters=ua.PublishResult(SubscriptionId=1, NotificationMessage=message))


def test_installed_codec_reads_and_writes_whole_publish_responses_as_asyncua(monkeypatch):
    monkeypatch.setattr(ua_binary, "struct_to_binary", codec._ORIGINAL_STRUCT_TO_BINARY)
    monkeypatch.setattr(ua_binary, "from_binary", codec._ORIGINAL_FROM_BINARY)
    response = _publish_response()
    reference_bytes = ua_binary.struct_to_binary(response)
    reference = ua_binary.struct_from_binary(ua.PublishResponse, Buffer(reference_bytes))
    codec.install_encoder()
    codec.install_decoder()
    assert ua_binary.struct_to_binary(response) == reference_bytes
    decoded = ua_binary.struct_from_binary(ua.PublishResponse, Buffer(reference_bytes))
    assert decoded == reference
    assert isinstance(decoded.Parameters.NotificationMessage.NotificationData[1], ua.EventNotificationList)


# --- the simulator's server speed-ups ---------------------------------------------------------------------------
def test_a_scalar_value_is_kept_and_a_list_value_still_copied():
    values = MonitoredItemValues()
    scalar = ua.DataValue(ua.Variant(1.5, VT.Double))
    opcua_speedups.set_current_datavalue(values, scalar)
    assert values.get_current_datavalue() is scalar
    listed = ua.DataValue(ua.Variant([1.0, 2.0], VT.Double))
    opcua_speedups.set_current_datavalue(values, listed)
    assert values.get_current_datavalue() == listed and values.get_current_datavalue() is not listed
    assert values.get_old_datavalue() is scalar


@pytest.mark.asyncio
async def test_a_stock_asyncua_client_reads_the_simulators_notifications(monkeypatch):
    """The simulator encodes with the fast codec (and one-pass bench writes); a client with asyncua's own decoder
    gets every value, status and timestamp."""
    face = OpcUaFace(SimulatedPlant(machines=("IMM01",), seed=3), SimulatorOptions(opcua_port=free_port(),
                                                                                   bench_tags=3))
    await face.start()
    monkeypatch.setattr(ua_binary, "from_binary", codec._ORIGINAL_FROM_BINARY)
    received: list[tuple[str, ua.DataValue]] = []

    class Handler:
        def datachange_notification(self, node, value, data):
            received.append((node.nodeid.to_string(), data.monitored_item.Value))

    try:
        async with Client(face.endpoint, timeout=5) as client:
            subscription = await client.create_subscription(50, Handler())
            bench = [client.get_node(node_id) for node_id in face.bench_nodes]
            bad_node = client.get_node(face.nodes[("IMM01", "BARREL_Z1.TEMP")])
            await subscription.subscribe_data_change([*bench, bad_node], queuesize=10, sampling_interval=0)
            await asyncio.sleep(0.3)
            received.clear()
            now = datetime.now(UTC).replace(microsecond=500000)
            await face.publish([Sample("IMM01", "BARREL_Z1.TEMP", None, False, now)], now)
            for _ in range(100):
                if len(received) >= 4:
                    break
                await asyncio.sleep(0.05)
    finally:
        await face.stop()
    by_node = dict(received)
    for node_id, expected in zip(face.bench_nodes, face.plant.waves(now, 3), strict=True):
        value = by_node[node_id.to_string()]
        assert (value.Value.Value, value.Value.VariantType, value.SourceTimestamp) == (expected, VT.Double, now)
        assert value.StatusCode.is_good() and value.ServerTimestamp is not None
    bad = by_node[face.nodes[("IMM01", "BARREL_Z1.TEMP")].to_string()]
    assert bad.StatusCode.value == ua.StatusCodes.BadSensorFailure and bad.Value.Value is None
