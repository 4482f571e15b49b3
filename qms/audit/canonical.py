"""The hash recipe of the audit chain. Pure Python (no Django), so an external verifier can reuse it verbatim.

    payload = canonical JSON of {seq, ts, actor, actor_user_id, actor_token_id, action, model, object_pk,
                                 object_repr, site_id, changes, reason}
    hash    = sha256_hex(prev_hash + payload)          (UTF-8; the first entry's prev_hash is 64 zeros)

Canonical JSON: keys sorted, no whitespace, non-ASCII kept as UTF-8. `ts` is UTC with microseconds
("2026-11-24T08:00:00.123456Z"). `changes` is normalised by `jsonable()` *before* it is stored, so what the database
returns is exactly what was hashed: Decimals, UUIDs, dates and datetimes become strings, -0.0 becomes 0.0, NaN and
infinities become strings, integral floats ≥ 1e16 become integers (jsonb prints them without exponent), NUL
characters (which jsonb refuses) become U+FFFD and lone surrogates "?".
"""
from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Iterator, Mapping

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "ts", "actor", "actor_user_id", "actor_token_id", "action", "model", "object_pk", "object_repr",
    "site_id", "changes", "reason",
)


def _text(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: neither hashable as UTF-8 nor storable in PostgreSQL
        value = value.encode("utf-8", errors="replace").decode("utf-8")
    return value.replace("\x00", "\ufffd")


def format_ts(value: dt.datetime) -> str:
    """UTC, always with microseconds and a four-digit year (isoformat, unlike strftime, is the same everywhere)."""
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def jsonable(value):
    """Turn `value` into plain JSON types whose encoding survives a round trip through jsonb/JSON text unchanged."""
    kind = type(value)  # exact str/dict/list first: the same results as below, without a dozen isinstance checks
    if kind is str:
        return _text(value)
    if kind is dict:
        return {_text(str(key)): jsonable(item) for key, item in value.items()}
    if kind is list:
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value == 0:
            return 0.0  # -0.0 has no jsonb representation
        if abs(value) >= 1e16 and value.is_integer():
            return int(value)  # repr "1e+16" comes back from jsonb as the integer 10000000000000000
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dt.datetime):
        return format_ts(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value.total_seconds())
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {_text(str(key)): jsonable(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(item) for item in value), key=canonical_json)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return _text(str(value))


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_payload(fields: Mapping) -> str:
    """The canonical text of one entry, from its stored values (`ts` a datetime or the already formatted string)."""
    ts = fields["ts"]
    data = {name: fields[name] for name in HASHED_FIELDS}
    data["ts"] = ts if isinstance(ts, str) else format_ts(ts)
    data["object_pk"] = str(fields["object_pk"])
    data["changes"] = jsonable(fields["changes"])
    return canonical_json(data)


def entry_hash(prev_hash: str, payload: str) -> str:
    return hashlib.sha256((prev_hash + payload).encode("utf-8")).hexdigest()


def verify_exported_rows(rows: Iterable[Mapping]) -> Iterator[tuple[int, str]]:
    """Re-verify an export (dicts with seq, prev_hash, hash, payload): yield (seq, problem) for each problem.

    Every row's hash is recomputed from its own payload; links are checked between consecutive sequence numbers
    (a site-filtered export has gaps, which are reported as such and are not tampering by themselves).
    """
    previous_seq, previous_hash = None, None
    for row in rows:
        seq = int(row["seq"])
        payload = row["payload"]
        if entry_hash(row["prev_hash"], payload) != row["hash"]:
            yield seq, "content does not match its hash"
        if json.loads(payload).get("seq") != seq:
            yield seq, "payload names another sequence number"
        if previous_seq is not None:
            if seq <= previous_seq:
                yield seq, f"out of order after #{previous_seq}"
            elif seq == previous_seq + 1 and row["prev_hash"] != previous_hash:
                yield seq, "link to the previous entry is broken"
            elif seq == previous_seq + 2:
                yield seq, f"entry #{previous_seq + 1} is not in this export"
            elif seq > previous_seq + 2:
                yield seq, f"entries #{previous_seq + 1}–#{seq - 1} are not in this export"
        elif seq == 1 and row["prev_hash"] != GENESIS_HASH:
            yield seq, "the first entry does not start from the genesis hash"
        previous_seq, previous_hash = seq, row["hash"]
