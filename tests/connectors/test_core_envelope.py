"""Envelope.to_json, built by hand for speed, gives exactly what dataclasses.asdict gave (times as ISO 8601), and
from_json reads it back."""
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.envelope import Envelope

T0 = datetime(2026, 11, 28, 8, 0, 0, 123456, tzinfo=UTC)
CST = timezone(timedelta(hours=8))


def reference_json(envelope: Envelope) -> dict:
    """The former implementation."""
    data = asdict(envelope)
    for key in ("source_ts", "server_ts", "received_ts"):
        if data[key] is not None:
            data[key] = data[key].isoformat()
    return data


def envelope(**changes) -> Envelope:
    base = {"connector": "S1/opc", "source_ref": "ns=2;s=IMM01/Zone2", "characteristic": "IMM01.BARREL_Z2.TEMP",
            "value": 231.5, "raw_value": 231.5, "quality": "good", "source_ts": T0, "server_ts": T0,
            "received_ts": T0 + timedelta(milliseconds=40)}
    return Envelope(**{**base, **changes})


EXAMPLES = [
    envelope(),
    envelope(source_ts=None, server_ts=None),
    envelope(value=None, raw_value=None, quality="bad", source_ts=None, extra={"reason": "no_communication"}),
    envelope(raw_value=[16384, 17254], extra={"implausible": True, "reason": "implausible: 1e-40",
                                              "status": {"name": "Good", "code": 0}, "shot": [1, 2, (3, 4)]}),
    envelope(source_ts=datetime(2026, 11, 28, 16, 0, tzinfo=CST), seq=42, backfill=True, lot="批次-01",
             equipment="IMM01", raw_value=(1, 2)),
]


@pytest.mark.parametrize("example", EXAMPLES)
def test_to_json_matches_the_asdict_output(example):
    assert example.to_json() == reference_json(example)
    assert [type(v) for v in example.to_json().values()] == [type(v) for v in reference_json(example).values()]
    assert list(example.to_json()) == list(reference_json(example))   # same key order


def test_the_json_is_a_copy_not_a_view_of_the_envelope():
    original = envelope(raw_value=[1, 2], extra={"status": {"name": "Good"}})
    data = original.to_json()
    data["extra"]["status"]["name"] = "changed"
    data["raw_value"].append(3)
    assert original.extra == {"status": {"name": "Good"}} and original.raw_value == [1, 2]


json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_value = st.recursive(json_leaf, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)
timestamps = st.none() | st.datetimes(timezones=st.just(UTC))


@given(value=st.none() | st.floats(allow_nan=False), raw=json_value, source_ts=timestamps, server_ts=timestamps,
       received_ts=st.datetimes(timezones=st.sampled_from([UTC, CST])),
       extra=st.dictionaries(st.text(max_size=5), json_value, max_size=4), seq=st.integers(min_value=0),
       lot=st.none() | st.text(max_size=10))
def test_any_envelope_matches_the_asdict_output_and_reads_back(value, raw, source_ts, server_ts, received_ts, extra,
                                                               seq, lot):
    example = envelope(value=value, raw_value=raw, source_ts=source_ts, server_ts=server_ts,
                       received_ts=received_ts, extra=extra, seq=seq, lot=lot)
    assert example.to_json() == reference_json(example)
    assert Envelope.from_json(example.to_json()) == example
