"""A reaction that freezes or clears on a machine while a lot starts on it (real PostgreSQL locks). The alarm's audit
entry locks the chain head; a run start locks the equipment and the holds its run joins, then appends its own audit
entry. The reaction takes the freeze's locks before it raises the alarm, and a clear locks the windows it closes
before its event, so the two queue up instead of deadlocking (which used to cost the freeze or the run)."""
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from qms.models import Alarm, Characteristic, Equipment, Site
from qms.services import rule_cache
from qms.services.ingest import ingest_measurements
from tests.factories import LotFactory
from tests.race_helpers import while_paused
from traceability.models import Hold, HoldLot, Lot
from traceability.services.lots import register_lot
from traceability.services.runs import start_lot_run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CODE = "IMM02.BARREL_Z2.TEMP"


@dataclass
class Scene:
    site: Site
    imm02: Equipment
    newcomer: Lot         # a lot about to start on IMM02
    nominal: float
    t0: datetime

    def send(self, value: float, ts: datetime):
        return ingest_measurements(site=self.site, items=[{"characteristic": CODE, "value": value,
                                                           "ts": ts.isoformat()}], source="token:test-mes")

    def start_newcomer(self):
        return start_lot_run(self.newcomer, self.imm02, self.t0 + timedelta(seconds=30), close_previous=True)


@pytest.fixture
def scene():
    """The demo plant, lot L-RUN running on IMM02, L-NEXT about to start there."""
    rule_cache.reset()
    call_command("seed_demo", history_hours=0, stdout=open("/dev/null", "w"))
    site = Site.objects.get(code="S1")
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    imm02 = Equipment.objects.get(site=site, code="IMM02")
    register_lot(site, "L-RUN", equipment=imm02, started_at=t0 - timedelta(minutes=50))
    return Scene(site=site, imm02=imm02, newcomer=LotFactory(site=site, code="L-NEXT"), t0=t0,
                 nominal=Characteristic.objects.get(site=site, code=CODE).nominal)


def test_a_lot_starting_while_the_alarm_freezes_its_machine_queues_and_is_held(scene):
    # paused once the alarm is raised (its audit entry holds the chain head), before the freeze
    outcomes = while_paused("qms.services.alarms.raise_alarm",
                            lambda: scene.send(scene.nominal + 4.0, scene.t0), scene.start_newcomer)

    assert not any(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    alarm = Alarm.objects.get()
    assert "action_error" not in alarm.evidence
    hold = Hold.objects.get(alarm=alarm)
    assert set(HoldLot.objects.filter(hold=hold).values_list("lot__code", flat=True)) >= {"L-RUN", "L-NEXT"}


def test_a_lot_starting_while_the_alarm_clears_does_not_deadlock(scene):
    scene.send(scene.nominal + 4.0, scene.t0)
    hold = Hold.objects.get()
    # paused once the clear's event is recorded (its audit entry holds the chain head), before the windows close
    outcomes = while_paused("qms.services.alarms._record_transition",
                            lambda: scene.send(scene.nominal, scene.t0 + timedelta(seconds=60)), scene.start_newcomer)

    assert not any(isinstance(outcome, Exception) for outcome in outcomes), outcomes
    hold.refresh_from_db()
    assert Alarm.objects.get().state == "cleared" and hold.window_end == scene.t0 + timedelta(seconds=60)
    assert HoldLot.objects.filter(hold=hold, lot=scene.newcomer).exists()    # it started inside the window
