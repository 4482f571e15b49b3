"""The whole path through the REST API: alarm → NC draft → open → MRB disposition (two e-signed votes) → hold
decided → NC closed → 8D D0–D8 (each step approved by a colleague) → effectiveness "effective" from live data →
CAPA closed (e-signed), with the waiting votes and approvals notified on the way."""
from datetime import date, timedelta

import pytest
from django.utils import timezone

from qms.models import Capa, Notification
from qms.seams import NcDraftRequest
from qms.services import nc as nc_service
from tests.factories import user_client
from tests.factories_capa import COMPLETE, PASSWORD, CapaPlant
from tests.factories_holds import alarm_for
from traceability.models import HoldLot
from traceability.services.holds import place_hold

pytestmark = pytest.mark.django_db


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()


def test_alarm_to_closed_capa_through_the_api():
    plant = CapaPlant()
    lot = plant.product_lot("LOT-77", quantity=120.0)
    alarm = alarm_for(plant, "drift")
    hold = place_hold(plant.site, reason="drift", lots=[lot], alarm=alarm)
    draft = nc_service.create_nc_draft_from_alarm(NcDraftRequest(
        site_id=plant.site.pk, alarm_id=alarm.pk, rule_id=None, characteristic_id=None, equipment_id=plant.imm02.pk,
        hold_ids=(hold.pk,), evidence={"trigger_value": 238.4}))
    eng, eng2, sup = user_client(plant.engineer), user_client(plant.engineer2), user_client(plant.supervisor)
    nc_url = f"/api/v1/ncs/{draft.pk}"

    # NC: open (the opener becomes the reporter), disposition by the MRB
    nc = ok(eng.get(f"{nc_url}/"))
    assert nc["state"] == "draft" and [row["lot"] for row in nc["lots"]] == ["LOT-77"], nc
    ok(eng.post(f"{nc_url}/open/", {}, format="json"))
    ok(eng.post(f"{nc_url}/start-disposition/", {}, format="json"))
    rework = ok(eng.post(f"{nc_url}/dispositions/", {"lot": "LOT-77", "decision": "rework", "quantity": 20},
                         format="json"), 201)
    accept = ok(eng.post(f"{nc_url}/dispositions/", {"lot": "LOT-77", "decision": "use_as_is", "quantity": 100},
                         format="json"), 201)
    assert rework["approvals_required"] == 2
    assert Notification.objects.filter(kind="mrb_vote_waiting", user=plant.engineer2).count() == 2
    refused = eng.post(f"/api/v1/dispositions/{rework['id']}/approve/", {"vote": "approve", "password": PASSWORD,
                                                                         "meaning": "MRB"}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "separation_of_duties"
    ok(eng.post(f"{nc_url}/close/", {"password": PASSWORD, "meaning": "x"}, format="json"), 409)
    for disposition in (rework, accept):
        for voter in (eng2, sup):
            ok(voter.post(f"/api/v1/dispositions/{disposition['id']}/approve/",
                          {"vote": "approve", "password": PASSWORD, "meaning": "MRB"}, format="json"))
    nc = ok(eng.get(f"{nc_url}/"))
    assert nc["state"] == "dispositioned"
    assert HoldLot.objects.get(hold=hold).disposition == "rework"
    nc = ok(eng.post(f"{nc_url}/close/", {"password": PASSWORD, "meaning": "closed", "version": nc["version"]},
                     format="json"))
    assert nc["state"] == "closed" and nc["history"]

    # 8D: the engineer writes and submits, a colleague approves each step
    capa = ok(eng.post("/api/v1/capas/", {"title": "fix drift", "nonconformances": [nc["number"]]}, format="json"),
              201)
    capa_url = f"/api/v1/capas/{capa['id']}"

    def step(name):
        return next(row for row in ok(eng.get(f"{capa_url}/"))["steps"] if row["step"] == name)

    def walk(name, content=None):
        if content is not None:
            ok(eng.put(f"{capa_url}/steps/{name}/", {"content": content, "version": step(name)["version"]},
                       format="json"))
        ok(eng.post(f"{capa_url}/steps/{name}/submit/", {}, format="json"))
        ok(eng2.post(f"{capa_url}/steps/{name}/approve/", {"password": PASSWORD, "meaning": "approved",
                                                           "version": step(name)["version"]}, format="json"))

    walk("D0", COMPLETE["D0"])
    walk("D1", COMPLETE["D1"])
    ok(eng.post("/api/v1/actions/", {"title": "sort", "owner": "operator", "due_date": str(date.today()),
                                     "kind": "containment", "capa": capa["id"], "verification": "recheck",
                                     "equipment": "IMM02", "mes_instruction": True}, format="json"), 201)
    walk("D2", COMPLETE["D2"])
    walk("D3")
    cause = ok(eng.post(f"{capa_url}/root-causes/", {"category": "machine", "cause": "heater relay",
                                                     "whys": ["relay worn", "no PM"], "is_root_cause": True,
                                                     "verified": True}, format="json"), 201)
    cause_id = next(row["id"] for row in cause["root_causes"]) if "root_causes" in cause else cause["id"]
    walk("D4")
    fix = ok(eng.post("/api/v1/actions/", {"title": "replace relay", "owner": "engineer2",
                                           "due_date": str(date.today() + timedelta(days=3)),
                                           "kind": "corrective", "capa": capa["id"], "root_cause": cause_id},
                      format="json"), 201)
    walk("D5")
    ok(eng2.post(f"/api/v1/actions/{fix['id']}/complete/", {"note": "done"}, format="json"))
    walk("D6")
    walk("D7", COMPLETE["D7"])
    assert Notification.objects.filter(kind="step_approval_waiting", user=plant.engineer2).count() == 8

    # effectiveness from live data, then D8 and the signed closure
    t0 = timezone.now() - timedelta(days=20)
    plant.measurements([230 + (i % 5) for i in range(40)], t0)
    plant.measurements([230 + (i % 2) * 0.1 for i in range(40)], t0 + timedelta(days=10))
    current = ok(eng.get(f"{capa_url}/"))
    ok(eng.patch(f"{capa_url}/", {"version": current["version"], "characteristics": ["BARREL_Z2"],
                                  "baseline_start": t0.isoformat(), "baseline_end": (t0 + timedelta(days=5)).isoformat(),
                                  "effective_from": (t0 + timedelta(days=9)).isoformat()}, format="json"))
    checked = ok(eng.post(f"{capa_url}/effectiveness/", {}, format="json"))
    assert checked["effectiveness"] == "effective", checked
    walk("D8", COMPLETE["D8"])
    version = ok(eng.get(f"{capa_url}/"))["version"]
    ok(eng2.post(f"{capa_url}/close/", {"password": PASSWORD, "meaning": "closed", "version": version},
                 format="json"))
    assert Capa.objects.get(pk=capa["id"]).state == "closed"
    assert user_client(plant.engineer).get(f"/story/capa/{capa['id']}/").status_code == 200
