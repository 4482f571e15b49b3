"""The seed rule end to end on PostgreSQL (real commits, so every seam fires as in production):
IMM02 barrel zone 2 at nominal + 4 °C → one critical alarm, a hold of IMM02's lots in the window plus the lots made
from them, a hold command, one NC draft request; the same trigger again → the same alarm, nothing frozen twice;
the value back at nominal → alarm cleared, hold window closed."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from connectors.models import WriteBackCommand
from qms.models import Alarm, Characteristic, Equipment, Site
from qms.seams import nc_draft_requested
from qms.services import rule_cache
from qms.services.ingest import ingest_measurements
from traceability.models import Hold, HoldLot
from traceability.services.genealogy import add_genealogy_edge
from traceability.services.lots import register_lot

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CODE = "IMM02.BARREL_Z2.TEMP"


@pytest.fixture
def plant():
    rule_cache.reset()
    call_command("seed_demo", history_hours=0, stdout=open("/dev/null", "w"))
    return Site.objects.get(code="S1")


@pytest.fixture
def nc_requests():
    received = []

    def listener(sender, request, **kwargs):
        received.append(request)

    nc_draft_requested.connect(listener, dispatch_uid="test-nc-listener")
    yield received
    nc_draft_requested.disconnect(dispatch_uid="test-nc-listener")


def send(site, value, ts):
    result = ingest_measurements(site=site, items=[{"characteristic": CODE, "value": value, "ts": ts.isoformat()}],
                                 source="token:test-mes")
    assert result.body["stored"] == 1, result.body


def test_excursion_freezes_alarms_and_clears(plant, nc_requests):
    site = plant
    now = timezone.now().replace(microsecond=0)
    t0 = now - timedelta(minutes=5)
    imm01, imm02 = (Equipment.objects.get(site=site, code=code) for code in ("IMM01", "IMM02"))
    earlier = register_lot(site, "L-EARLY", equipment=imm02, started_at=t0 - timedelta(hours=2),
                           ended_at=t0 - timedelta(hours=1)).lot
    running = register_lot(site, "L-RUN", equipment=imm02, started_at=t0 - timedelta(minutes=50)).lot
    other = register_lot(site, "L-IMM01", equipment=imm01, started_at=t0 - timedelta(minutes=50)).lot
    assembled = register_lot(site, "L-ASSY", kind="material").lot
    add_genealogy_edge(running, assembled)
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal

    send(site, nominal + 0.5, t0 - timedelta(seconds=10))   # last good value
    send(site, nominal + 4.0, t0)                             # the excursion

    alarm = Alarm.objects.get()
    assert (alarm.severity, alarm.state, alarm.trigger_value, alarm.occurrences) == (
        "critical", "active_unacknowledged", nominal + 4.0, 1)
    assert alarm.equipment == imm02 and alarm.contained_at is not None
    hold = Hold.objects.get()
    assert hold.alarm == alarm and hold.window_start == t0 - timedelta(seconds=10) and hold.window_end is None
    held = set(HoldLot.objects.filter(hold=hold).values_list("lot__code", flat=True))
    assert held == {"L-RUN", "L-ASSY"}
    assert earlier.code not in held and other.code not in held
    command = WriteBackCommand.objects.get()
    assert command.idempotency_key == f"alarm-{alarm.pk}-hold" and command.status == "shadow"
    assert command.value["lots"] == ["L-ASSY", "L-RUN"]
    assert [(r.alarm_id, r.hold_ids) for r in nc_requests] == [(alarm.pk, (hold.pk,))]
    assert nc_requests[0].evidence["value"] == nominal + 4.0

    send(site, nominal + 4.2, t0 + timedelta(seconds=1))    # the same trigger again

    alarm.refresh_from_db()
    assert alarm.occurrences == 2 and Alarm.objects.count() == 1
    assert Hold.objects.count() == 1 and WriteBackCommand.objects.count() == 1 and len(nc_requests) == 1

    send(site, nominal, t0 + timedelta(seconds=2))           # back to normal

    alarm.refresh_from_db()
    hold.refresh_from_db()
    assert alarm.state == "cleared" and alarm.cleared_at == t0 + timedelta(seconds=2)
    assert hold.window_end == t0 + timedelta(seconds=2)


def test_a_redelivered_batch_raises_nothing_new(plant, nc_requests):
    site = plant
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal
    items = [{"characteristic": CODE, "value": nominal + 4.0, "ts": t0.isoformat()}]
    for _attempt in range(2):
        ingest_measurements(site=site, items=items, source="token:test-mes", idempotency_key="batch-1")
    assert Alarm.objects.get().occurrences == 1
    assert Hold.objects.count() == 1 and len(nc_requests) == 1


def test_another_process_clears_what_this_one_raised(plant):
    """Return to normal does not depend on this process remembering the raise: the open keys come from the
    database (here: this process's memory is wiped between the raise and the good value)."""
    site = plant
    t0 = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    nominal = Characteristic.objects.get(site=site, code=CODE).nominal
    send(site, nominal + 4.0, t0)
    rule_cache.reset()
    send(site, nominal, t0 + timedelta(seconds=1))
    assert Alarm.objects.get().state == "cleared"
