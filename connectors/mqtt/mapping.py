"""MQTT payload → readings: which tags a topic feeds, where value/timestamp/lot/id sit in the JSON, the dedupe key.

Pure (no network): the adapter calls `decode_message` for every message it receives.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
from paho.mqtt.client import topic_matches_sub

from connectors.files.fields import MISSING, FieldError, get_path, parse_number, parse_text, parse_timestamp

from .crypto import DecryptionError, decrypt

MAX_PAYLOAD_BYTES = 256 * 1024


class PayloadError(ValueError):
    """The whole message is unusable (not JSON, no timestamp, ...): rejected with this reason, acknowledged."""


@dataclass(frozen=True, slots=True)
class PayloadSettings:
    ts_path: str | None = "ts"          # None: the message carries no time; the arrival time is used
    lot_path: str | None = None
    id_path: str | None = None          # a unique message id, the best dedupe key
    tz: ZoneInfo | None = None          # for local timestamps without an offset
    ts_format: str | None = None
    sm4_key: bytes | None = None        # SM4-GCM payload decryption (connectors/mqtt/crypto.py)
    encryption_base64: bool = False
    encryption_bind_topic: bool = True
    records_path: str | None = None     # a batch: the array of records in the payload ("$" = the payload is one)


@dataclass(frozen=True, slots=True)
class TopicTag:
    topic_filter: str
    value_path: str
    key: object                          # whatever the adapter uses to find its TagSpec back


@dataclass(frozen=True, slots=True)
class DecodedValue:
    key: object
    value: float | None
    raw: object
    problem: str | None                  # why this one value is unusable (the others in the message still count)


@dataclass(frozen=True, slots=True)
class DecodedMessage:
    """One record: the whole payload, or one element of a batch payload (`records_path`)."""
    dedupe_key: str
    source_ts: datetime | None
    lot: str | None
    values: list[DecodedValue]
    problem: str | None = None           # this record is unusable (the batch's other records still count)


class TopicRouter:
    """Which tags a topic feeds; answers cached per concrete topic (a plant has few distinct topics)."""

    def __init__(self, tags: list[TopicTag]):
        self.tags = tags
        self._cache: dict[str, list[TopicTag]] = {}

    @property
    def filters(self) -> list[str]:
        return sorted({tag.topic_filter for tag in self.tags})

    def tags_for(self, topic: str) -> list[TopicTag]:
        found = self._cache.get(topic)
        if found is None:
            found = [tag for tag in self.tags if topic_matches_sub(tag.topic_filter, topic)]
            if len(self._cache) < 10_000:
                self._cache[topic] = found
        return found


def decode_records(topic: str, payload: bytes, tags: list[TopicTag], settings: PayloadSettings) -> list[DecodedMessage]:
    """The payload's records: one, or every element of the array at `records_path` (batching publishers). Raises
    PayloadError when the payload as a whole is unusable; a bad record in a batch comes back with its `problem`."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if settings.sm4_key is not None:
        try:
            payload = decrypt(settings.sm4_key, payload, topic=topic if settings.encryption_bind_topic else None,
                              base64_text=settings.encryption_base64)
        except DecryptionError as exc:
            raise PayloadError(str(exc)) from None
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if not settings.records_path:
        return [_decode_record(topic, payload, document, tags, settings, None)]
    records = get_path(document, settings.records_path)
    if not isinstance(records, list):
        raise PayloadError(f"no array of records at '{settings.records_path}'")
    decoded = []
    for index, record in enumerate(records):
        try:
            if not isinstance(record, dict):
                raise PayloadError("not a JSON object")
            decoded.append(_decode_record(topic, payload, record, tags, settings, index))
        except PayloadError as exc:
            decoded.append(DecodedMessage("", None, None, [], problem=f"record {index}: {exc}"))
    return decoded


def decode_message(topic: str, payload: bytes, tags: list[TopicTag], settings: PayloadSettings) -> DecodedMessage:
    """A payload that is one record."""
    return decode_records(topic, payload, tags, settings)[0]


def _decode_record(topic: str, payload: bytes, document, tags: list[TopicTag], settings: PayloadSettings,
                   index: int | None) -> DecodedMessage:
    source_ts = None
    if settings.ts_path:
        raw_ts = get_path(document, settings.ts_path)
        if raw_ts is MISSING:
            raise PayloadError(f"no timestamp at '{settings.ts_path}'")
        try:
            source_ts = parse_timestamp(raw_ts, tz=settings.tz, fmt=settings.ts_format)
        except FieldError as exc:
            raise PayloadError(f"timestamp at '{settings.ts_path}': {exc}") from None
    lot = None
    if settings.lot_path:
        try:
            lot = parse_text(get_path(document, settings.lot_path))
        except FieldError as exc:
            raise PayloadError(f"lot at '{settings.lot_path}': {exc}") from None
    values = []
    for tag in tags:
        raw = get_path(document, tag.value_path)
        if raw is MISSING:
            values.append(DecodedValue(tag.key, None, None, f"no value at '{tag.value_path}'"))
            continue
        try:
            values.append(DecodedValue(tag.key, parse_number(raw), raw, None))
        except FieldError as exc:
            values.append(DecodedValue(tag.key, None, raw, f"value at '{tag.value_path}': {exc}"))
    key = dedupe_key(topic, payload, document, settings, source_ts)
    if index is not None and "|sha|" in key:
        key = f"{key}|{index}"          # records of one batch without id or time: told apart by position
    return DecodedMessage(dedupe_key=key, source_ts=source_ts, lot=lot, values=values)


def dedupe_key(topic: str, payload: bytes, document, settings: PayloadSettings, source_ts: datetime | None) -> str:
    """A redelivered message (MQTT `dup`, or a publisher's retry) must map to the same key as the original:
    the payload's id if it has one, else (topic, timestamp), else (topic, payload digest)."""
    if settings.id_path:
        message_id = get_path(document, settings.id_path)
        if message_id is not MISSING and message_id is not None:
            return f"{topic}|id|{message_id}"
    if source_ts is not None:
        return f"{topic}|ts|{source_ts.isoformat()}"
    return f"{topic}|sha|{hashlib.blake2b(payload, digest_size=16).hexdigest()}"
