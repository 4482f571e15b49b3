"""The adapter's whole-notification pass (`_take_datachange`, which replaces asyncua's per-item events) and the
decoder's VariantType table — without a server: asyncua's own data classes, a subscription reduced to what the
pass reads."""
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from asyncua import ua

from connectors.opcua import speedups
from connectors.opcua.adapter import OpcUaAdapter
from connectors.spec import ConnectorSpec, TagSpec

NOW = datetime.now(UTC)
TAGS = (TagSpec(source_ref="ns=2;s=A", characteristic="C.A", physical_min=0, physical_max=1000),
        TagSpec(source_ref="ns=2;s=B", characteristic="C.B", params={"scale": 10}))


def adapter_with(handles: dict[int, str], replaying=False) -> OpcUaAdapter:
    spec = ConnectorSpec(id=1, site="S1", name="opc", kind="opcua", config={"endpoint": "opc.tcp://x"}, tags=TAGS)
    adapter = OpcUaAdapter(spec, sink=None)
    items = {handle: SimpleNamespace(node=SimpleNamespace(nodeid=ua.NodeId.from_string(node)))
             for handle, node in handles.items()}
    adapter.subscription = SimpleNamespace(_monitored_items=items, _replaying=replaying)
    return adapter


def change(handle, value, status=ua.StatusCodes.Good, source_ts=NOW, variant_type=ua.VariantType.Double):
    return ua.MonitoredItemNotification(ClientHandle=handle, Value=ua.DataValue(
        ua.Variant(value, variant_type), StatusCode=ua.StatusCode(status), SourceTimestamp=source_ts,
        ServerTimestamp=NOW))


def test_every_item_of_a_notification_becomes_one_envelope_in_order():
    adapter = adapter_with({1: "ns=2;s=A", 2: "ns=2;s=B"})
    adapter._take_datachange(ua.DataChangeNotification(MonitoredItems=[change(1, 1.5), change(2, 2.0),
                                                                       change(1, 1.75)]))
    assert [(e.characteristic, e.value, e.quality) for e in adapter.buffer] == [
        ("C.A", 1.5, "good"), ("C.B", 20.0, "good"), ("C.A", 1.75, "good")]
    assert adapter.buffer[0].source_ts == NOW and adapter.buffer[0].server_ts == NOW
    assert adapter._has_news.is_set()


def test_a_bad_status_without_a_value_is_bad_and_never_the_previous_value():
    adapter = adapter_with({1: "ns=2;s=A"})
    adapter._take_datachange(ua.DataChangeNotification(MonitoredItems=[
        change(1, 5.0), change(1, None, ua.StatusCodes.BadSensorFailure, variant_type=ua.VariantType.Null)]))
    bad = adapter.buffer[1]
    assert (bad.value, bad.quality, bad.extra["status"]) == (None, "bad", "BadSensorFailure")


def test_unknown_handles_and_unmapped_nodes_are_skipped():
    adapter = adapter_with({1: "ns=2;s=A", 3: "ns=2;s=NotMapped"})
    adapter._take_datachange(ua.DataChangeNotification(MonitoredItems=[change(9, 1.0), change(3, 2.0),
                                                                       change(1, 3.0)]))
    assert [e.value for e in adapter.buffer] == [3.0]


def test_republished_and_old_values_are_backfill():
    adapter = adapter_with({1: "ns=2;s=A"}, replaying=True)
    now = datetime.now(UTC)
    adapter._take_datachange(ua.DataChangeNotification(MonitoredItems=[change(1, 1.0, source_ts=now)]))
    adapter.subscription._replaying = False
    adapter._take_datachange(ua.DataChangeNotification(MonitoredItems=[
        change(1, 2.0, source_ts=now - timedelta(minutes=5)), change(1, 3.0, source_ts=now)]))
    assert [e.backfill for e in adapter.buffer] == [True, True, False]


def test_a_recreated_monitored_item_is_resolved_again():
    adapter = adapter_with({1: "ns=2;s=A"})
    adapter._take_datachange(ua.DataChangeNotification(MonitoredItems=[change(1, 1.0)]))
    adapter.subscription._monitored_items[1] = SimpleNamespace(node=SimpleNamespace(
        nodeid=ua.NodeId.from_string("ns=2;s=B")))
    adapter._take_datachange(ua.DataChangeNotification(MonitoredItems=[change(1, 1.0)]))
    assert [e.characteristic for e in adapter.buffer] == ["C.A", "C.B"]


def test_the_variant_type_table_answers_as_asyncua_does():
    for code in range(0, 40):
        assert speedups.datatype_to_varianttype(code) == speedups._ORIGINAL(code)
    assert speedups.datatype_to_varianttype(ua.NodeId(11)) == speedups._ORIGINAL(ua.NodeId(11))
