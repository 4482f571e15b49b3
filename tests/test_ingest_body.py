"""Parsing a batch body and making rejected items storable (qms.ingest.body), without a database."""
import json
import math
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qms.ingest import BodyError, parse_batch_body, storable


def parse(raw: bytes, max_items: int = 10):
    return parse_batch_body(raw, max_items=max_items)


def error_of(raw: bytes, max_items: int = 10) -> BodyError:
    with pytest.raises(BodyError) as caught:
        parse(raw, max_items)
    return caught.value


def test_a_well_formed_batch_yields_its_items():
    body = parse(b'{"measurements": [{"characteristic": "A.B.C", "value": 1, "ts": "2026-01-01T00:00:00Z"}]}')
    assert body.items == [{"characteristic": "A.B.C", "value": 1, "ts": "2026-01-01T00:00:00Z"}]
    assert (body.site_code, body.lenient_numbers) == (None, False)


def test_the_site_code_is_passed_on():
    assert parse(b'{"site": "S1", "measurements": []}').site_code == "S1"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "empty_body"),
        (b"   ", "empty_body"),
        (b'{"measurements": [', "malformed_json"),
        (b"{'measurements': []}", "malformed_json"),
        (b'[{"characteristic": "A"}]', "body_not_an_object"),
        (b'{"items": []}', "unknown_top_level_field"),
        (b"{}", "measurements_missing"),
        (b'{"measurements": {"characteristic": "A"}}', "measurements_not_a_list"),
        (b'{"measurements": [], "site": 1}', "site_not_a_string"),
        (b'"\\ud800"', "malformed_json"),
    ],
)
def test_unusable_bodies_are_a_400_naming_the_problem(raw, code):
    error = error_of(raw)
    assert (error.code, error.status) == (code, 400)


def test_malformed_json_carries_the_parser_position():
    assert "line 1 column" in error_of(b'{"measurements": [1,]}').params["detail"]


def test_a_batch_over_the_limit_is_413_with_count_and_limit():
    error = error_of(orjson.dumps({"measurements": [{}] * 11}), max_items=10)
    assert (error.code, error.status, error.params) == ("batch_too_large", 413, {"count": 11, "limit": 10})


def test_a_batch_at_the_limit_is_accepted():
    assert len(parse(orjson.dumps({"measurements": [{}] * 10}), max_items=10).items) == 10


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_number_tokens_do_not_fail_the_batch(token):
    body = parse(b'{"measurements": [{"value": 1.5}, {"value": ' + token + b"}]}")
    assert body.lenient_numbers
    assert body.items[0] == {"value": 1.5}
    assert not math.isfinite(body.items[1]["value"])


def test_a_nan_body_that_is_otherwise_malformed_stays_a_400():
    assert error_of(b'{"measurements": [{"value": NaN}, ]}').code == "malformed_json"


def test_a_nan_body_with_a_lone_surrogate_stays_a_400():
    assert error_of(b'{"measurements": [{"value": NaN, "lot": "\\ud800"}]}').code == "malformed_json"


def test_storable_turns_non_finite_numbers_into_strings():
    stored = storable({"value": float("nan"), "list": [float("inf"), float("-inf")]})
    assert stored == {"value": "NaN", "list": ["Infinity", "-Infinity"]}


def test_storable_turns_datetimes_into_iso8601():
    assert storable({"ts": datetime(2026, 1, 1, tzinfo=UTC)}) == {"ts": "2026-01-01T00:00:00+00:00"}


def test_storable_escapes_nul_characters_which_postgresql_cannot_store():
    assert storable({"lot\x00": "L\x001"}) == {"lot\\u0000": "L\\u00001"}


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.datetimes(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(json_like)
def test_storable_output_always_serialises_as_strict_json_without_nul(value):
    text = json.dumps(storable(value), allow_nan=False)   # raises on NaN/Infinity or non-JSON types
    assert "\\u0000" not in text.replace("\\\\", "")      # an escaped NUL would survive only unescaped
