"""Dead letters: replay (unchanged or corrected) and discard, through the services and the API, with audit entries."""
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from qms.models import AuditEntry, DeadLetter, Measurement
from qms.seams import measurements_stored
from qms.services.dead_letters import discard_dead_letter, replay_dead_letter
from tests.factories import CharacteristicFactory, UserFactory
from tests.ingest_helpers import post_batch, reading, site_with_temperature

pytestmark = pytest.mark.django_db
API = "/api/v1/dead-letters/"


@pytest.fixture
def letter(mes_client, characteristic) -> DeadLetter:
    """An out-of-range value (999 > 400) sent by MES-1."""
    post_batch(mes_client, [reading(value=999.0, lot="L-7")])
    return DeadLetter.objects.get()


def audit_of(letter: DeadLetter) -> AuditEntry:
    return AuditEntry.objects.filter(model="qms.DeadLetter", object_pk=str(letter.pk)).get()


# --- replay ----------------------------------------------------------------------------------------------------------
def test_replay_with_a_corrected_payload_stores_the_point_under_the_original_source(letter, engineer):
    corrected = {**letter.payload, "value": 299.9}
    result = replay_dead_letter(letter.pk, user=engineer, corrected_payload=corrected)
    stored = Measurement.objects.get()
    assert (result["outcome"], result["measurement_id"], result["value"]) == ("stored", stored.pk, 299.9)
    assert (stored.value, stored.lot_code, stored.source) == (299.9, "L-7", "token:MES-1")


def test_replay_marks_the_letter_replayed_by_whom_and_when(letter, engineer):
    replay_dead_letter(letter.pk, user=engineer, corrected_payload={**letter.payload, "value": 299.9})
    letter.refresh_from_db()
    assert (letter.status, letter.resolved_by, letter.resolved_at is not None) == ("replayed", engineer, True)


def test_replay_is_audited_with_payload_before_and_after(letter, engineer):
    corrected = {**letter.payload, "value": 299.9}
    replay_dead_letter(letter.pk, user=engineer, corrected_payload=corrected)
    entry = audit_of(letter)
    assert (entry.actor, entry.action, entry.actor_user_id) == ("engineer", "transition", engineer.pk)
    assert entry.changes["payload"] == [letter.payload, corrected]
    assert entry.changes["status"] == ["open", "replayed"]
    assert entry.changes["measurement"] == [None, Measurement.objects.get().pk]


def test_replay_unchanged_succeeds_once_the_dictionary_is_fixed(mes_client, site, engineer):
    post_batch(mes_client, [reading("IMM01.NEW.TEMP")])
    letter = DeadLetter.objects.get()
    CharacteristicFactory(site=site, code="IMM01.NEW.TEMP")
    assert replay_dead_letter(letter.pk, user=engineer)["outcome"] == "stored"


def test_replay_of_a_still_invalid_item_names_the_field_and_leaves_the_letter_open(letter, engineer):
    with pytest.raises(ValidationError) as caught:
        replay_dead_letter(letter.pk, user=engineer)
    assert "value" in caught.value.message_dict
    letter.refresh_from_db()
    assert letter.status == "open"
    assert not Measurement.objects.exists()
    assert not AuditEntry.objects.filter(model="qms.DeadLetter").exists()


def test_replay_rounds_per_the_dictionary_like_a_live_batch(letter, engineer):
    result = replay_dead_letter(letter.pk, user=engineer, corrected_payload={**letter.payload, "value": 231.26})
    assert (result["value"], result["rounded"]) == (231.3, True)


def test_replay_of_a_point_already_stored_is_a_duplicate_not_a_second_row(letter, engineer, mes_client):
    post_batch(mes_client, [reading(value=230.0, lot="L-7")])   # the MES re-sent a corrected value meanwhile
    result = replay_dead_letter(letter.pk, user=engineer, corrected_payload={**letter.payload, "value": 299.9})
    assert (result["outcome"], result["measurement_id"]) == ("duplicate", None)
    assert Measurement.objects.get().value == 230.0


def test_replay_announces_the_stored_point_after_commit(letter, engineer, django_capture_on_commit_callbacks):
    received = []
    measurements_stored.connect(lambda sender, points, **kw: received.extend(points), dispatch_uid="dl-test", weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            replay_dead_letter(letter.pk, user=engineer, corrected_payload={**letter.payload, "value": 299.9})
    finally:
        measurements_stored.disconnect(dispatch_uid="dl-test")
    assert [point.value for point in received] == [299.9]


def test_a_letter_is_replayed_only_once(letter, engineer):
    replay_dead_letter(letter.pk, user=engineer, corrected_payload={**letter.payload, "value": 299.9})
    with pytest.raises(ValidationError) as caught:
        replay_dead_letter(letter.pk, user=engineer, corrected_payload={**letter.payload, "value": 299.9})
    assert "status" in caught.value.message_dict


def test_a_user_of_another_site_cannot_replay(letter, other_site):
    stranger = UserFactory(username="stranger", role="quality_engineer", sites=[other_site])
    with pytest.raises(DeadLetter.DoesNotExist):
        replay_dead_letter(letter.pk, user=stranger)


def test_a_user_without_the_change_permission_cannot_replay(letter, site):
    operator = UserFactory(username="op", role="operator", sites=[site])
    with pytest.raises(PermissionDenied):
        replay_dead_letter(letter.pk, user=operator, corrected_payload={**letter.payload, "value": 1.0})


# --- discard ---------------------------------------------------------------------------------------------------------
def test_discard_closes_the_letter_with_the_note(letter, engineer):
    discard_dead_letter(letter.pk, user=engineer, note="sensor test run, not production")
    letter.refresh_from_db()
    assert (letter.status, letter.resolution_note, letter.resolved_by) == (
        "discarded", "sensor test run, not production", engineer)
    assert not Measurement.objects.exists()


def test_discard_is_audited_with_the_note_as_reason(letter, engineer):
    discard_dead_letter(letter.pk, user=engineer, note="sensor test run")
    entry = audit_of(letter)
    assert (entry.reason, entry.changes["status"], entry.actor) == ("sensor test run", ["open", "discarded"], "engineer")


@pytest.mark.parametrize("note", ["", "   "])
def test_discard_requires_a_note(letter, engineer, note):
    with pytest.raises(ValidationError) as caught:
        discard_dead_letter(letter.pk, user=engineer, note=note)
    assert "note" in caught.value.message_dict
    letter.refresh_from_db()
    assert letter.status == "open"


def test_a_discarded_letter_cannot_be_replayed(letter, engineer):
    discard_dead_letter(letter.pk, user=engineer, note="noise")
    with pytest.raises(ValidationError):
        replay_dead_letter(letter.pk, user=engineer)


# --- API -------------------------------------------------------------------------------------------------------------
def test_list_shows_open_letters_of_the_users_sites(engineer_client, letter):
    rows = engineer_client.get(API, {"status": "open"}).json()["results"]
    assert [(row["id"], row["code"], row["payload"], row["site"]) for row in rows] == [
        (letter.pk, "out_of_range", letter.payload, "S1")]


def test_list_filters_by_status(engineer_client, letter, engineer):
    discard_dead_letter(letter.pk, user=engineer, note="noise")
    assert engineer_client.get(API, {"status": "open"}).json()["results"] == []
    assert len(engineer_client.get(API, {"status": "discarded"}).json()["results"]) == 1


def test_letters_of_another_site_are_invisible(api_client, letter, other_site):
    site_with_temperature(other_site)
    api_client.force_authenticate(UserFactory(username="s2", role="quality_engineer", sites=[other_site]))
    assert api_client.get(API).json()["results"] == []
    assert api_client.get(f"{API}{letter.pk}/").status_code == 404
    assert api_client.post(f"{API}{letter.pk}/discard/", {"note": "x"}, format="json").status_code == 404


def test_detail_shows_the_letter(engineer_client, letter):
    body = engineer_client.get(f"{API}{letter.pk}/").json()
    assert (body["field"], body["source"], body["status"]) == ("value", "token:MES-1", "open")


def test_replay_over_the_api_with_a_corrected_payload(engineer_client, letter):
    response = engineer_client.post(f"{API}{letter.pk}/replay/", {"payload": {**letter.payload, "value": 250.0}},
                                    format="json")
    assert response.status_code == 200
    assert response.json()["outcome"] == "stored"
    assert Measurement.objects.get().value == 250.0


def test_replay_over_the_api_of_an_invalid_item_is_a_400_naming_the_field(engineer_client, letter):
    response = engineer_client.post(f"{API}{letter.pk}/replay/", {}, format="json")
    assert response.status_code == 400
    assert "value" in response.json()["error"]["details"]


def test_replay_over_the_api_rejects_a_payload_that_is_not_an_object(engineer_client, letter):
    assert engineer_client.post(f"{API}{letter.pk}/replay/", {"payload": [1]}, format="json").status_code == 400


def test_discard_over_the_api(engineer_client, letter):
    response = engineer_client.post(f"{API}{letter.pk}/discard/", {"note": "duplicate sensor"}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, "discarded")


def test_discard_over_the_api_without_note_is_a_400(engineer_client, letter):
    response = engineer_client.post(f"{API}{letter.pk}/discard/", {}, format="json")
    assert response.status_code == 400
    assert "note" in response.json()["error"]["details"]


def test_operators_may_look_but_not_resolve(api_client, letter, site):
    api_client.force_authenticate(UserFactory(username="op", role="operator", sites=[site]))
    assert api_client.get(API).status_code == 200
    assert api_client.post(f"{API}{letter.pk}/discard/", {"note": "x"}, format="json").status_code == 403


def test_machine_tokens_cannot_use_the_dead_letter_api(mes_client, letter):
    assert mes_client.get(API).status_code == 403
