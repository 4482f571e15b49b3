"""The OPC UA adapter: one session per connector, one subscription with a monitored item per mapped node, one
event subscription per cycle-event source. No Django import.

- Every notification becomes an envelope with the server's StatusCode mapped to good/uncertain/bad, the value's
  SourceTimestamp and ServerTimestamp kept separately, and the raw value. A bad value with no number is emitted
  as quality "bad" with value None — never the previous value again.
- Each PublishResponse is handled as a whole (`_take_datachange`: one pass over its DataChangeNotification, tags
  found by client handle — no per-item asyncua event, Node or task) and handed to the outbox in one commit as soon
  as it has been read: no timer wait (`flush_interval_s` is only the idle tick that watches the link state).
- Link health: asyncua's supervisor (auto_reconnect) probes the server every `watchdog_s`, so a half-open link is
  detected by a request timeout; it reconnects with backoff, re-activates the session when the server still has
  it (then TransferSubscriptions + Republish recover the notifications sent while the link was down) or creates
  a new session and recreates the subscription. A republish spin is prevented by connectors.opcua.guards.
- Our own loop watches the client state and counts reconnects; if the session cannot be used at all the adapter
  raises and the runner restarts it with backoff.
- Backfill: values that come through asyncua's Republish after a reconnect, and values whose source time is older
  than `backfill_after_s` on arrival, are flagged `backfill`. (Notifications the server still had queued arrive
  as ordinary publishes after the session is re-activated — late, but not flagged unless older than the limit.)
- Cycle events (EUROMAP 77 style CycleParametersEventType): one event per shot → one envelope per mapped field,
  all with the shot's time, lot and shot counter (`extra["shot"]`): one record per shot.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asyncua import ua
from asyncua.client.ua_client import UaClientState

from connectors.adapters import Adapter
from connectors.envelope import Envelope
from connectors.health import DEGRADED
from connectors.opcua import guards, speedups
from connectors.opcua.session import make_client
from connectors.opcua.values import jsonable, numeric, passes_deadband, quality_of
from connectors.spec import TagSpec

guards.install()
speedups.install()
# asyncua logs every publish response at INFO (formatting whole results): far too costly at 10k values/s.
logging.getLogger("asyncua").setLevel(logging.WARNING)
log = logging.getLogger("connectors.opcua")


@dataclass(frozen=True, slots=True)
class _ItemTag:
    """A monitored item's tag and what its values need from the tag's params, looked up once."""
    key: str
    tag: TagSpec | None
    scale: float | None = None
    offset: float | None = None
    deadband: float | None = None
    plain: bool = True            # neither scaled nor offset: a finite float is stored as it came

    @classmethod
    def of(cls, key: str, tag: TagSpec | None) -> _ItemTag:
        if tag is None:
            return cls(key, None)
        scale, offset = tag.params.get("scale"), tag.params.get("offset")
        return cls(key, tag, scale, offset, tag.params.get("client_deadband"), scale is None and offset is None)


def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


class _Handler:
    """asyncua subscription handler: only appends to the adapter's buffer (never blocks the publish loop)."""

    def __init__(self, adapter: OpcUaAdapter):
        self.adapter = adapter

    def datachange_notification(self, node, value, data) -> None:
        self.adapter.on_datachange(node, value, data)

    def event_notification(self, event) -> None:
        self.adapter.on_event(event)

    def status_change_notification(self, status) -> None:
        self.adapter.on_status_change(status)


class OpcUaAdapter(Adapter):
    kind = "opcua"
    flush_interval_s = 0.05

    def __init__(self, spec, sink, health=None):
        super().__init__(spec, sink, health)
        self.config = spec.config
        self.buffer: list[Envelope] = []
        self.value_tags: dict[str, TagSpec] = {}
        self.event_tags: dict[str, dict[str, TagSpec]] = defaultdict(dict)
        for tag in spec.tags:
            field = tag.params.get("event_field")
            if field:
                self.event_tags[_normal_node_id(tag.source_ref)][field] = tag
            else:
                self.value_tags[_normal_node_id(tag.source_ref)] = tag
        self.last_values: dict[str, float | None] = {}
        self._handle_tags: dict[int, tuple] = {}      # client handle -> (asyncua item data, _ItemTag)
        self._has_news = asyncio.Event()
        self.client = None
        self.subscription = None
        self._skew_ms: float | None = None

    # --- notifications (called from asyncua's publish loop) -------------------------------------------------
    def on_datachange(self, node, value, data, *, replayed: bool = False) -> None:
        """One value through asyncua's per-item event (kept for asyncua paths that bypass `_take_datachange`)."""
        key = node.nodeid.to_string()
        tag = self.value_tags.get(key)
        if tag is not None:
            received = datetime.now(UTC)
            ts = self._take_value(_ItemTag.of(key, tag), value, data.monitored_item.Value, received, replayed,
                                  self._backfill_before(received))
            if ts is not None:
                self._observe_skew(ts, received)
            self._has_news.set()

    def _take_datachange(self, datachange) -> tuple:
        """Replaces asyncua's `Subscription._explode_datachange` for our subscription: the whole notification in
        one pass (asyncua builds a Node, a DataChangeNotif and a DataChangeEvent per item and dispatches each: most
        of the client's CPU at 10,000 values/s). Yields nothing to asyncua: the values are in our buffer.
        What is the same for every item is worked out once per notification (reception time, backfill limit) or
        once per monitored item (its tag, scale, offset and client deadband)."""
        subscription = self.subscription
        if subscription is None:
            return ()
        items = subscription._monitored_items
        handles = self._handle_tags
        replayed = subscription._replaying
        received = datetime.now(UTC)
        backfill_before = self._backfill_before(received)
        take_value = self._take_value
        latest_ts = None
        for item in datachange.MonitoredItems:
            handle = item.ClientHandle
            data = items.get(handle)
            cached = handles.get(handle)
            if cached is None or cached[0] is not data:
                # Client handles are resolved once per monitored item (and again if asyncua recreated it).
                if data is None or data.node is None:
                    log.warning("notification for unknown client handle %s", handle)
                    continue
                key = data.node.nodeid.to_string()
                cached = handles[handle] = (data, _ItemTag.of(key, self.value_tags.get(key)))
            item_tag = cached[1]
            if item_tag.tag is None:
                continue
            data_value = item.Value
            variant = data_value.Value if data_value is not None else None
            ts = take_value(item_tag, variant.Value if variant is not None else None, data_value, received,
                            replayed, backfill_before)
            if ts is not None:
                latest_ts = ts
        if latest_ts is not None:
            self._observe_skew(latest_ts, received)
        if self.buffer:
            self._has_news.set()
        return ()

    def _take_value(self, item_tag: _ItemTag, value, data_value, received: datetime, replayed: bool,
                    backfill_before: datetime | None) -> datetime | None:
        """One value into the buffer (unless the client deadband holds it back). Returns its time, for the skew."""
        key, tag = item_tag.key, item_tag.tag
        status = data_value.StatusCode.value if data_value is not None and data_value.StatusCode is not None else 0
        if type(value) is float and item_tag.plain and math.isfinite(value):
            number = value           # the common case, what `numeric` returns for it
        else:
            number = numeric(value, scale=item_tag.scale, offset=item_tag.offset)
        quality = "bad" if number is None else quality_of(status)
        if item_tag.deadband and not passes_deadband(self.last_values.get(key), number, item_tag.deadband):
            return None
        self.last_values[key] = number
        source_ts = _aware(data_value.SourceTimestamp) if data_value is not None else None
        server_ts = _aware(data_value.ServerTimestamp) if data_value is not None else None
        backfill = replayed or bool(source_ts and backfill_before and source_ts < backfill_before)
        self.buffer.append(self.envelope(
            tag, number, quality=quality, raw_value=value if number is value else jsonable(value),
            source_ts=source_ts, server_ts=server_ts, received_ts=received, backfill=backfill,
            extra={} if status == 0 else {"status": ua.StatusCode(status).name},
        ))
        return source_ts or server_ts

    def on_event(self, event) -> None:
        received = datetime.now(UTC)
        fields = event.get_event_props_as_fields_dict()
        source = getattr(event, "SourceNode", None)
        source_key = source.to_string() if isinstance(source, ua.NodeId) else None
        tags = self.event_tags.get(source_key) if source_key else None
        if not tags:
            return
        source_ts = _aware(getattr(event, "Time", None))
        lot_variant = fields.get(self.config.get("lot_field", "LotId"))
        shot_variant = fields.get(self.config.get("shot_field", "ShotCounter"))
        lot = lot_variant.Value if lot_variant is not None else None
        shot = shot_variant.Value if shot_variant is not None else None
        self._observe_skew(source_ts, received)
        for field, tag in tags.items():
            variant = fields.get(field)
            raw = variant.Value if variant is not None else None
            number = numeric(raw, scale=tag.params.get("scale"), offset=tag.params.get("offset"))
            self.buffer.append(self.envelope(
                tag, number, quality="good" if number is not None else "bad", raw_value=jsonable(raw),
                source_ts=source_ts, server_ts=_aware(getattr(event, "ReceiveTime", None)), received_ts=received,
                backfill=self._is_backfill(source_ts, received), lot=str(lot) if lot else None,
                extra={"shot": int(shot) if isinstance(shot, int) else shot, "event": field},
            ))
        self._has_news.set()

    def _deliver_inline(self, event) -> None:
        """Replaces asyncua's per-notification `create_task` (one task per value: most of the client's CPU at
        10,000 values/s) with a direct call — our handlers only append to a buffer, they never block."""
        from asyncua.common.subscription import DataChangeEvent, OpcEvent, StatusChangeEvent

        try:
            if isinstance(event, DataChangeEvent):
                self.on_datachange(event.node, event.value, event.data, replayed=event.replayed)
            elif isinstance(event, OpcEvent):
                self.on_event(event.event)
            elif isinstance(event, StatusChangeEvent):
                self.on_status_change(event.notification)
        except Exception:
            self.log.exception("could not handle an OPC UA notification")

    def on_status_change(self, status) -> None:
        code = getattr(status, "Status", None)
        if code is not None and not code.is_good():
            self.health.degraded(f"subscription status {code.name}")

    def _observe_skew(self, ts: datetime | None, received: datetime) -> None:
        if ts is None:
            return
        sample = (ts - received).total_seconds() * 1000.0
        self._skew_ms = sample if self._skew_ms is None else 0.9 * self._skew_ms + 0.1 * sample

    def _is_backfill(self, source_ts: datetime | None, received: datetime) -> bool:
        limit = self.config.get("backfill_after_s", 60.0)
        return bool(source_ts and limit and (received - source_ts).total_seconds() > limit)

    def _backfill_before(self, received: datetime) -> datetime | None:
        """Values measured before this time are backfill (`_is_backfill`, worked out once per notification)."""
        limit = self.config.get("backfill_after_s", 60.0)
        return received - timedelta(seconds=limit) if limit else None

    # --- session --------------------------------------------------------------------------------------------
    async def run(self) -> None:
        delay = 1.0
        while True:
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.log.warning("OPC UA session to %s failed: %s", self.config.get("endpoint"), exc)
                self.health.error(exc)
                self.health.down(f"{type(exc).__name__}: {exc}")
            finally:
                await self._close()
                await self._flush()
            await asyncio.sleep(delay)
            delay = min(delay * 2, float(self.config.get("reconnect_max_delay_s", 10.0)))
            self.health.reconnected()

    async def _session(self) -> None:
        self.client = await make_client(self.config, self.spec.secrets)
        await self.client.connect()
        await self._subscribe()
        self.health.connected(self.config["endpoint"])
        previous_state = UaClientState.CONNECTED
        while True:
            # Woken as soon as a publish response has been read: its values go to the outbox in one commit now.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval_s):
                    await self._has_news.wait()
            self._has_news.clear()
            await self._flush()
            state = self.client.uaclient.state
            if state is not previous_state:
                if state is UaClientState.CONNECTED:
                    self.health.reconnected()
                    self.health.connected(self.config["endpoint"])
                elif previous_state is UaClientState.CONNECTED:
                    self.health.set_state(DEGRADED, f"link lost ({state.value}); reconnecting")
                previous_state = state
            supervisor = self.client._supervisor_task
            if state is UaClientState.DISCONNECTED and (supervisor is None or supervisor.done()):
                raise ConnectionError("OPC UA client gave up the connection")

    async def _subscribe(self) -> None:
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = float(self.config.get("publishing_interval_ms", 500))
        params.RequestedLifetimeCount = 10000
        params.RequestedMaxKeepAliveCount = int(
            self.config.get("keepalive_count") or self.client.get_keepalive_count(params.RequestedPublishingInterval)
        )
        params.MaxNotificationsPerPublish = 0      # unlimited: the server sends everything it has
        params.PublishingEnabled = True
        params.Priority = 0
        self.subscription = await self.client.create_subscription(params, _Handler(self))
        self.subscription._deliver = self._deliver_inline
        self.subscription._explode_datachange = self._take_datachange
        self._handle_tags.clear()
        requests = [self._monitored_item(node_id, tag) for node_id, tag in self.value_tags.items()]
        failed = []
        if requests:
            results = await self.subscription.create_monitored_items(requests)
            for (node_id, _tag), result in zip(self.value_tags.items(), results, strict=True):
                if isinstance(result, ua.StatusCode):
                    failed.append(f"{node_id}: {result.name}")
        for source_node_id in self.event_tags:
            try:
                event_type = await self._event_type()
                await self.subscription.subscribe_events(self.client.get_node(source_node_id), event_type)
            except Exception as exc:
                failed.append(f"{source_node_id} events: {exc}")
        if failed:
            self.log.warning("monitored items refused: %s", "; ".join(failed))
            self.health.error("monitored items refused: " + "; ".join(failed)[:1500])

    def _monitored_item(self, node_id: str, tag: TagSpec) -> ua.MonitoredItemCreateRequest:
        self.subscription._client_handle += 1
        handle = self.subscription._client_handle
        parameters = ua.MonitoringParameters()
        parameters.ClientHandle = handle
        parameters.SamplingInterval = float(tag.params.get("sampling_interval_ms",
                                                           self.config.get("sampling_interval_ms", 250)))
        parameters.QueueSize = int(tag.params.get("queue_size", self.config.get("queue_size", 10)))
        parameters.DiscardOldest = True
        deadband = tag.params.get("deadband")
        if deadband:
            data_filter = ua.DataChangeFilter()
            data_filter.Trigger = ua.DataChangeTrigger.StatusValue
            data_filter.DeadbandType = ua.DeadbandType.Absolute
            data_filter.DeadbandValue = float(deadband)
            parameters.Filter = data_filter
        read = ua.ReadValueId()
        read.NodeId = ua.NodeId.from_string(node_id)
        read.AttributeId = ua.AttributeIds.Value
        request = ua.MonitoredItemCreateRequest()
        request.ItemToMonitor = read
        request.MonitoringMode = ua.MonitoringMode.Reporting
        request.RequestedParameters = parameters
        return request

    async def _event_type(self):
        name = self.config.get("cycle_event_type", "CycleParametersEventType")
        for child in await self.client.nodes.base_event_type.get_children():
            if (await child.read_browse_name()).Name == name:
                return child
        raise LookupError(f"event type {name} not found on the server")

    async def _flush(self) -> None:
        if self._skew_ms is not None:
            self.health.skew(round(self._skew_ms, 1))
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        await self.emit(batch)

    async def _close(self) -> None:
        client, self.client = self.client, None
        self.subscription = None
        if client is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(3):
                    await client.disconnect()


def _normal_node_id(node_id: str) -> str:
    """Node ids as asyncua prints them, so notifications find their tag whatever spelling the config used."""
    return ua.NodeId.from_string(node_id).to_string()


def cpu_seconds() -> float:
    return time.process_time()
