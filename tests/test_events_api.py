"""POST/GET /api/v1/equipment-events/ and /api/v1/cycle-times/: per-item validation, idempotency, scoping."""
import pytest

from qms.models import CycleTimeRecord, EquipmentStateEvent
from tests.factories import EquipmentFactory, UserFactory, token_client, user_client

EVENTS = "/api/v1/equipment-events/"
CYCLES = "/api/v1/cycle-times/"


def ts(minute: int, second: int = 0) -> str:
    return f"2026-11-20T08:{minute:02d}:{second:02d}Z"


def event(minute=0, **overrides):
    item = {"equipment": "IMM01", "ts": ts(minute), "state": "running"}
    item.update(overrides)
    return item


def cycle(second=0, **overrides):
    item = {"equipment": "IMM01", "ts": ts(0, second), "cycle_time_s": 32.5}
    item.update(overrides)
    return item


def errors_by_index(body) -> dict[int, set[tuple[str, str]]]:
    found: dict[int, set[tuple[str, str]]] = {}
    for error in body["errors"]:
        found.setdefault(error["index"], set()).add((error["field"], error["code"]))
    return found


# --- equipment state changes ---------------------------------------------------------------------------------------


def test_valid_events_are_stored(mes_client, equipment):
    response = mes_client.post(EVENTS, {"events": [event(0), event(5, state="down", reason="mould change")]},
                               format="json")

    assert response.status_code == 200
    assert response.json() == {"received": 2, "stored": 2, "duplicates": 0, "rejected": 0,
                               "duplicate_indices": [], "errors": []}
    stored = EquipmentStateEvent.objects.get(state="down")
    assert (stored.reason, stored.source, stored.equipment_id) == ("mould change", "token:MES-1", equipment.pk)


def test_each_rejected_event_is_named_by_index_field_and_code(mes_client, equipment):
    items = [
        event(0),
        event(1, equipment="IMM99"),
        event(2, ts="2026-11-20T08:02:00"),
        event(3, state="sleeping"),
        {"equipment": "IMM01"},
        "not an object",
        event(6, colour="red"),
        event(7, ts="2999-01-01T00:00:00Z"),
        event(8, reason="x" * 201),
    ]

    response = mes_client.post(EVENTS, {"events": items}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["stored"], body["rejected"]) == (1, 8)
    assert errors_by_index(body) == {
        1: {("equipment", "unknown_equipment")},
        2: {("ts", "timezone_missing")},
        3: {("state", "invalid_choice")},
        4: {("ts", "missing"), ("state", "missing")},
        5: {("", "not_an_object")},
        6: {("colour", "unknown_field")},
        7: {("ts", "in_future")},
        8: {("reason", "too_long")},
    }
    assert EquipmentStateEvent.objects.count() == 1


def test_resending_a_batch_stores_nothing_twice(mes_client, equipment):
    batch = {"events": [event(0), event(1, state="idle")]}
    mes_client.post(EVENTS, batch, format="json")

    again = mes_client.post(EVENTS, batch, format="json")

    assert again.status_code == 200
    assert (again.json()["stored"], again.json()["duplicates"], again.json()["duplicate_indices"]) == (0, 2, [0, 1])
    assert EquipmentStateEvent.objects.count() == 2


def test_same_instant_offset_spelling_is_the_same_event(mes_client, equipment):
    mes_client.post(EVENTS, {"events": [event(0)]}, format="json")

    again = mes_client.post(EVENTS, {"events": [event(0, ts="2026-11-20T16:00:00+08:00")]}, format="json")

    assert again.json()["duplicates"] == 1


def test_a_duplicate_inside_one_batch_is_stored_once(mes_client, equipment):
    response = mes_client.post(EVENTS, {"events": [event(0), event(0)]}, format="json")

    assert (response.json()["stored"], response.json()["duplicate_indices"]) == (1, [1])


def test_same_key_with_other_content_is_rejected_as_conflict_and_the_first_kept(mes_client, equipment):
    mes_client.post(EVENTS, {"events": [event(0, state="running")]}, format="json")

    response = mes_client.post(EVENTS, {"events": [event(0, state="down")]}, format="json")

    assert response.status_code == 422
    assert errors_by_index(response.json()) == {0: {("ts", "conflict")}}
    assert "running" in response.json()["errors"][0]["message"]
    assert EquipmentStateEvent.objects.get().state == "running"


def test_two_clients_reporting_the_same_instant_are_both_kept(mes_client, site, equipment):
    other_client, _token = token_client(site, name="SCADA-1")

    mes_client.post(EVENTS, {"events": [event(0)]}, format="json")
    response = other_client.post(EVENTS, {"events": [event(0)]}, format="json")

    assert response.json()["stored"] == 1
    assert sorted(EquipmentStateEvent.objects.values_list("source", flat=True)) == ["token:MES-1", "token:SCADA-1"]


def test_all_rejected_is_422(mes_client, equipment):
    response = mes_client.post(EVENTS, {"events": [event(0, state="?")]}, format="json")

    assert response.status_code == 422
    assert response.json()["rejected"] == 1


@pytest.mark.parametrize(("body", "code"), [
    ([event(0)], "invalid_body"),
    ({"items": [event(0)]}, "invalid_body"),
    ({"events": event(0)}, "invalid_body"),
    ({"events": []}, "empty_batch"),
    ({"events": [event(0)], "extra": 1}, "invalid_body"),
])
def test_malformed_envelope_is_a_400(mes_client, equipment, body, code):
    response = mes_client.post(EVENTS, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_malformed_json_is_a_400(mes_client, equipment):
    response = mes_client.post(EVENTS, '{"events": [', content_type="application/json")

    assert response.status_code == 400


def test_batch_over_the_limit_is_a_413_and_stores_nothing(mes_client, equipment, settings):
    settings.INGEST_MAX_BATCH = 3

    response = mes_client.post(EVENTS, {"events": [event(m) for m in range(4)]}, format="json")

    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"limit": 3, "received": 4}
    assert not EquipmentStateEvent.objects.exists()


# --- cycle times ---------------------------------------------------------------------------------------------------


def test_valid_cycles_are_stored_with_lot_and_shot_counter(mes_client, equipment):
    response = mes_client.post(CYCLES, {"cycles": [cycle(0, lot="L-1", shot_counter=1001), cycle(33)]}, format="json")

    assert response.json()["stored"] == 2
    first = CycleTimeRecord.objects.get(shot_counter=1001)
    assert (first.cycle_time_s, first.lot_code) == (32.5, "L-1")


@pytest.mark.parametrize(("overrides", "field", "code"), [
    ({"cycle_time_s": "32.5"}, "cycle_time_s", "wrong_type"),
    ({"cycle_time_s": True}, "cycle_time_s", "wrong_type"),
    ({"cycle_time_s": 0}, "cycle_time_s", "out_of_range"),
    ({"cycle_time_s": -3}, "cycle_time_s", "out_of_range"),
    ({"cycle_time_s": 1e9}, "cycle_time_s", "out_of_range"),
    ({"cycle_time_s": None}, "cycle_time_s", "missing"),
    ({"shot_counter": -1}, "shot_counter", "wrong_type"),
    ({"shot_counter": 1.5}, "shot_counter", "wrong_type"),
    ({"lot": 17}, "lot", "wrong_type"),
    ({"lot": "L" * 65}, "lot", "too_long"),
    ({"ts": 1732089600}, "ts", "wrong_type"),
    ({"ts": "yesterday"}, "ts", "invalid_timestamp"),
    ({"ts": "1999-12-31T23:59:59Z"}, "ts", "too_old"),
])
def test_bad_cycle_items_are_rejected_naming_field_and_code(mes_client, equipment, overrides, field, code):
    response = mes_client.post(CYCLES, {"cycles": [cycle(0, **overrides)]}, format="json")

    assert response.status_code == 422
    assert errors_by_index(response.json()) == {0: {(field, code)}}


def test_resent_cycles_are_duplicates(mes_client, equipment):
    batch = {"cycles": [cycle(0, lot="L-1"), cycle(33, lot="L-1")]}
    mes_client.post(CYCLES, batch, format="json")

    again = mes_client.post(CYCLES, batch, format="json")

    assert again.json()["duplicates"] == 2 and CycleTimeRecord.objects.count() == 2


def test_resent_cycle_with_another_time_is_a_conflict(mes_client, equipment):
    mes_client.post(CYCLES, {"cycles": [cycle(0)]}, format="json")

    response = mes_client.post(CYCLES, {"cycles": [cycle(0, cycle_time_s=40.0)]}, format="json")

    assert errors_by_index(response.json()) == {0: {("ts", "conflict")}}


# --- reading -------------------------------------------------------------------------------------------------------


@pytest.fixture
def history(mes_client, site, equipment):
    EquipmentFactory(code="IMM02", work_center=equipment.work_center, site=site)
    mes_client.post(EVENTS, {"events": [event(m) for m in range(5)] + [event(0, equipment="IMM02")]}, format="json")
    mes_client.post(CYCLES, {"cycles": [cycle(s, lot="L-1" if s < 30 else "L-2") for s in (0, 20, 40)]}, format="json")


def test_list_events_filtered_by_equipment_and_time(mes_client, history):
    response = mes_client.get(f"{EVENTS}?equipment=IMM01&since={ts(1)}&until={ts(3)}")

    assert response.status_code == 200
    assert [item["ts"] for item in response.json()["results"]] == [ts(2), ts(1)]  # newest first, until exclusive


def test_list_events_is_paginated(mes_client, history):
    body = mes_client.get(f"{EVENTS}?page_size=2").json()

    assert body["count"] == 6 and len(body["results"]) == 2 and body["next"]


def test_list_cycles_filtered_by_lot(mes_client, history):
    response = mes_client.get(f"{CYCLES}?lot=L-1")

    assert [item["ts"] for item in response.json()["results"]] == [ts(0, 20), ts(0, 0)]
    assert response.json()["results"][0]["equipment"] == "IMM01"


def test_list_with_naive_since_is_a_400(mes_client, history):
    response = mes_client.get(f"{EVENTS}?since=2026-11-20T08:00:00")

    assert response.status_code == 400
    assert "since" in response.json()["error"]["details"]


# --- access --------------------------------------------------------------------------------------------------------


def test_token_of_another_site_neither_sees_nor_writes_this_sites_machines(site, other_site, equipment, history):
    foreign_client, _token = token_client(other_site)

    assert foreign_client.get(EVENTS).json()["results"] == []
    response = foreign_client.post(EVENTS, {"events": [event(30)]}, format="json")
    assert errors_by_index(response.json()) == {0: {("equipment", "unknown_equipment")}}


def test_token_without_ingest_scope_is_refused(site, equipment):
    client, _token = token_client(site, scopes=("verdicts:read",))

    assert client.post(EVENTS, {"events": [event(0)]}, format="json").status_code == 403
    assert client.get(CYCLES).status_code == 403


def test_operator_may_post_and_the_username_is_the_source(site, equipment):
    client = user_client(UserFactory(username="op", role="operator", sites=[site]))

    response = client.post(CYCLES, {"cycles": [cycle(0)]}, format="json")

    assert response.json()["stored"] == 1
    assert CycleTimeRecord.objects.get().source == "op"


def test_auditor_may_read_but_not_post(site, equipment):
    client = user_client(UserFactory(username="aud", role="auditor", sites=[site]))

    assert client.get(EVENTS).status_code == 200
    assert client.post(EVENTS, {"events": [event(0)]}, format="json").status_code == 403
