"""The MQTT adapter hosted by the connector runner (paho-mqtt 2.x, VERSION2 callbacks, MQTT v5).

- QoS 1 subscriptions in a persistent session (clean_start False + session expiry, stable client id): messages
  published while the runner is away or the broker restarts (with persistence) are delivered when it is back.
- Manual acknowledgement: a PUBACK is sent only after the sink (the durable outbox) accepted the readings. A crash
  between the two makes the broker redeliver (dup=1); the redelivery is recognised by its dedupe key and dropped.
- A bad payload is rejected with a reason, counted, logged and acknowledged (it would never get better); the session
  goes on.

Threads: paho's network loop runs in its own thread and only enqueues messages; decoding, the outbox write and the
acks happen on the runner's event loop, in arrival order (MQTT wants PUBACKs in the order PUBLISHes arrived).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
import time
from collections import OrderedDict, deque
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from connectors.adapters import Adapter
from connectors.config import ConfigError
from connectors.files.fields import zone
from connectors.translatable import gettext_noop

from .config import validate_config, validate_tag
from .crypto import KeyFormatError, parse_key
from .mapping import PayloadError, PayloadSettings, TopicRouter, TopicTag, decode_records
from .sparkplug import NAMESPACE, SparkplugError, SparkplugSession, rebirth_command

logger = logging.getLogger(__name__)

SEEN_KEYS_PER_CONNECTOR = 200_000
# Keys of messages already written to the outbox, per connector, kept across adapter restarts inside one runner
# process (a restart is exactly when the broker redelivers). Across runner restarts the measurement table's
# uniqueness (characteristic, ts, source) is the backstop.
_SEEN: dict[str, OrderedDict] = {}


def sparkplug_filters(tags) -> list[str]:
    """One subscription per edge node named by the tags ('<group>/<edge>/<device>:<metric>')."""
    nodes = set()
    for tag in tags:
        group, edge, _device = tag.source_ref.split(":", 1)[0].split("/")
        nodes.add((group, edge))
    # Message types spelled out rather than '+': a host must not hear the commands (NCMD/DCMD) it sends itself.
    return sorted(
        [f"{NAMESPACE}/{group}/{kind}/{edge}" for group, edge in nodes for kind in ("NBIRTH", "NDATA", "NDEATH")]
        + [f"{NAMESPACE}/{group}/{kind}/{edge}/+" for group, edge in nodes for kind in ("DBIRTH", "DDATA", "DDEATH")]
    )


def seen_keys(connector_key: str) -> OrderedDict:
    return _SEEN.setdefault(connector_key, OrderedDict())


class MqttAdapter(Adapter):
    kind = "mqtt"

    def __init__(self, spec, sink, health=None):
        super().__init__(spec, sink, health)
        self.config = validate_config(spec.config)
        self.settings = PayloadSettings(
            ts_path=self.config["ts_path"], lot_path=self.config["lot_path"], id_path=self.config["id_path"],
            tz=zone(self.config["timezone"]), ts_format=self.config["ts_format"],
            sm4_key=self._sm4_key(), encryption_base64=self.config["encryption_encoding"] == "base64",
            encryption_bind_topic=self.config["encryption_bind_topic"], records_path=self.config["records_path"],
        )
        self.tags = {index: tag for index, tag in enumerate(spec.tags)}
        self.sparkplug = SparkplugSession() if self.config["payload_format"] == "sparkplug_b" else None
        self._rebirth_requested: dict[tuple[str, str], float] = {}
        if self.sparkplug is not None:
            self.tags_by_ref = {tag.source_ref: tag for tag in spec.tags}
            self.router = TopicRouter([])
            self.filters = sparkplug_filters(spec.tags)
        else:
            self.router = TopicRouter([
                TopicTag(tag.source_ref, validate_tag(tag.source_ref, tag.params)["value_path"], index)
                for index, tag in self.tags.items()
            ])
            self.filters = self.router.filters
        self.seen = seen_keys(spec.key)
        self._in_flight: set[str] = set()       # decoded, not yet durable
        self.received = self.stored = self.duplicates = self.rejected = self.rebirths_requested = 0
        self.rejections: deque[tuple[datetime, str, str]] = deque(maxlen=100)   # (when, topic, reason)
        self.client: mqtt.Client | None = None
        self.session_present: bool | None = None
        self._generation = 0
        # paho's thread appends here (deque.append is thread-safe) and wakes the event loop once per burst, not once
        # per message: at thousands of messages a second the per-message wake-up was the bottleneck.
        self._inbox: deque = deque()
        self._wakeup: asyncio.Event | None = None
        self._wakeup_pending = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def _sm4_key(self) -> bytes | None:
        if self.config["payload_encryption"] != "sm4-gcm":
            return None
        key = self.spec.secrets.get("sm4_key")
        if not key:
            raise ConfigError(gettext_noop("secrets: payload_encryption sm4-gcm needs the key in secrets['sm4_key']"))
        try:
            return parse_key(key)
        except KeyFormatError as exc:
            raise ConfigError(exc.message, **exc.params) from None

    # --- paho thread --------------------------------------------------------------------------------------------
    def _on_connect(self, client, _userdata, flags, reason_code, _properties):
        if reason_code.is_failure:
            self.health.down(f"broker refused the connection: {reason_code}")
            return
        self._generation += 1
        self.session_present = bool(flags.session_present)
        if self._generation > 1:
            self.health.reconnected()
        client.subscribe([(topic, self.config["qos"]) for topic in self.filters])
        self.health.connected(f"{self.config['host']}:{self.config['port']} (session present: {self.session_present})")

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties):
        self.health.down(f"disconnected: {reason_code}")

    def _on_connect_fail(self, _client, _userdata):
        self.health.down(f"cannot reach the broker at {self.config['host']}:{self.config['port']}")

    def _on_subscribe(self, _client, _userdata, _mid, reason_codes, _properties):
        """A refused or downgraded subscription must not go unnoticed: the connector would look connected and receive
        nothing (refused) or lose messages without redelivery (granted QoS 0)."""
        refused = [
            f"{topic}: {code}" for topic, code in zip(self.filters, reason_codes, strict=False)
            if code.is_failure or code.value < self.config["qos"]
        ]
        if refused:
            self.health.degraded(f"subscription refused or downgraded — {'; '.join(refused)}")
            self.health.error(f"subscription refused or downgraded — {'; '.join(refused)}")
            logger.error("%s: broker refused subscription(s): %s", self.spec.key, "; ".join(refused))

    def _on_message(self, _client, _userdata, message):
        self._inbox.append((self._generation, message))
        if not self._wakeup_pending:
            self._wakeup_pending = True
            self._loop.call_soon_threadsafe(self._wakeup.set)

    # --- event loop ---------------------------------------------------------------------------------------------
    def _client(self) -> mqtt.Client:
        client_id = self.config["client_id"] or f"qualitypulse-{self.spec.site}-{self.spec.name}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=True)
        if self.config["username"]:
            client.username_pw_set(self.config["username"], self.spec.secrets.get("password"))
        if self.config["tls"]:
            client.tls_set(ca_certs=self.config["ca_file"], cert_reqs=ssl.CERT_REQUIRED)
        client.on_connect, client.on_disconnect, client.on_message = (
            self._on_connect, self._on_disconnect, self._on_message)
        client.on_connect_fail, client.on_subscribe = self._on_connect_fail, self._on_subscribe
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        return client

    def _reject(self, topic: str, reason: str) -> None:
        self.rejected += 1
        self.rejections.append((datetime.now(UTC), topic, reason))
        self.health.error(f"{topic}: {reason}")
        # The status page shows state and detail: the count of rejected payloads belongs there, not only in a log.
        base = self.health.detail.split(" · rejected ", 1)[0]
        self.health.detail = f"{base} · rejected {self.rejected} payload(s), last: {reason}"[:500]
        logger.warning("%s: rejected message on %s: %s", self.spec.key, topic, reason)

    def _remember(self, key: str) -> None:
        self.seen[key] = None
        if len(self.seen) > SEEN_KEYS_PER_CONNECTOR:
            self.seen.popitem(last=False)

    def _decode(self, batch: list) -> tuple[list, list[str], list]:
        """Decode a batch of (generation, message) → (envelopes, dedupe keys, messages to acknowledge)."""
        if self.sparkplug is not None:
            return self._decode_sparkplug(batch)
        envelopes, keys, acks = [], [], []
        received_ts = datetime.now(UTC)
        for generation, message in batch:
            self.received += 1
            acks.append((generation, message))
            try:
                records = decode_records(message.topic, message.payload, self.router.tags_for(message.topic),
                                         self.settings)
            except PayloadError as exc:
                self._reject(message.topic, str(exc))
                continue
            extra = {"topic": message.topic, "dup": True} if message.dup else {"topic": message.topic}
            for decoded in records:
                if decoded.problem:
                    self._reject(message.topic, decoded.problem)
                    continue
                if decoded.dedupe_key in self.seen or decoded.dedupe_key in self._in_flight:
                    self.duplicates += 1
                    continue
                self._in_flight.add(decoded.dedupe_key)
                keys.append(decoded.dedupe_key)
                if not decoded.values:
                    self._reject(message.topic, "no tag is mapped to this topic")
                for value in decoded.values:
                    if value.problem:
                        self._reject(message.topic, value.problem)
                        continue
                    envelopes.append(self.envelope(
                        self.tags[value.key], value.value, quality="good", raw_value=value.raw,
                        source_ts=decoded.source_ts, received_ts=received_ts, lot=decoded.lot, extra=dict(extra),
                    ))
        return envelopes, keys, acks

    def _decode_sparkplug(self, batch: list) -> tuple[list, list[str], list]:
        envelopes, keys, acks = [], [], []
        received_ts = datetime.now(UTC)
        for generation, message in batch:
            self.received += 1
            acks.append((generation, message))
            key = f"{message.topic}|sha|{hashlib.blake2b(message.payload, digest_size=16).hexdigest()}"
            if key in self.seen or key in self._in_flight:
                self.duplicates += 1     # a redelivery: must not reach the session state (it would look like a gap)
                continue
            self._in_flight.add(key)
            keys.append(key)
            try:
                outcome = self.sparkplug.handle(message.topic, message.payload, received_ts)
            except SparkplugError as exc:
                self._reject(message.topic, str(exc))
                continue
            if outcome.problem:
                self._reject(message.topic, outcome.problem)
            if outcome.rebirth:
                self._request_rebirth(*outcome.rebirth)
            for value in outcome.values:
                tag = self.tags_by_ref.get(value.ref)
                if tag is None:
                    continue             # a metric no tag maps: not ours to store
                envelopes.append(self.envelope(
                    tag, value.value, quality=value.quality, raw_value=value.value, source_ts=value.source_ts,
                    received_ts=received_ts, backfill=value.backfill,
                    extra={"topic": message.topic, **({"reason": value.reason} if value.reason else {})},
                ))
        return envelopes, keys, acks

    def _request_rebirth(self, group: str, edge: str) -> None:
        """Ask an edge node to publish its births again (NCMD Node Control/Rebirth), at most every 5 s per node."""
        now = time.monotonic()
        if now - self._rebirth_requested.get((group, edge), -1e9) < 5.0:
            return
        self._rebirth_requested[(group, edge)] = now
        self.rebirths_requested += 1
        self.client.publish(f"spBv1.0/{group}/NCMD/{edge}", rebirth_command(int(time.time() * 1000)), qos=0)
        logger.warning("%s: asked Sparkplug edge node %s/%s to rebirth", self.spec.key, group, edge)

    async def _store_then_ack(self, envelopes: list, keys: list[str], acks: list) -> None:
        try:
            await self.emit(envelopes)      # durable when it returns; raises → nothing is acked, broker redelivers
        except BaseException:
            self._in_flight.difference_update(keys)
            raise
        self.stored += len(envelopes)
        for key in keys:
            self._in_flight.discard(key)
            self._remember(key)
        for generation, message in acks:
            # A message from before a reconnect is redelivered by the broker: ack only the current connection's.
            if generation == self._generation and message.qos > 0:
                self.client.ack(message.mid, message.qos)

    async def handle(self, batch: list) -> None:
        """Decode a batch, write its readings, then acknowledge every message of it in arrival order."""
        await self._store_then_ack(*self._decode(batch))

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self.client = self._client()
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = self.config["session_expiry_s"]
        properties.ReceiveMaximum = min(65535, max(20, self.config["max_batch"]))
        self.health.set_state("connecting")
        self.client.connect_async(self.config["host"], self.config["port"], keepalive=self.config["keepalive_s"],
                                  clean_start=False, properties=properties)
        self.client.loop_start()
        try:
            while True:
                if not self._inbox:
                    await self._wakeup.wait()
                    self._wakeup.clear()
                    self._wakeup_pending = False
                batch = []
                while self._inbox and len(batch) < self.config["max_batch"]:
                    batch.append(self._inbox.popleft())
                if batch:
                    await self.handle(batch)
        finally:
            self.client.disconnect()
            await asyncio.to_thread(self.client.loop_stop)

