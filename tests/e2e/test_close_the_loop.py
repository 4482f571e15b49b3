"""Close the loop, end to end on the real stack (PostgreSQL, Redis, Celery worker, daphne, connector runner, MES
simulator over OPC UA): IMM02's barrel zone 2 drifts +4 °C → the supervisor's websocket gets the critical alarm →
the MES hears "hold" for IMM02's lots in the window and the lots made from them, "release" for IMM01's → the
supervisor acknowledges → the engineer releases one lot with an e-signature → that lot answers "release" again.
The audit trail has the acknowledgement and the signed release."""
from datetime import timedelta

import pytest

from tests.e2e import scenario
from tests.e2e.clients import AlarmFeed, BrowserSession, MesClient
from tests.e2e.conftest import PASSWORDS, SITE, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MEANING = "released after re-inspection"


def test_drift_on_imm02_alarms_the_supervisor_holds_its_lots_and_a_signed_release_frees_one(plant, stack):
    from connectors.models import WriteBackCommand
    from qms.models import Alarm, AuditEntry, ESignature, Nonconformance
    from traceability.models import HoldLot

    production = scenario.start_production(plant.site)
    mes = MesClient(stack.web_url, plant.mes_token)
    everything = {code: "release" for code in (*scenario.SUSPECT, *scenario.CLEAN)}
    assert scenario.verdicts(mes, everything) == everything, "before the drift every lot is released"

    supervisor = BrowserSession(stack.web_url).login("supervisor", PASSWORDS["supervisor"])
    engineer = BrowserSession(stack.web_url).login("engineer", PASSWORDS["engineer"])
    with AlarmFeed(stack.web_url, SITE, supervisor.cookie("sessionid")) as feed:
        source_ts = scenario.drift(stack.opcua_endpoint)
        event = scenario.wait_for_drift_alarm(feed)
        alarm_id = event["snapshot"]["id"]

        # The MES: IMM02's lot in the window and the lot made from it hold; IMM01's, and IMM02's old lot, release.
        expected = {**everything, **dict.fromkeys(scenario.SUSPECT, "hold")}
        scenario.wait_for_verdicts(mes, expected)
        # The window stays open until the alarm clears: the next lot starting on IMM02 is held from its start.
        scenario.next_lot_on_imm02(plant.site)
        assert scenario.verdicts(mes, ["E2E-IMM02-B"]) == {"E2E-IMM02-B": "hold"}

        acknowledged = supervisor.post(f"/api/v1/alarms/{alarm_id}/acknowledge/", {"comment": "checking IMM02 heater"})
        assert acknowledged.status == 200, f"acknowledge: {acknowledged}"
        feed.wait_for(lambda e: e.get("kind") == "acknowledged" and e["snapshot"]["id"] == alarm_id,
                      scenario.ALARM_TIMEOUT_S, "acknowledgement event")

    alarm = Alarm.objects.get(pk=alarm_id)
    assert alarm.trigger_ts >= source_ts - timedelta(milliseconds=1), "the alarm names the offending value's time"
    assert alarm.acknowledged_by.username == "supervisor" and alarm.contained_at is not None
    command = WriteBackCommand.objects.get(idempotency_key=f"alarm-{alarm_id}-hold")
    assert command.status == "shadow" and set(scenario.SUSPECT) <= set(command.value["lots"]), \
        f"the hold command to MES names the held lots: {command.value}"
    wait_for(lambda: Nonconformance.objects.filter(alarm_id=alarm_id, state="draft").exists(),
             scenario.ALARM_TIMEOUT_S, "the NC draft the rule opens for the alarm")

    held = HoldLot.objects.select_related("hold").get(lot=production.lots["E2E-IMM02-A"], hold__alarm_id=alarm_id)
    dispose = f"/api/v1/holds/{held.hold_id}/lots/E2E-IMM02-A/dispose/"
    wrong_password = engineer.post(dispose, {"disposition": "release", "password": "not-mine", "meaning": MEANING})
    assert (wrong_password.status, wrong_password.body["error"]["code"]) == (403, "signature_password"), \
        f"a wrong password must be refused: {wrong_password}"
    assert scenario.verdicts(mes, ["E2E-IMM02-A"]) == {"E2E-IMM02-A": "hold"}

    released = engineer.post(dispose, {"disposition": "release", "password": PASSWORDS["engineer"], "meaning": MEANING})
    assert released.status == 200, f"signed release: {released}"
    scenario.wait_for_verdicts(mes, {**expected, "E2E-IMM02-A": "release", "E2E-IMM02-B": "hold"})

    signature = ESignature.objects.get(record_model="traceability.holdlot", record_pk=str(held.pk))
    assert (signature.user.username, signature.meaning) == ("engineer", MEANING)
    trail = AuditEntry.objects.filter(site=plant.site)
    assert trail.filter(model__iexact="qms.alarm", object_pk=str(alarm_id), actor="supervisor",
                        changes__state__1="acknowledged").exists(), "the acknowledgement is in the audit trail"
    assert trail.filter(model__iexact="traceability.holdlot", object_pk=str(held.pk), actor="engineer",
                        changes__disposition__1="release").exists(), "the signed release is in the audit trail"
