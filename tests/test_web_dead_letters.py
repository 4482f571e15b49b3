"""Dead-letter pages: list (open by default) with filters, inspect, correct and replay, discard with a note."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from qms.models import DeadLetter, Measurement
from tests.web_support import reject_items, signed_in, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(engineer):
    return signed_in(engineer)


@pytest.fixture
def ts():
    return (timezone.now() - timedelta(minutes=5)).isoformat()


@pytest.fixture
def out_of_range(site, characteristic, ts):
    (pk,) = reject_items(site, [{"characteristic": characteristic.code, "value": 999.0, "ts": ts}])
    return DeadLetter.objects.get(pk=pk)


@pytest.fixture
def unknown_code(site, ts):
    (pk,) = reject_items(site, [{"characteristic": "IMM01.NOPE.TEMP", "value": 1.0, "ts": ts}])
    return DeadLetter.objects.get(pk=pk)


def test_list_shows_open_letters_by_default(web, out_of_range, unknown_code):
    DeadLetter.objects.filter(pk=unknown_code.pk).update(status="discarded")
    letters = web.get(reverse("dead-letter-list")).context["letters"]
    assert [letter.pk for letter in letters] == [out_of_range.pk]


def test_list_shows_all_statuses_on_request(web, out_of_range, unknown_code):
    DeadLetter.objects.filter(pk=unknown_code.pk).update(status="discarded")
    letters = web.get(reverse("dead-letter-list"), {"status": ""}).context["letters"]
    assert {letter.pk for letter in letters} == {out_of_range.pk, unknown_code.pk}


def test_list_filters_by_characteristic_and_error_code(web, out_of_range, unknown_code):
    by_code = web.get(reverse("dead-letter-list"), {"code": unknown_code.code}).context["letters"]
    by_characteristic = web.get(reverse("dead-letter-list"), {"characteristic": "NOPE"}).context["letters"]
    assert [letter.pk for letter in by_code] == [unknown_code.pk]
    assert [letter.pk for letter in by_characteristic] == [unknown_code.pk]


def test_list_never_shows_another_sites_letters(web, other_site, ts):
    reject_items(other_site, [{"characteristic": "IMM09.X.Y", "value": 1.0, "ts": ts}])
    assert list(web.get(reverse("dead-letter-list")).context["letters"]) == []


def test_detail_shows_the_payload_and_the_error(web, out_of_range):
    html = web.get(reverse("dead-letter-detail", args=[out_of_range.pk])).content.decode()
    assert out_of_range.code in html
    assert out_of_range.message.split("“")[0][:20] in html
    assert "&quot;value&quot;: 999.0" in html


def test_detail_of_another_sites_letter_is_not_found(web, other_site, ts):
    (pk,) = reject_items(other_site, [{"characteristic": "IMM09.X.Y", "value": 1.0, "ts": ts}])
    assert web.get(reverse("dead-letter-detail", args=[pk])).status_code == 404


def test_corrected_payload_is_replayed_and_stored(web, out_of_range, characteristic, ts):
    corrected = f'{{"characteristic": "{characteristic.code}", "value": 231.5, "ts": "{ts}"}}'
    response = web.post(reverse("dead-letter-replay", args=[out_of_range.pk]), {"payload": corrected}, follow=True)
    out_of_range.refresh_from_db()
    assert out_of_range.status == "replayed"
    assert Measurement.objects.get(characteristic=characteristic).value == 231.5
    assert "stored as measurement" in response.content.decode()


def test_replay_of_invalid_json_names_the_problem(web, out_of_range):
    response = web.post(reverse("dead-letter-replay", args=[out_of_range.pk]), {"payload": '{"value": 1,'})
    assert response.status_code == 400
    assert "Not valid JSON" in " ".join(response.context["replay_form"].errors["payload"])
    out_of_range.refresh_from_db()
    assert out_of_range.status == "open"


def test_replay_of_a_still_invalid_item_keeps_it_open_and_says_why(web, out_of_range):
    response = web.post(reverse("dead-letter-replay", args=[out_of_range.pk]),
                        {"payload": '{"characteristic": "IMM01.NOPE.TEMP", "value": 1, "ts": "2026-01-01T00:00:00Z"}'})
    assert response.status_code == 400
    assert response.context["replay_form"].non_field_errors()
    out_of_range.refresh_from_db()
    assert out_of_range.status == "open"
    assert not Measurement.objects.exists()


def test_discard_needs_a_note(web, out_of_range):
    response = web.post(reverse("dead-letter-discard", args=[out_of_range.pk]), {"note": ""})
    assert response.status_code == 400
    out_of_range.refresh_from_db()
    assert out_of_range.status == "open"


def test_discard_with_a_note_closes_the_letter(web, out_of_range, engineer):
    web.post(reverse("dead-letter-discard", args=[out_of_range.pk]), {"note": "test value from commissioning"})
    out_of_range.refresh_from_db()
    assert (out_of_range.status, out_of_range.resolution_note, out_of_range.resolved_by) == (
        "discarded", "test value from commissioning", engineer)


def test_operator_may_look_but_not_replay(site, out_of_range):
    client = signed_in(user_with_role("operator", site))
    assert client.get(reverse("dead-letter-detail", args=[out_of_range.pk])).status_code == 200
    response = client.post(reverse("dead-letter-replay", args=[out_of_range.pk]), {"payload": "{}"})
    assert response.status_code == 403


def test_bulk_replay_stores_what_is_now_valid_and_reports_the_rest(web, site, unknown_code, out_of_range):
    from tests.factories import CharacteristicFactory

    CharacteristicFactory(site=site, code="IMM01.NOPE.TEMP", physical_min=0.0, physical_max=10.0)
    response = web.post(reverse("dead-letter-bulk"), {"action": "replay", "letters": [unknown_code.pk, out_of_range.pk]},
                        follow=True)
    unknown_code.refresh_from_db()
    out_of_range.refresh_from_db()
    assert (unknown_code.status, out_of_range.status) == ("replayed", "open")
    assert f"#{out_of_range.pk} stays open" in response.content.decode()


def test_bulk_discard_needs_a_note(web, out_of_range):
    web.post(reverse("dead-letter-bulk"), {"action": "discard", "letters": [out_of_range.pk], "note": ""})
    out_of_range.refresh_from_db()
    assert out_of_range.status == "open"
