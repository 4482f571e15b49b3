"""The reading envelope: one normalised value from one source, as every protocol adapter produces it.

Adapters (OPC UA, Modbus, MQTT, ...) build envelopes; the runner writes them to the durable local outbox before
acknowledging the source, then flushes batches to the ingest task. No Django import: adapters stay testable alone.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

QualityName = Literal["good", "uncertain", "bad"]


@dataclass(frozen=True, slots=True)
class Envelope:
    connector: str                 # connector key "<site code>/<connector name>" (ConnectorSpec.key)
    source_ref: str                # node id / register spec / topic — where the value came from
    characteristic: str            # data-dictionary code it maps to
    value: float | None            # normalised (scaled) value; None only with quality "bad"
    raw_value: object              # what the source sent, for diagnosis (JSON-serialisable)
    quality: QualityName
    source_ts: datetime | None     # when the machine measured it (OPC UA SourceTimestamp, payload ts, ...)
    server_ts: datetime | None     # when the server/broker stamped it (OPC UA ServerTimestamp), if any
    received_ts: datetime          # when the runner received it
    seq: int = 0                   # per-connector sequence number, assigned by the outbox
    backfill: bool = False         # historical data delivered late (store, but do not alarm as live)
    lot: str | None = None
    equipment: str | None = None
    extra: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        # Built by hand: dataclasses.asdict costs ~25x more and this runs once per reading (the hot path).
        # Same output as asdict + isoformat times, including copies of raw_value/extra (the caller may change them).
        source_ts, server_ts, received_ts = self.source_ts, self.server_ts, self.received_ts
        return {
            "connector": self.connector,
            "source_ref": self.source_ref,
            "characteristic": self.characteristic,
            "value": self.value,
            "raw_value": _copied(self.raw_value),
            "quality": self.quality,
            "source_ts": None if source_ts is None else source_ts.isoformat(),
            "server_ts": None if server_ts is None else server_ts.isoformat(),
            "received_ts": None if received_ts is None else received_ts.isoformat(),
            "seq": self.seq,
            "backfill": self.backfill,
            "lot": self.lot,
            "equipment": self.equipment,
            "extra": _copied(self.extra),
        }

    def to_payload(self) -> dict:
        """`to_json()`'s content for immediate serialisation with orjson (the outbox's hot path): raw_value and extra
        are not copied, and UTC times stay datetime objects — orjson writes those exactly as isoformat() does, in C.
        Other offsets are formatted here (orjson would drop an offset's seconds)."""
        return {
            "connector": self.connector,
            "source_ref": self.source_ref,
            "characteristic": self.characteristic,
            "value": self.value,
            "raw_value": self.raw_value,
            "quality": self.quality,
            "source_ts": _utc_or_text(self.source_ts),
            "server_ts": _utc_or_text(self.server_ts),
            "received_ts": _utc_or_text(self.received_ts),
            "seq": self.seq,
            "backfill": self.backfill,
            "lot": self.lot,
            "equipment": self.equipment,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict) -> Envelope:
        values = dict(data)
        for key in ("source_ts", "server_ts", "received_ts"):
            if values.get(key) is not None:
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)

    @property
    def ts(self) -> datetime:
        """The time the value is stored under: the machine's timestamp, else the server's, else arrival."""
        return self.source_ts or self.server_ts or self.received_ts


_ATOMIC = frozenset({int, float, str, bool, type(None)})


def _utc_or_text(ts: datetime | None):
    return ts if ts is None or ts.tzinfo is UTC else ts.isoformat()


def _copied(value):
    """A copy as dataclasses.asdict makes it: plain dicts, lists and tuples rebuilt, anything else deep-copied."""
    kind = type(value)
    if kind in _ATOMIC:
        return value
    if kind is dict:
        return {_copied(key): _copied(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return kind(_copied(item) for item in value)
    return copy.deepcopy(value)


class ReadingSink(Protocol):
    """Where adapters hand readings. `put` returns only once the envelopes are durable (outbox committed):
    an adapter acknowledges its source (MQTT PUBACK, table ack column, ...) only after `put` returned."""

    async def put(self, envelopes: list[Envelope]) -> None: ...
