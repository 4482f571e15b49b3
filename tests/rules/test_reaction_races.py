"""A reaction that freezes a machine while a lot starts on it (real PostgreSQL locks): the alarm's audit entry locks
the chain head, a run start locks the equipment then appends its audit entry. The reaction takes the freeze's locks
before it raises the alarm, so the two queue up instead of deadlocking (which used to cost the freeze)."""
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from qms.models import Alarm, Characteristic, Equipment, Site
from qms.services import alarms, reactions, rule_cache
from qms.services.ingest import ingest_measurements
from tests.factories import LotFactory
from traceability.models import Hold, HoldLot
from traceability.services.lots import register_lot
from traceability.services.runs import start_lot_run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CODE = "IMM02.BARREL_Z2.TEMP"


@pytest.fixture
def site():
    rule_cache.reset()
    call_command("seed_demo", history_hours=0, stdout=open("/dev/null", "w"))
    return Site.objects.get(code="S1")


def _in_thread(call, outcomes: dict, name: str) -> threading.Thread:
    def run():
        try:
            outcomes[name] = call()
        except Exception as exc:  # the outcome under test may be an exception
            outcomes[name] = exc
        finally:
            connection.close()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_lot_starting_while_the_alarm_freezes_its_machine_queues_and_is_held(site):
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    imm02 = Equipment.objects.get(site=site, code="IMM02")
    register_lot(site, "L-RUN", equipment=imm02, started_at=t0 - timedelta(minutes=50))
    newcomer = LotFactory(site=site, code="L-NEXT")
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal
    raised, original_act, outcomes = threading.Event(), reactions._act, {}

    def act_after_a_pause(*args, **kwargs):  # the alarm is raised (head locked); the freeze comes next
        raised.set()
        time.sleep(0.8)
        return original_act(*args, **kwargs)

    with mock.patch.object(reactions, "_act", act_after_a_pause):
        excursion = _in_thread(lambda: ingest_measurements(
            site=site, items=[{"characteristic": CODE, "value": nominal + 4.0, "ts": t0.isoformat()}],
            source="token:test-mes"), outcomes, "excursion")
        assert raised.wait(20)
        start = _in_thread(lambda: start_lot_run(newcomer, imm02, t0 + timedelta(seconds=30), close_previous=True),
                           outcomes, "start")
        excursion.join(60)
        start.join(60)

    assert not any(isinstance(outcome, Exception) for outcome in outcomes.values()), outcomes
    alarm = Alarm.objects.get()
    assert "action_error" not in alarm.evidence
    hold = Hold.objects.get(alarm=alarm)
    assert set(HoldLot.objects.filter(hold=hold).values_list("lot__code", flat=True)) >= {"L-RUN", "L-NEXT"}


def test_a_lot_starting_while_the_alarm_clears_does_not_deadlock(site):
    """Clearing closes the alarm's open window: it locks that hold before its own audit entry, as a run start locks
    the holds its run joins before its audit entry."""
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    imm02 = Equipment.objects.get(site=site, code="IMM02")
    register_lot(site, "L-RUN", equipment=imm02, started_at=t0 - timedelta(minutes=50))
    newcomer = LotFactory(site=site, code="L-NEXT")
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal
    ingest_measurements(site=site, items=[{"characteristic": CODE, "value": nominal + 4.0, "ts": t0.isoformat()}],
                        source="token:test-mes")
    hold = Hold.objects.get()
    cleared, outcomes = threading.Event(), {}
    original = alarms._record_transition

    def pause_after_the_clear_event(alarm, kind, **kwargs):  # its audit entry holds the chain head now
        event = original(alarm, kind, **kwargs)
        if kind == "cleared":
            cleared.set()
            time.sleep(0.8)
        return event

    with mock.patch.object(alarms, "_record_transition", pause_after_the_clear_event):
        back = _in_thread(lambda: ingest_measurements(
            site=site, items=[{"characteristic": CODE, "value": nominal, "ts": (t0 + timedelta(seconds=60)).isoformat()}],
            source="token:test-mes"), outcomes, "clear")
        assert cleared.wait(20)
        start = _in_thread(lambda: start_lot_run(newcomer, imm02, t0 + timedelta(seconds=30), close_previous=True),
                           outcomes, "start")
        back.join(60)
        start.join(60)

    assert not any(isinstance(outcome, Exception) for outcome in outcomes.values()), outcomes
    hold.refresh_from_db()
    assert Alarm.objects.get().state == "cleared" and hold.window_end == t0 + timedelta(seconds=60)
    assert HoldLot.objects.filter(hold=hold, lot=newcomer).exists()           # it started inside the window
