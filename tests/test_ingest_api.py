"""POST /api/v1/measurements/: authentication, body problems, per-item results, dead letters, duplicates, scoping."""
import orjson
import pytest
from django.test import override_settings

from qms.models import DeadLetter, IngestBatch, Measurement
from tests.factories import CharacteristicFactory, UserFactory
from tests.ingest_helpers import TEMP_CODE, post_batch, reading, series, site_with_temperature, token_client

pytestmark = pytest.mark.django_db


def error_of(response) -> dict:
    return orjson.loads(response.content)["error"]


# --- who may post --------------------------------------------------------------------------------------------------
def test_token_with_ingest_scope_stores_a_batch(mes_client, characteristic):
    response = post_batch(mes_client, series(3))
    assert response.status_code == 200
    body = response.json()
    assert (body["received"], body["stored"], body["duplicates"], body["rejected"]) == (3, 3, 0, 0)
    assert Measurement.objects.filter(characteristic=characteristic, source="token:MES-1").count() == 3


def test_stored_row_carries_every_field(mes_client, characteristic):
    post_batch(mes_client, [reading(lot="L-0001", equipment="IMM01", quality="uncertain", value=231.25)])
    row = Measurement.objects.get()
    assert (row.value, row.lot_code, row.equipment.code, row.quality) == (231.2, "L-0001", "IMM01", 1)
    assert row.ts.isoformat() == "2026-01-05T08:00:00.123000+00:00"
    assert row.batch_id == IngestBatch.objects.get().pk


def test_user_with_add_measurement_permission_may_post(engineer_client, characteristic):
    assert post_batch(engineer_client, series(1)).status_code == 200
    assert Measurement.objects.get().source == "engineer"


def test_token_without_ingest_scope_is_refused(site, characteristic):
    client = token_client(site, name="reader", scopes=("verdicts:read",))
    assert post_batch(client, series(1)).status_code == 403
    assert not Measurement.objects.exists()


def test_user_without_add_measurement_permission_is_refused(api_client, site, characteristic):
    api_client.force_authenticate(UserFactory(username="auditor1", role="auditor", sites=[site]))
    assert post_batch(api_client, series(1)).status_code == 403


def test_anonymous_post_is_refused(api_client, characteristic):
    assert post_batch(api_client, series(1)).status_code in (401, 403)


# --- the body as a whole -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"measurements": [{"characteristic": "X"', "malformed_json"),
        (b'{"readings": []}', "unknown_top_level_field"),
        (b"{}", "measurements_missing"),
        (b'{"measurements": "all of them"}', "measurements_not_a_list"),
        (b"[]", "body_not_an_object"),
    ],
)
def test_unusable_body_is_a_400_naming_the_problem(mes_client, characteristic, raw, code):
    response = post_batch(mes_client, raw=raw)
    assert response.status_code == 400
    assert error_of(response)["code"] == code
    assert not IngestBatch.objects.exists()


def test_malformed_json_message_says_where(mes_client, characteristic):
    message = error_of(post_batch(mes_client, raw=b'{"measurements": [1,]}'))["message"]
    assert "not valid JSON" in message and "column" in message


@override_settings(INGEST_MAX_BATCH=3)
def test_batch_over_the_limit_is_413_and_stores_nothing(mes_client, characteristic):
    response = post_batch(mes_client, series(4))
    assert response.status_code == 413
    assert error_of(response)["code"] == "batch_too_large"
    assert error_of(response)["details"] == {"count": 4, "limit": 3}
    assert not Measurement.objects.exists()


@override_settings(INGEST_MAX_BODY_BYTES=200)
def test_body_over_the_byte_limit_is_413(mes_client, characteristic):
    response = post_batch(mes_client, series(5))
    assert response.status_code == 413
    assert error_of(response)["code"] == "body_too_large"


def test_empty_batch_is_accepted_with_zero_counts(mes_client, characteristic):
    response = post_batch(mes_client, [])
    assert response.status_code == 200
    assert response.json()["received"] == 0


# --- per-item results ----------------------------------------------------------------------------------------------
def test_bad_items_are_named_by_index_and_the_good_ones_stored(mes_client, characteristic):
    items = [reading(), reading(value="231.2", ts="2026-01-05T08:00:01Z"), reading(characteristic="NOPE.X.Y"),
             reading(ts="2026-01-05T08:00:03")]
    response = post_batch(mes_client, items)
    body = response.json()
    assert response.status_code == 200
    assert (body["stored"], body["rejected"]) == (1, 3)
    assert [(e["index"], e["field"], e["code"]) for e in body["errors"]] == [
        (1, "value", "wrong_type"), (2, "characteristic", "unknown_characteristic"), (3, "ts", "timezone_missing"),
    ]
    assert all(error["message"] for error in body["errors"])


def test_rejected_items_become_dead_letters_with_the_payload_verbatim(mes_client, characteristic):
    bad = reading(value=999.0, lot="L-9")
    post_batch(mes_client, [reading(), bad])
    letter = DeadLetter.objects.get()
    assert (letter.index, letter.payload, letter.field, letter.code) == (1, bad, "value", "out_of_range")
    assert (letter.site, letter.source, letter.status) == (characteristic.site, "token:MES-1", DeadLetter.Status.OPEN)
    assert letter.batch_id == IngestBatch.objects.get().pk
    assert "400" in letter.message


def test_a_batch_whose_items_are_all_rejected_is_422_and_still_dead_lettered(mes_client, characteristic):
    response = post_batch(mes_client, [reading(value=None), reading(value=float("inf"), ts="x")])
    assert response.status_code == 422
    assert response.json()["rejected"] == 2
    assert DeadLetter.objects.count() == 2


def test_nan_tokens_reject_only_their_items(mes_client, characteristic):
    raw = (b'{"measurements": [{"characteristic": "IMM01.BARREL_Z2.TEMP", "value": NaN, "ts": "2026-01-05T08:00:00Z"},'
           b'{"characteristic": "IMM01.BARREL_Z2.TEMP", "value": 230.0, "ts": "2026-01-05T08:00:01Z"}]}')
    body = post_batch(mes_client, raw=raw).json()
    assert (body["stored"], body["rejected"]) == (1, 1)
    assert body["errors"][0]["code"] == "non_finite"
    assert DeadLetter.objects.get().payload["value"] == "NaN"


def test_unknown_extra_field_is_rejected_not_ignored(mes_client, characteristic):
    body = post_batch(mes_client, [reading(lot_code="L-1")]).json()
    assert (body["errors"][0]["field"], body["errors"][0]["code"]) == ("lot_code", "unknown_field")


def test_precision_beyond_the_dictionary_is_rounded_and_reported(mes_client, characteristic):
    body = post_batch(mes_client, [reading(value=231.2), reading(value=231.26, ts="2026-01-05T08:00:01Z")]).json()
    assert body["rounded_indices"] == [1]
    assert sorted(Measurement.objects.values_list("value", flat=True)) == [231.2, 231.3]


def test_precision_beyond_the_dictionary_is_rejected_when_the_policy_says_so(mes_client, site, equipment):
    CharacteristicFactory(site=site, code="IMM01.CUSHION.MM", precision=2, precision_policy="reject",
                          physical_min=0, physical_max=50)
    body = post_batch(mes_client, [reading("IMM01.CUSHION.MM", value=4.125)]).json()
    assert (body["rejected"], body["errors"][0]["code"]) == (1, "too_precise")
    assert not Measurement.objects.exists()


def test_messages_follow_the_request_language(mes_client, characteristic):
    english = post_batch(mes_client, [reading(value="x")]).json()["errors"][0]["message"]
    assert "Wrong type" in english


# --- duplicates ----------------------------------------------------------------------------------------------------
def test_the_same_point_twice_in_one_batch_is_stored_once_and_counted_as_duplicate(mes_client, characteristic):
    body = post_batch(mes_client, [reading(), reading(value=231.3), reading(ts="2026-01-05T16:00:00.123+08:00")]).json()
    assert (body["stored"], body["duplicates"], body["duplicate_indices"], body["rejected"]) == (1, 2, [1, 2], 0)
    assert Measurement.objects.count() == 1


def test_a_resent_batch_is_all_duplicates(mes_client, characteristic):
    post_batch(mes_client, series(5))
    body = post_batch(mes_client, series(5)).json()
    assert (body["stored"], body["duplicates"], body["duplicate_indices"]) == (0, 5, [0, 1, 2, 3, 4])
    assert Measurement.objects.count() == 5


def test_overlapping_batches_store_only_the_new_points(mes_client, characteristic):
    post_batch(mes_client, series(5))
    body = post_batch(mes_client, series(5, start_second=3)).json()
    assert (body["stored"], body["duplicate_indices"]) == (3, [0, 1])
    assert Measurement.objects.count() == 8


def test_the_same_point_from_two_sources_is_stored_for_each(mes_client, engineer_client, characteristic):
    post_batch(mes_client, series(1))
    assert post_batch(engineer_client, series(1)).json()["stored"] == 1
    assert sorted(Measurement.objects.values_list("source", flat=True)) == ["engineer", "token:MES-1"]


# --- site scoping --------------------------------------------------------------------------------------------------
def test_token_of_another_site_cannot_write_this_sites_characteristic(characteristic, other_site):
    site_with_temperature(other_site, code="IMM01.MOULD.TEMP", equipment_code="IMM01")
    intruder = token_client(other_site, name="MES-S2")
    body = post_batch(intruder, [reading(TEMP_CODE)]).json()
    assert body["errors"][0]["code"] == "unknown_characteristic"
    assert not Measurement.objects.filter(characteristic=characteristic).exists()


def test_equipment_of_another_site_is_unknown(mes_client, characteristic, other_site):
    site_with_temperature(other_site, code="IMM07.MOULD.TEMP", equipment_code="IMM07")
    body = post_batch(mes_client, [reading(equipment="IMM07")]).json()
    assert body["errors"][0]["code"] == "unknown_equipment"


def test_token_cannot_name_another_site_in_the_body(mes_client, characteristic, other_site):
    assert post_batch(mes_client, series(1), site="S2").status_code == 403


def test_user_cannot_write_into_a_site_they_do_not_belong_to(engineer_client, characteristic, other_site):
    site_with_temperature(other_site)
    assert post_batch(engineer_client, series(1), site="S2").status_code == 403
    assert not Measurement.objects.exists()


def test_user_of_several_sites_names_the_site_in_the_body(api_client, characteristic, other_site):
    theirs = site_with_temperature(other_site)
    api_client.force_authenticate(UserFactory(username="roaming", role="operator", sites=[characteristic.site,
                                                                                           other_site]))
    assert post_batch(api_client, series(1), site="S2").json()["stored"] == 1
    assert Measurement.objects.get().characteristic == theirs
