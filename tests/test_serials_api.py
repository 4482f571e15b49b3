"""Serial numbers: recording (idempotent, all or nothing), conflicts between lots, limits, lookup by serial."""
import threading

import pytest
from django.db import connection

from qms.models import AuditEntry
from tests.factories import UserFactory, token_client, user_client
from tests.factories_trace import make_lots
from traceability.models import SerialNumber
from traceability.services.errors import Conflict
from traceability.services.serials import SERIAL_BATCH_LIMIT, record_serials


def post_serials(client, code, serials):
    return client.post(f"/api/v1/lots/{code}/serials/", {"serials": serials}, format="json")


def stored(lot) -> list[str]:
    return list(SerialNumber.objects.filter(lot=lot).order_by("serial").values_list("serial", flat=True))


@pytest.fixture
def lots(site):
    return make_lots(site, "P1", "P2")


def test_posting_serials_records_them(mes_client, lots):
    response = post_serials(mes_client, "P1", ["SN-2", "SN-1"])

    assert response.status_code == 201
    assert response.json() == {"lot": "P1", "site": "S1", "created": ["SN-2", "SN-1"], "existing": []}
    assert stored(lots["P1"]) == ["SN-1", "SN-2"]


def test_reposting_the_same_serials_changes_nothing(mes_client, lots):
    post_serials(mes_client, "P1", ["SN-1", "SN-2"])

    response = post_serials(mes_client, "P1", ["SN-2", "SN-1"])

    assert response.status_code == 200
    assert response.json()["created"] == [] and response.json()["existing"] == ["SN-2", "SN-1"]
    assert stored(lots["P1"]) == ["SN-1", "SN-2"]


def test_a_partly_new_batch_adds_only_the_new_ones(mes_client, lots):
    post_serials(mes_client, "P1", ["SN-1"])

    body = post_serials(mes_client, "P1", ["SN-1", "SN-3"]).json()

    assert (body["created"], body["existing"]) == (["SN-3"], ["SN-1"])


def test_recording_is_audited(mes_client, lots):
    post_serials(mes_client, "P1", ["SN-1"])

    entry = AuditEntry.objects.filter(model="traceability.serialnumber").get()
    assert (entry.object_repr, entry.changes["serials"][1]) == ("P1", ["SN-1"])


def test_serial_on_another_lot_of_the_site_is_409_naming_that_lot(mes_client, lots):
    post_serials(mes_client, "P1", ["SN-1"])

    response = post_serials(mes_client, "P2", ["SN-9", "SN-1"])

    assert response.status_code == 409
    error = response.json()["error"]
    assert "P1" in error["message"] and error["details"] == {"serials": [{"serial": "SN-1", "lot": "P1"}]}
    assert stored(lots["P2"]) == []  # all or nothing: SN-9 was not recorded either


def test_the_same_serial_in_another_site_is_independent(site, other_site, lots):
    foreign = make_lots(other_site, "P1")["P1"]
    record_serials(lots["P1"], ["SN-1"])

    assert record_serials(foreign, ["SN-1"]).created == ["SN-1"]


@pytest.mark.parametrize(("serials", "index"), [
    (["SN-1", ""], 1),
    (["SN-1", "   "], 1),
    (["SN-1", 7], 1),
    (["X" * 81], 0),
    (["SN-1", "SN 2"], 1),
    (["SN-1", "SN-2", "SN-1"], 2),
])
def test_a_bad_serial_is_400_naming_its_index(mes_client, lots, serials, index):
    response = post_serials(mes_client, "P1", serials)

    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [f"serials[{index}]"]
    assert stored(lots["P1"]) == []


@pytest.mark.parametrize("body", [{"serials": []}, {"serials": "SN-1"}, {"serial": ["SN-1"]}, ["SN-1"]])
def test_a_malformed_body_is_400(mes_client, lots, body):
    response = mes_client.post("/api/v1/lots/P1/serials/", body, format="json")

    assert response.status_code == 400


def test_a_batch_over_the_limit_is_413(mes_client, lots):
    response = post_serials(mes_client, "P1", [f"SN-{i}" for i in range(SERIAL_BATCH_LIMIT + 1)])

    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"count": SERIAL_BATCH_LIMIT + 1, "limit": SERIAL_BATCH_LIMIT}


def test_posting_to_an_unknown_lot_is_404(mes_client, lots):
    assert post_serials(mes_client, "NOPE", ["SN-1"]).status_code == 404


def test_posting_needs_the_ingest_scope(site, lots):
    client, _token = token_client(site, scopes=("verdicts:read",))

    assert post_serials(client, "P1", ["SN-1"]).status_code == 403


def test_an_auditor_may_read_but_not_record_serials(site, lots):
    auditor = user_client(UserFactory(username="auditor", role="auditor", sites=[site]))
    record_serials(lots["P1"], ["SN-1"])

    assert post_serials(auditor, "P1", ["SN-2"]).status_code == 403
    assert auditor.get("/api/v1/lots/P1/serials/").json() == {"lot": "P1", "site": "S1", "count": 1,
                                                             "serials": ["SN-1"]}


def test_serial_lookup_names_its_lot_and_links_the_trace(engineer_client, lots):
    record_serials(lots["P1"], ["SN-1"])

    body = engineer_client.get("/api/v1/serials/SN-1/").json()

    (entry,) = body["lots"]
    assert (body["serial"], entry["lot"], entry["site"]) == ("SN-1", "P1", "S1")
    assert entry["trace"].endswith("/api/v1/lots/P1/trace/?site=S1")
    assert engineer_client.get(entry["trace"]).status_code == 200


def test_serial_lookup_hides_other_sites(engineer_client, other_site):
    record_serials(make_lots(other_site, "FOREIGN")["FOREIGN"], ["SN-X"])

    assert engineer_client.get("/api/v1/serials/SN-X/").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_lots_claiming_one_serial_at_once_end_with_one_owner(site):
    lots = make_lots(site, "RACE-A", "RACE-B")
    barrier, outcomes = threading.Barrier(2), {}

    def claim(code):
        try:
            barrier.wait()
            record_serials(lots[code], ["SN-RACE"])
            outcomes[code] = "recorded"
        except Conflict:
            outcomes[code] = "conflict"
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(code,)) for code in lots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes.values()) == ["conflict", "recorded"]
    assert SerialNumber.objects.filter(serial="SN-RACE").count() == 1
