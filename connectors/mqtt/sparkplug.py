"""Sparkplug B (Eclipse Sparkplug 3.0) for the MQTT connector: payload codec and edge-node session state. Pure.

Topics: spBv1.0/<group>/<NBIRTH|NDATA|NDEATH|DBIRTH|DDATA|DDEATH|NCMD|DCMD>/<edge node>[/<device>].
What the state machine guarantees:
- metric aliases are learnt from the births; DATA using an alias never seen → rebirth request (never a guess);
- `seq` (0–255, per edge node) must follow on without a gap; a gap → rebirth request (data may have been lost);
- NDEATH/DDEATH → one bad-quality "no_communication" reading for every metric of the node/device (the last value
  is never carried on as if the machine were alive);
- `is_historical` metrics are backfill; `is_null` metrics are bad quality without a value.
The payload is decoded with a small protobuf wire-format reader for the fields Sparkplug B defines (no generated
code, no protobuf dependency); datasets, templates and properties are skipped.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.modbus.codec import shortest_float32

NAMESPACE = "spBv1.0"
REBIRTH_METRIC = "Node Control/Rebirth"

# Sparkplug B data types (tahu sparkplug_b.proto).
INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME, TEXT = range(1, 15)
NUMERIC_TYPES = {INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64, FLOAT, DOUBLE, BOOLEAN, DATETIME}


class SparkplugError(ValueError):
    """Not a Sparkplug B message we can use (bad topic, malformed payload)."""


# --- protobuf wire format ----------------------------------------------------------------------------------------
def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise SparkplugError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise SparkplugError("varint too long")


def _fields(data: bytes):
    """Yield (field number, wire type, value) of one message; LEN values as bytes."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise SparkplugError(f"unsupported wire type {wire}")
        if pos > len(data):
            raise SparkplugError("truncated field")
        yield number, wire, value


def _key(number: int, wire: int) -> bytes:
    return _encode_varint(number << 3 | wire)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


@dataclass(frozen=True, slots=True)
class Metric:
    name: str | None = None
    alias: int | None = None
    timestamp: int | None = None          # ms since the epoch
    datatype: int | None = None
    is_historical: bool = False
    is_null: bool = False
    value: float | str | bytes | None = None


@dataclass(frozen=True, slots=True)
class Payload:
    timestamp: int | None = None
    seq: int | None = None
    metrics: tuple[Metric, ...] = ()


def _metric(data: bytes) -> Metric:
    values: dict = {}
    raw_int = raw_long = None
    for number, _wire, value in _fields(data):
        if number == 1:
            values["name"] = value.decode("utf-8", "replace")
        elif number == 2:
            values["alias"] = value
        elif number == 3:
            values["timestamp"] = value
        elif number == 4:
            values["datatype"] = value
        elif number == 5:
            values["is_historical"] = bool(value)
        elif number == 7:
            values["is_null"] = bool(value)
        elif number == 10:
            raw_int = value
        elif number == 11:
            raw_long = value
        elif number == 12:   # float32: the shortest decimal of the same float32 (231.5, not 231.49999…)
            values["value"] = shortest_float32(struct.unpack("<f", value)[0], bytes(value[::-1]))
        elif number == 13:
            values["value"] = struct.unpack("<d", value)[0]
        elif number == 14:
            values["value"] = float(bool(value))
        elif number == 15:
            values["value"] = value.decode("utf-8", "replace")
        elif number == 16:
            values["value"] = bytes(value)
    datatype = values.get("datatype")
    if raw_int is not None:
        bits = {INT8: 8, INT16: 16, INT32: 32}.get(datatype)
        values["value"] = float(_signed(raw_int, bits) if bits else raw_int & 0xFFFFFFFF)
    if raw_long is not None:
        values["value"] = float(_signed(raw_long, 64) if datatype == INT64 else raw_long)
    return Metric(**values)


def decode_payload(data: bytes) -> Payload:
    timestamp = seq = None
    metrics = []
    try:
        for number, _wire, value in _fields(data):
            if number == 1:
                timestamp = value
            elif number == 2:
                metrics.append(_metric(value))
            elif number == 3:
                seq = value
    except (struct.error, IndexError) as exc:
        raise SparkplugError(f"malformed Sparkplug B payload: {exc}") from None
    return Payload(timestamp=timestamp, seq=seq, metrics=tuple(metrics))


def encode_metric(metric: Metric) -> bytes:
    out = bytearray()
    if metric.name is not None:
        name = metric.name.encode()
        out += _key(1, 2) + _encode_varint(len(name)) + name
    if metric.alias is not None:
        out += _key(2, 0) + _encode_varint(metric.alias)
    if metric.timestamp is not None:
        out += _key(3, 0) + _encode_varint(metric.timestamp)
    datatype = metric.datatype or DOUBLE
    out += _key(4, 0) + _encode_varint(datatype)
    if metric.is_historical:
        out += _key(5, 0) + b"\x01"
    if metric.is_null or metric.value is None:
        return bytes(out + _key(7, 0) + b"\x01")
    if datatype in (INT8, INT16, INT32, UINT8, UINT16, UINT32):
        out += _key(10, 0) + _encode_varint(int(metric.value) & 0xFFFFFFFF)
    elif datatype in (INT64, UINT64, DATETIME):
        out += _key(11, 0) + _encode_varint(int(metric.value) & 0xFFFFFFFFFFFFFFFF)
    elif datatype == FLOAT:
        out += _key(12, 5) + struct.pack("<f", metric.value)
    elif datatype == BOOLEAN:
        out += _key(14, 0) + (b"\x01" if metric.value else b"\x00")
    elif datatype in (STRING, TEXT):
        text = str(metric.value).encode()
        out += _key(15, 2) + _encode_varint(len(text)) + text
    else:
        out += _key(13, 1) + struct.pack("<d", metric.value)
    return bytes(out)


def encode_payload(payload: Payload) -> bytes:
    """For edge-node simulators, rebirth commands and tests."""
    out = bytearray()
    if payload.timestamp is not None:
        out += _key(1, 0) + _encode_varint(payload.timestamp)
    for metric in payload.metrics:
        body = encode_metric(metric)
        out += _key(2, 2) + _encode_varint(len(body)) + body
    if payload.seq is not None:
        out += _key(3, 0) + _encode_varint(payload.seq)
    return bytes(out)


def rebirth_command(now_ms: int) -> bytes:
    return encode_payload(Payload(timestamp=now_ms, metrics=(
        Metric(name=REBIRTH_METRIC, timestamp=now_ms, datatype=BOOLEAN, value=1.0),)))


# --- topics and session state ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Topic:
    group: str
    kind: str               # NBIRTH, NDATA, NDEATH, DBIRTH, DDATA, DDEATH, NCMD, DCMD, STATE
    edge: str
    device: str | None

    @property
    def node_key(self) -> tuple[str, str]:
        return self.group, self.edge


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise SparkplugError(f"not a Sparkplug B topic: {topic}")
    return Topic(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else None)


def metric_ref(group: str, edge: str, device: str | None, name: str) -> str:
    """The tag `source_ref` of a Sparkplug metric: '<group>/<edge node>/<device>:<metric name>' ('-' = node)."""
    return f"{group}/{edge}/{device or '-'}:{name}"


@dataclass(frozen=True, slots=True)
class SparkplugValue:
    ref: str
    value: float | None
    quality: str                # good / bad
    source_ts: datetime | None
    backfill: bool
    reason: str | None = None


@dataclass
class _Node:
    expected_seq: int | None = None
    online: bool = False
    aliases: dict[tuple[str | None, int], str] = field(default_factory=dict)   # (device, alias) → metric name
    metrics: dict[str | None, set[str]] = field(default_factory=dict)          # device → metric names born


@dataclass
class Outcome:
    values: list[SparkplugValue] = field(default_factory=list)
    rebirth: tuple[str, str] | None = None        # (group, edge) whose node must be asked to rebirth
    problem: str | None = None


def _ts(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


class SparkplugSession:
    """Everything the host application remembers about the edge nodes it hears."""

    def __init__(self):
        self.nodes: dict[tuple[str, str], _Node] = {}

    def handle(self, topic_text: str, data: bytes, now: datetime) -> Outcome:
        topic = parse_topic(topic_text)
        if topic.kind in ("NCMD", "DCMD", "STATE"):
            return Outcome()
        node = self.nodes.setdefault(topic.node_key, _Node())
        payload = decode_payload(data)
        if topic.kind == "NDEATH":
            node.online, node.expected_seq = False, None
            return Outcome(values=self._dead(topic, node, None, payload, now))
        if topic.kind not in ("NBIRTH", "DBIRTH", "NDATA", "DDATA", "DDEATH"):
            return Outcome(problem=f"unknown Sparkplug message type {topic.kind}")
        if topic.kind == "NBIRTH":
            node.online, node.aliases, node.metrics = True, {}, {}
        elif not node.online or node.expected_seq is None:
            return Outcome(rebirth=topic.node_key, problem=f"{topic.kind} from {topic.edge} before its NBIRTH")
        elif payload.seq != node.expected_seq:
            expected = node.expected_seq
            node.expected_seq = None            # nothing is trusted until the rebirth
            return Outcome(rebirth=topic.node_key,
                           problem=f"seq gap from {topic.edge}: expected {expected}, got {payload.seq}")
        node.expected_seq = ((payload.seq or 0) + 1) % 256
        if topic.kind == "DDEATH":
            return Outcome(values=self._dead(topic, node, topic.device, payload, now))
        if topic.kind in ("NBIRTH", "DBIRTH"):
            device = topic.device if topic.kind == "DBIRTH" else None
            names = node.metrics.setdefault(device, set())
            for metric in payload.metrics:
                if metric.name:
                    names.add(metric.name)
                    if metric.alias is not None:
                        node.aliases[(device, metric.alias)] = metric.name
        return self._values(topic, node, payload)

    def _values(self, topic: Topic, node: _Node, payload: Payload) -> Outcome:
        outcome = Outcome()
        device = topic.device
        for metric in payload.metrics:
            name = metric.name or node.aliases.get((device, metric.alias))
            if name is None:
                outcome.rebirth = topic.node_key
                outcome.problem = f"unknown alias {metric.alias} from {topic.edge}/{device or '-'}"
                continue
            if name == REBIRTH_METRIC or name.startswith(("Node Control/", "bdSeq")):
                continue
            ref = metric_ref(topic.group, topic.edge, device, name)
            ts = _ts(metric.timestamp or payload.timestamp)
            if metric.is_null:
                outcome.values.append(SparkplugValue(ref, None, "bad", ts, metric.is_historical, "null value"))
            elif metric.datatype in NUMERIC_TYPES or isinstance(metric.value, float):
                outcome.values.append(SparkplugValue(ref, metric.value, "good", ts, metric.is_historical))
        return outcome

    def _dead(self, topic: Topic, node: _Node, device: str | None, payload: Payload, now: datetime):
        devices = [device] if device is not None else list(node.metrics)
        ts = _ts(payload.timestamp) or now
        return [
            SparkplugValue(metric_ref(topic.group, topic.edge, dev, name), None, "bad", ts, False, "no_communication")
            for dev in devices for name in sorted(node.metrics.get(dev, ()))
            if not name.startswith(("Node Control/", "bdSeq"))
        ]
