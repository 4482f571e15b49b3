"""The reaction flow opens an NC draft: the seed rule (open_nc_draft on) on a real excursion, on PostgreSQL with real
commits so the seam fires after commit as in production."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from qms.models import Alarm, Characteristic, Equipment, Nonconformance, Site
from qms.seams import NcDraftRequest
from qms.services import rule_cache
from qms.services.ingest import ingest_measurements
from qms.services.nc import create_nc_draft_from_alarm
from traceability.models import Hold
from traceability.services.lots import register_lot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CODE = "IMM02.BARREL_Z2.TEMP"


@pytest.fixture
def plant():
    rule_cache.reset()
    call_command("seed_demo", history_hours=0, stdout=open("/dev/null", "w"))
    yield Site.objects.get(code="S1")
    rule_cache.reset()


def excursion(site):
    now = timezone.now().replace(microsecond=0)
    t0 = now - timedelta(minutes=5)
    imm02 = Equipment.objects.get(site=site, code="IMM02")
    lot = register_lot(site, "L-RUN", equipment=imm02, started_at=t0 - timedelta(minutes=50)).lot
    lot.quantity = 800
    lot.save()
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal
    for value, ts in ((nominal + 0.5, t0 - timedelta(seconds=10)), (nominal + 4.0, t0)):
        ingest_measurements(site=site, items=[{"characteristic": CODE, "value": value, "ts": ts.isoformat()}],
                            source="token:test-mes")
    return lot


def test_an_excursion_opens_a_prefilled_draft(plant):
    lot = excursion(plant)
    alarm = Alarm.objects.get()
    hold = Hold.objects.get()
    nc = Nonconformance.objects.get()
    assert (nc.state, nc.source, nc.severity, nc.alarm) == ("draft", "alarm", alarm.severity, alarm)
    assert nc.number == "NC-S1-000001" and nc.created_by is None
    assert nc.characteristic.code == CODE and nc.equipment.code == "IMM02"
    assert nc.line is not None and nc.line == nc.equipment.work_center.line
    assert list(nc.holds.all()) == [hold]
    assert [(entry.lot, entry.quantity) for entry in nc.lots.all()] == [(lot, 800)]
    assert nc.evidence["trigger"]["value"] == alarm.trigger_value
    assert nc.evidence["alarm"]["id"] == alarm.pk


def test_asking_twice_for_the_same_alarm_gives_the_same_draft(plant):
    excursion(plant)
    nc = Nonconformance.objects.get()
    alarm = Alarm.objects.get()
    again = create_nc_draft_from_alarm(NcDraftRequest(
        site_id=plant.pk, alarm_id=alarm.pk, rule_id=None, characteristic_id=None, equipment_id=None,
        hold_ids=(), evidence={}))
    assert again == nc and Nonconformance.objects.count() == 1
