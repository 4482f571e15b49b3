"""The pure validator (qms.ingest): every rule, tested without a database."""
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qms.ingest import QUALITY_CODES, CharacteristicSpec, Limits, Problem, validate_items
from qms.ingest.values import has_more_decimals, round_half_even

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
TEMP = CharacteristicSpec(id=1, code="IMM01.BARREL_Z2.TEMP", precision=1, physical_min=0.0, physical_max=400.0,
                          equipment_id=10)
STRICT = CharacteristicSpec(id=2, code="IMM01.CUSHION.MM", precision=2, precision_policy="reject")
COUNT = CharacteristicSpec(id=3, code="IMM01.SHOTS.COUNT", data_type="int", precision=0)
FLAG = CharacteristicSpec(id=4, code="IMM01.DOOR.OPEN", data_type="bool", precision=0)
OLD = CharacteristicSpec(id=5, code="IMM01.OLD.TEMP", retired=True)
DICTIONARY = {spec.code: spec for spec in (TEMP, STRICT, COUNT, FLAG, OLD)}
EQUIPMENT = {"IMM01": 10, "IMM02": 11}


def item(**overrides):
    base = {"characteristic": TEMP.code, "value": 231.2, "ts": "2026-11-24T07:59:00.123Z"}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


DEFAULT_LIMITS = Limits()


def validate(*items, limits=DEFAULT_LIMITS):
    return validate_items(list(items), characteristics=DICTIONARY, equipment=EQUIPMENT, now=NOW, limits=limits)


def only_problem(result):
    assert not result.accepted, "the item should have been rejected"
    (rejection,) = result.rejected
    return rejection.field, rejection.code


def test_valid_item_is_normalised():
    (accepted,) = validate(item(lot="L-0001", equipment="IMM02", quality="uncertain")).accepted
    assert accepted.characteristic_id == TEMP.id
    assert accepted.ts == datetime(2026, 11, 24, 7, 59, 0, 123000, tzinfo=UTC)
    assert (accepted.value, accepted.lot_code, accepted.equipment_id) == (231.2, "L-0001", 11)
    assert accepted.quality == QUALITY_CODES["uncertain"]


def test_optional_fields_default_to_good_no_lot_and_the_dictionary_equipment():
    (accepted,) = validate(item()).accepted
    assert (accepted.quality, accepted.lot_code, accepted.equipment_id) == (0, "", TEMP.equipment_id)


def test_offsets_are_converted_to_utc():
    (accepted,) = validate(item(ts="2026-11-24T15:59:00+08:00")).accepted
    assert accepted.ts == datetime(2026, 11, 24, 7, 59, tzinfo=UTC)


@pytest.mark.parametrize("payload", [None, 5, "text", ["list"], True])
def test_an_item_that_is_not_an_object_is_rejected(payload):
    assert only_problem(validate(payload)) == ("", Problem.NOT_AN_OBJECT)


def test_unknown_extra_field_is_rejected_and_named():
    assert only_problem(validate(item(lot_code="L-1"))) == ("lot_code", Problem.UNKNOWN_FIELD)


@pytest.mark.parametrize("field", ["characteristic", "value", "ts"])
def test_missing_required_field_is_named(field):
    assert only_problem(validate(item(**{field: ...}))) == (field, Problem.MISSING)


def test_unknown_characteristic_is_rejected():
    result = validate(item(characteristic="IMM09.NOPE.TEMP"))
    assert only_problem(result) == ("characteristic", Problem.UNKNOWN_CHARACTERISTIC)


def test_characteristic_must_be_a_string():
    assert only_problem(validate(item(characteristic=7))) == ("characteristic", Problem.WRONG_TYPE)


def test_retired_characteristic_is_rejected():
    assert only_problem(validate(item(characteristic=OLD.code))) == ("characteristic", Problem.RETIRED_CHARACTERISTIC)


@pytest.mark.parametrize("value", ["231.2", True, False, None, [231.2], {"v": 1}])
def test_value_that_is_not_a_number_is_wrong_type_without_coercion(value):
    assert only_problem(validate(item(value=value))) == ("value", Problem.WRONG_TYPE)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), 10**400])
def test_non_finite_value_is_rejected(value):
    assert only_problem(validate(item(value=value))) == ("value", Problem.NON_FINITE)


def test_integer_json_number_is_accepted_for_a_decimal_characteristic():
    (accepted,) = validate(item(value=231)).accepted
    assert accepted.value == 231.0


@pytest.mark.parametrize(("value", "problem"), [(-0.1, Problem.OUT_OF_RANGE), (400.1, Problem.OUT_OF_RANGE)])
def test_value_outside_physical_range_is_rejected(value, problem):
    assert only_problem(validate(item(value=value))) == ("value", problem)


def test_physical_range_bounds_are_inclusive():
    assert len(validate(item(value=0.0), item(value=400.0, ts="2026-11-24T07:59:01Z")).accepted) == 2


def test_too_precise_value_is_rounded_when_the_policy_says_round():
    result = validate(item(value=231.26))
    assert result.accepted[0].value == 231.3
    assert result.rounded == [0]


def test_rounding_is_half_even_on_the_decimal_the_client_sent():
    assert round_half_even(2.675, 2) == 2.68      # binary rounding would give 2.67
    assert round_half_even(2.665, 2) == 2.66
    assert round_half_even(0.25, 1) == 0.2


few_decimals = st.builds(lambda k, q: k / 10**q, st.integers(-10**16, 10**16), st.integers(0, 10))


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | few_decimals, st.integers(min_value=0, max_value=9))
def test_the_fast_precision_test_agrees_with_correctly_rounded_round(value, places):
    assert has_more_decimals(value, places) == (round(value, places) != value)


@pytest.mark.parametrize(("value", "places"), [(231.2, 1), (0.07, 2), (1e-9, 9), (123456789.123, 3), (-0.5, 1)])
def test_values_written_with_at_most_the_allowed_decimals_are_within_precision(value, places):
    assert not has_more_decimals(value, places)


@pytest.mark.parametrize(("value", "places"), [(231.20000000000002, 1), (0.071, 2), (1e-10, 9)])
def test_values_with_more_decimals_than_allowed_are_detected(value, places):
    assert has_more_decimals(value, places)


def test_value_within_precision_is_not_reported_as_rounded():
    assert validate(item(value=231.2)).rounded == []


def test_too_precise_value_is_rejected_when_the_policy_says_reject():
    assert only_problem(validate(item(characteristic=STRICT.code, value=1.234))) == ("value", Problem.TOO_PRECISE)


def test_rounding_happens_before_the_range_check():
    result = validate(item(value=400.04))
    assert result.accepted[0].value == 400.0


@pytest.mark.parametrize("value", [3, 3.0, -12])
def test_integer_characteristic_takes_whole_numbers(value):
    assert validate(item(characteristic=COUNT.code, value=value)).accepted[0].value == float(value)


def test_integer_characteristic_rejects_fractions():
    assert only_problem(validate(item(characteristic=COUNT.code, value=3.5))) == ("value", Problem.NOT_INTEGER)


def test_integer_characteristic_rejects_booleans():
    assert only_problem(validate(item(characteristic=COUNT.code, value=True))) == ("value", Problem.WRONG_TYPE)


@pytest.mark.parametrize(("value", "stored"), [(True, 1.0), (False, 0.0), (1, 1.0), (0, 0.0), (1.0, 1.0)])
def test_boolean_characteristic_takes_true_false_and_one_zero(value, stored):
    assert validate(item(characteristic=FLAG.code, value=value)).accepted[0].value == stored


def test_boolean_characteristic_rejects_other_numbers():
    assert only_problem(validate(item(characteristic=FLAG.code, value=2))) == ("value", Problem.NOT_BOOLEAN)


def test_boolean_characteristic_rejects_strings():
    assert only_problem(validate(item(characteristic=FLAG.code, value="true"))) == ("value", Problem.WRONG_TYPE)


@pytest.mark.parametrize("ts", [None, 1732435200, 1732435200.5, ["2026-11-24T08:00:00Z"]])
def test_timestamp_that_is_not_a_string_is_wrong_type(ts):
    assert only_problem(validate(item(ts=ts))) == ("ts", Problem.WRONG_TYPE)


@pytest.mark.parametrize("ts", ["yesterday", "2026-13-01T00:00:00Z", "24/11/2026 08:00", "", "2026-11-24T25:00Z"])
def test_timestamp_that_is_not_iso8601_is_invalid(ts):
    assert only_problem(validate(item(ts=ts))) == ("ts", Problem.INVALID_TIMESTAMP)


@pytest.mark.parametrize("ts", ["2026-11-24T07:59:00", "2026-11-24"])
def test_timestamp_without_offset_is_rejected(ts):
    assert only_problem(validate(item(ts=ts))) == ("ts", Problem.TIMEZONE_MISSING)


def test_timestamp_beyond_the_allowed_future_is_rejected():
    limits = Limits(max_future_seconds=300)
    late = (NOW + timedelta(seconds=301)).isoformat()
    assert only_problem(validate(item(ts=late), limits=limits)) == ("ts", Problem.IN_FUTURE)


def test_timestamp_slightly_ahead_within_the_allowance_is_accepted():
    limits = Limits(max_future_seconds=300)
    assert validate(item(ts=(NOW + timedelta(seconds=299)).isoformat()), limits=limits).accepted


@pytest.mark.parametrize("ts", ["1999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"])
def test_timestamp_before_the_minimum_year_is_rejected(ts):
    assert only_problem(validate(item(ts=ts), limits=Limits(min_year=2000))) == ("ts", Problem.TOO_OLD)


def test_absurdly_far_future_timestamp_is_rejected():
    assert only_problem(validate(item(ts="9999-12-31T23:59:59-01:00"))) == ("ts", Problem.IN_FUTURE)


def test_unknown_equipment_is_rejected():
    assert only_problem(validate(item(equipment="IMM99"))) == ("equipment", Problem.UNKNOWN_EQUIPMENT)


def test_equipment_must_be_a_string():
    assert only_problem(validate(item(equipment=10))) == ("equipment", Problem.WRONG_TYPE)


@pytest.mark.parametrize("quality", ["GOOD", "ok", ""])
def test_quality_outside_the_choices_is_rejected(quality):
    assert only_problem(validate(item(quality=quality))) == ("quality", Problem.INVALID_CHOICE)


def test_quality_must_be_a_string():
    assert only_problem(validate(item(quality=0))) == ("quality", Problem.WRONG_TYPE)


def test_lot_longer_than_the_column_is_rejected():
    assert only_problem(validate(item(lot="L" * 65))) == ("lot", Problem.TOO_LONG)


def test_lot_with_control_characters_is_rejected():
    assert only_problem(validate(item(lot="L-1\n"))) == ("lot", Problem.INVALID_CHARACTERS)


def test_lot_must_be_a_string():
    assert only_problem(validate(item(lot=42))) == ("lot", Problem.WRONG_TYPE)


def test_same_point_twice_in_a_batch_is_a_duplicate_not_an_error():
    result = validate(item(), item(value=231.3), item(ts="2026-11-24T15:59:00.123+08:00"))
    assert [row.index for row in result.accepted] == [0]
    assert result.duplicates == [1, 2]
    assert result.rejected == []


def test_rejections_carry_the_item_verbatim_and_its_index():
    bad = item(value="oops")
    result = validate(item(), bad)
    assert (result.rejected[0].index, result.rejected[0].item) == (1, bad)


def test_quality_codes_match_the_model():
    from qms.models.measurements import QUALITY_BY_NAME

    assert {name: int(code) for name, code in QUALITY_BY_NAME.items()} == QUALITY_CODES


# --- property: whatever arrives, the validator answers for every item exactly once and never raises ------------
json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=10), inner, max_size=3), max_leaves=8)
plausible_items = st.fixed_dictionaries(
    {
        "characteristic": st.sampled_from(sorted(DICTIONARY)) | json_values,
        "value": st.floats() | st.integers() | json_values,
        "ts": st.datetimes(timezones=st.sampled_from([UTC, None])).map(lambda d: d.isoformat()) | json_values,
    },
    optional={
        "lot": json_values, "equipment": st.sampled_from(sorted(EQUIPMENT)) | json_values,
        "quality": st.sampled_from(sorted(QUALITY_CODES)) | json_values, "extra": json_values,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(plausible_items | json_values, max_size=20))
def test_validator_partitions_any_input_into_accepted_duplicates_and_rejected(items):
    result = validate(*items)
    seen = [row.index for row in result.accepted] + result.duplicates + [rejection.index for rejection in result.rejected]
    assert sorted(seen) == list(range(len(items)))
    assert set(result.rounded) <= {row.index for row in result.accepted} | set(result.duplicates)
    for row in result.accepted:
        assert row.ts.tzinfo is UTC
        assert TEMP.physical_min <= row.value <= TEMP.physical_max or row.characteristic_id != TEMP.id
