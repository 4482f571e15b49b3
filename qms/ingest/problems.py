"""Machine-readable codes for everything that can be wrong with one measurement item.

The codes are the API contract (clients switch on them); the human-readable, translated messages are rendered
from code + params by the service layer.
"""
from enum import StrEnum


class Problem(StrEnum):
    NOT_AN_OBJECT = "not_an_object"                  # the item is not a JSON object
    UNKNOWN_FIELD = "unknown_field"                  # a key the contract does not define (typos must not pass)
    MISSING = "missing"                              # a required field is absent
    WRONG_TYPE = "wrong_type"                        # e.g. a string, bool or null where a number is required
    UNKNOWN_CHARACTERISTIC = "unknown_characteristic"
    RETIRED_CHARACTERISTIC = "retired_characteristic"
    NON_FINITE = "non_finite"                        # NaN, Infinity or a number beyond double range
    NOT_INTEGER = "not_integer"                      # data type int, value has a fraction
    NOT_BOOLEAN = "not_boolean"                      # data type bool, value is not true/false/0/1
    OUT_OF_RANGE = "out_of_range"                    # outside the physical range of the dictionary entry
    TOO_PRECISE = "too_precise"                      # more decimals than the dictionary allows, policy "reject"
    INVALID_TIMESTAMP = "invalid_timestamp"          # not ISO-8601
    TIMEZONE_MISSING = "timezone_missing"            # ISO-8601 but without an offset: ambiguous
    IN_FUTURE = "in_future"
    TOO_OLD = "too_old"
    UNKNOWN_EQUIPMENT = "unknown_equipment"
    INVALID_CHOICE = "invalid_choice"                # quality not good/uncertain/bad
    TOO_LONG = "too_long"                            # lot code longer than the column
    INVALID_CHARACTERS = "invalid_characters"        # control characters in a lot code
