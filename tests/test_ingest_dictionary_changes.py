"""The ingest reads the data dictionary for every batch: a change made anywhere (even a bulk UPDATE that leaves no
trace in updated_at) applies to the very next batch of the same process."""
import pytest

from qms.models import Characteristic
from qms.services.ingest import ingest_measurements

pytestmark = pytest.mark.django_db


def _ingest(characteristic, value, ts):
    items = [{"characteristic": characteristic.code, "value": value, "ts": ts}]
    return ingest_measurements(site=characteristic.site, items=items, source="test").body


def test_a_narrowed_physical_range_rejects_the_next_batch(characteristic):
    assert _ingest(characteristic, 350.0, "2026-11-24T08:00:00Z")["stored"] == 1
    Characteristic.objects.filter(pk=characteristic.pk).update(physical_max=300.0)
    assert _ingest(characteristic, 350.0, "2026-11-24T08:00:01Z")["rejected"] == 1


def test_a_retired_entry_refuses_the_next_batch(characteristic):
    assert _ingest(characteristic, 230.0, "2026-11-24T08:00:00Z")["stored"] == 1
    Characteristic.objects.filter(pk=characteristic.pk).update(status=Characteristic.Status.RETIRED)
    assert _ingest(characteristic, 230.0, "2026-11-24T08:00:01Z")["errors"][0]["code"] == "retired_characteristic"
