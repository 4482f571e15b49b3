"""Lot runs: one lot at a time per machine (unless said otherwise), closing runs, and the time-window query."""
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from tests.factories import EquipmentFactory, LotFactory
from traceability import services
from traceability.models import LotRun


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 20, hour, minute, tzinfo=UTC)


def iso(hour: int, minute: int = 0) -> str:
    return at(hour, minute).isoformat().replace("+00:00", "Z")


@pytest.fixture
def imm02(site, equipment):
    return EquipmentFactory(code="IMM02", work_center=equipment.work_center, site=site)


@pytest.fixture
def lot_a(site):
    return LotFactory(site=site, code="L-A")


@pytest.fixture
def lot_b(site):
    return LotFactory(site=site, code="L-B")


def runs_url(code):
    return f"/api/v1/lots/{code}/runs/"


# --- the overlap rule (API) ----------------------------------------------------------------------------------------


def test_starting_a_lot_on_a_busy_machine_is_refused_naming_the_running_lot(mes_client, equipment, lot_a, lot_b):
    mes_client.post(runs_url("L-A"), {"equipment": "IMM01", "started_at": iso(8)}, format="json")

    response = mes_client.post(runs_url("L-B"), {"equipment": "IMM01", "started_at": iso(9)}, format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert "L-A" in error["message"] and "close_previous" in error["message"]
    assert error["details"]["overlapping_runs"][0]["lot"] == "L-A"
    assert LotRun.objects.filter(lot=lot_b).count() == 0


def test_close_previous_ends_the_running_lot_at_the_new_start(mes_client, equipment, lot_a, lot_b):
    mes_client.post(runs_url("L-A"), {"equipment": "IMM01", "started_at": iso(8)}, format="json")

    response = mes_client.post(
        runs_url("L-B"), {"equipment": "IMM01", "started_at": iso(9), "close_previous": True}, format="json"
    )

    assert response.status_code == 201
    assert LotRun.objects.get(lot=lot_a).ended_at == at(9)
    assert LotRun.objects.get(lot=lot_b).ended_at is None


def test_close_previous_records_why_in_the_history(equipment, lot_a, lot_b):
    services.start_lot_run(lot_a, equipment, at(8))
    services.start_lot_run(lot_b, equipment, at(9), close_previous=True)

    closing = LotRun.history.filter(lot_id=lot_a.pk).order_by("-history_id").first()
    assert "L-B" in closing.history_change_reason


def test_close_previous_does_not_cut_into_a_closed_run(equipment, lot_a, lot_b):
    services.start_lot_run(lot_a, equipment, at(8), ended_at=at(10))

    with pytest.raises(services.Conflict):
        services.start_lot_run(lot_b, equipment, at(9), close_previous=True)


def test_runs_may_meet_back_to_back(equipment, lot_a, lot_b):
    services.start_lot_run(lot_a, equipment, at(8), ended_at=at(10))

    run, created = services.start_lot_run(lot_b, equipment, at(10))

    assert created and run.started_at == at(10)


def test_a_closed_run_inside_another_is_refused(equipment, lot_a, lot_b):
    services.start_lot_run(lot_a, equipment, at(8), ended_at=at(12))

    with pytest.raises(services.Conflict):
        services.start_lot_run(lot_b, equipment, at(9), ended_at=at(10))


def test_a_run_before_the_open_one_that_reaches_into_it_is_refused(equipment, lot_a, lot_b):
    services.start_lot_run(lot_a, equipment, at(10))

    with pytest.raises(services.Conflict):
        services.start_lot_run(lot_b, equipment, at(8), ended_at=at(11))


def test_concurrent_runs_are_allowed_when_declared_and_marked(equipment, lot_a, lot_b):
    services.start_lot_run(lot_a, equipment, at(8))

    run, created = services.start_lot_run(lot_b, equipment, at(8), concurrent=True)

    assert created and run.concurrent


def test_the_same_lot_on_two_machines_is_fine(equipment, imm02, lot_a):
    services.start_lot_run(lot_a, equipment, at(8))
    services.start_lot_run(lot_a, imm02, at(8))

    assert lot_a.runs.count() == 2


def test_restarting_the_same_run_is_idempotent(mes_client, equipment, lot_a):
    body = {"equipment": "IMM01", "started_at": iso(8)}
    first = mes_client.post(runs_url("L-A"), body, format="json")

    again = mes_client.post(runs_url("L-A"), body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert LotRun.objects.count() == 1


def test_run_on_equipment_of_another_site_is_refused(lot_a, other_site):
    foreign = EquipmentFactory(code="IMM01", work_center__line__area__site=other_site, site=other_site)

    with pytest.raises(ValidationError):
        services.start_lot_run(lot_a, foreign, at(8))


def test_run_end_before_start_is_refused(mes_client, equipment, lot_a):
    response = mes_client.post(
        runs_url("L-A"), {"equipment": "IMM01", "started_at": iso(9), "ended_at": iso(8)}, format="json"
    )

    assert response.status_code == 400


# --- ending runs ---------------------------------------------------------------------------------------------------


def test_end_closes_the_open_run(mes_client, equipment, lot_a):
    services.start_lot_run(lot_a, equipment, at(8))

    response = mes_client.post("/api/v1/lots/L-A/end/", {"ended_at": iso(11)}, format="json")

    assert response.status_code == 200
    assert response.json()["ended_at"] == iso(11)


def test_end_retried_is_idempotent_and_another_end_is_a_conflict(mes_client, equipment, lot_a):
    services.start_lot_run(lot_a, equipment, at(8))
    mes_client.post("/api/v1/lots/L-A/end/", {"ended_at": iso(11)}, format="json")

    retry = mes_client.post("/api/v1/lots/L-A/end/", {"ended_at": iso(11)}, format="json")
    other = mes_client.post("/api/v1/lots/L-A/end/", {"ended_at": iso(12)}, format="json")

    assert retry.status_code == 200
    assert other.status_code == 409
    assert LotRun.objects.get(lot=lot_a).ended_at == at(11)


def test_end_of_a_lot_on_two_machines_needs_the_equipment(mes_client, equipment, imm02, lot_a):
    services.start_lot_run(lot_a, equipment, at(8))
    services.start_lot_run(lot_a, imm02, at(8))

    ambiguous = mes_client.post("/api/v1/lots/L-A/end/", {"ended_at": iso(11)}, format="json")
    named = mes_client.post("/api/v1/lots/L-A/end/", {"ended_at": iso(11), "equipment": "IMM02"}, format="json")

    assert ambiguous.status_code == 400
    assert "IMM01, IMM02" in ambiguous.json()["error"]["message"]
    assert named.status_code == 200 and named.json()["equipment"] == "IMM02"


def test_patch_run_with_ended_at_closes_it(mes_client, equipment, lot_a):
    run, _created = services.start_lot_run(lot_a, equipment, at(8))

    response = mes_client.patch(f"{runs_url('L-A')}{run.pk}/", {"ended_at": iso(9, 30)}, format="json")

    assert response.status_code == 200
    run.refresh_from_db()
    assert run.ended_at == at(9, 30)


def test_patch_run_refuses_other_fields(mes_client, equipment, lot_a):
    run, _created = services.start_lot_run(lot_a, equipment, at(8))

    response = mes_client.patch(f"{runs_url('L-A')}{run.pk}/", {"started_at": iso(7)}, format="json")

    assert response.status_code == 400
    run.refresh_from_db()
    assert run.started_at == at(8)


def test_end_without_open_run_is_a_conflict(mes_client, lot_a):
    response = mes_client.post("/api/v1/lots/L-A/end/", {"ended_at": iso(11)}, format="json")

    assert response.status_code == 409


def test_lot_runs_list_shows_what_runs_now(mes_client, equipment, imm02, lot_a, lot_b):
    services.start_lot_run(lot_a, equipment, at(8), ended_at=at(9))
    services.start_lot_run(lot_b, imm02, at(8))

    response = mes_client.get("/api/v1/lot-runs/?open=true")

    assert [(r["lot"], r["equipment"]) for r in response.json()["results"]] == [("L-B", "IMM02")]


# --- lots_on_equipment_between -------------------------------------------------------------------------------------


@pytest.fixture
def shift(equipment, imm02, site):
    """IMM01: L-EARLY 06-08, L-EDGE-IN 08-10, L-MID 10-12, L-LATE 12-14, L-OPEN from 14 (open). IMM02: L-OTHER."""
    plan = [("L-EARLY", 6, 8), ("L-EDGE-IN", 8, 10), ("L-MID", 10, 12), ("L-LATE", 12, 14), ("L-OPEN", 14, None)]
    for code, start, end in plan:
        services.start_lot_run(LotFactory(site=site, code=code), equipment, at(start),
                               ended_at=at(end) if end else None)
    services.start_lot_run(LotFactory(site=site, code="L-OTHER"), imm02, at(9), ended_at=at(11))
    return equipment


def window(equipment, start, end, **kwargs):
    return sorted(services.lots_on_equipment_between(equipment, start, end, **kwargs).values_list("code", flat=True))


def test_window_finds_lots_overlapping_it(shift):
    assert window(shift, at(9), at(11)) == ["L-EDGE-IN", "L-MID"]


def test_window_ends_are_inclusive(shift):
    # L-EARLY ended exactly at the window's start; L-LATE started exactly at its end: both touched the window.
    assert window(shift, at(8), at(12)) == ["L-EARLY", "L-EDGE-IN", "L-LATE", "L-MID"]


def test_window_inside_one_run(shift):
    assert window(shift, at(10, 15), at(10, 45)) == ["L-MID"]


def test_open_run_counts_as_running_until_now(shift):
    assert window(shift, at(15), at(16)) == ["L-OPEN"]
    assert window(shift, at(13), None) == ["L-LATE", "L-OPEN"]


def test_open_run_does_not_count_for_a_window_that_starts_after_now(shift):
    assert window(shift, at(15), at(16), now=at(14, 30)) == []


def test_open_run_started_after_the_window_does_not_count(shift):
    assert window(shift, at(13), at(13, 30)) == ["L-LATE"]


def test_window_is_per_equipment(shift, imm02):
    assert window(imm02, at(6), at(20)) == ["L-OTHER"]


def test_window_lists_a_lot_once_however_many_runs_it_had(shift, site):
    lot = LotFactory(site=site, code="L-TWICE")
    services.start_lot_run(lot, shift, at(2), ended_at=at(3))
    services.start_lot_run(lot, shift, at(4), ended_at=at(5))

    assert window(shift, at(1), at(5, 30)) == ["L-TWICE"]


def test_window_accepts_an_equipment_id(shift):
    assert window(shift.pk, at(9), at(11)) == ["L-EDGE-IN", "L-MID"]


def test_window_ending_before_it_starts_is_refused(shift):
    with pytest.raises(ValidationError):
        services.lots_on_equipment_between(shift, at(12), at(11))


def test_window_with_naive_bounds_is_refused(shift):
    with pytest.raises(ValidationError):
        services.lots_on_equipment_between(shift, datetime(2026, 11, 20, 9), at(11))


def test_window_query_is_one_statement(shift, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(services.lots_on_equipment_between(shift, at(9), at(11)))


def test_window_relative_to_now(shift, site, equipment):
    now = datetime.now(UTC)
    lot = LotFactory(site=site, code="L-NOW")
    services.start_lot_run(lot, equipment, now - timedelta(minutes=5), close_previous=True)

    assert window(equipment, now - timedelta(minutes=1), now) == ["L-NOW"]
