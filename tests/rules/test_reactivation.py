"""A second excursion before the alarm is closed: the cleared alarm becomes active again (a repeat, not a new
alarm) and the rule contains again — a new freeze window from this trigger's last good value, a second hold command,
notifications — without a second NC draft (PostgreSQL, real commits)."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from connectors.models import WriteBackCommand
from qms.models import Alarm, Characteristic, Equipment, Nonconformance, Site
from qms.services import rule_cache
from qms.services.ingest import ingest_measurements
from traceability.models import Hold
from traceability.services.lots import register_lot
from traceability.verdicts.compute import compute_verdicts_for_codes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CODE = "IMM02.BARREL_Z2.TEMP"


@pytest.fixture
def plant():
    rule_cache.reset()
    call_command("seed_demo", history_hours=0, stdout=open("/dev/null", "w"))
    return Site.objects.get(code="S1")


def send(site, value, ts):
    result = ingest_measurements(site=site, items=[{"characteristic": CODE, "value": value, "ts": ts.isoformat()}],
                                 source="token:test-mes")
    assert result.body["stored"] == 1, result.body


def test_second_excursion_before_closing_freezes_again(plant):
    site = plant
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    imm02 = Equipment.objects.get(site=site, code="IMM02")
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal
    send(site, nominal, t0 - timedelta(seconds=10))
    send(site, nominal + 4.0, t0)                                   # first excursion
    send(site, nominal, t0 + timedelta(seconds=2))                  # cleared: first window closed
    register_lot(site, "L-2", equipment=imm02, started_at=t0 + timedelta(seconds=30))
    assert compute_verdicts_for_codes(site.pk, ["L-2"])["L-2"].verdict == "release"

    send(site, nominal + 4.0, t0 + timedelta(seconds=60))          # second excursion, alarm not closed

    alarm = Alarm.objects.get()
    assert alarm.state == "active_unacknowledged" and alarm.occurrences == 2
    assert compute_verdicts_for_codes(site.pk, ["L-2"])["L-2"].verdict == "hold"
    second = Hold.objects.filter(alarm=alarm).order_by("pk").last()
    assert Hold.objects.filter(alarm=alarm).count() == 2
    assert second.window_start == t0 + timedelta(seconds=2) and second.window_end is None
    assert sorted(WriteBackCommand.objects.values_list("idempotency_key", flat=True)) == [
        f"alarm-{alarm.pk}-hold", f"alarm-{alarm.pk}-hold-2"]
    assert Nonconformance.objects.filter(alarm=alarm).count() == 1


def test_a_repeat_on_an_active_alarm_still_freezes_nothing(plant):
    site = plant
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal
    send(site, nominal + 4.0, t0)
    send(site, nominal + 4.5, t0 + timedelta(seconds=5))
    assert Hold.objects.count() == 1 and WriteBackCommand.objects.count() == 1
