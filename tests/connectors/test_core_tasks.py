"""The Celery tasks run in-process (embedded default): the ingest task stores once per batch id; the watchdog
task counts newly stale tags."""
from datetime import UTC, datetime, timedelta

import pytest

from connectors.envelope import Envelope
from connectors.models import TagMapping
from connectors.tasks import ingest_readings, watch_staleness
from qms.models import Measurement
from tests.factories import ConnectorFactory, TagMappingFactory

pytestmark = pytest.mark.django_db


def test_ingest_task_stores_a_batch_once(characteristic):
    connector = ConnectorFactory(site=characteristic.site, name="opc")
    now = datetime.now(UTC)
    envelopes = [Envelope(connector="S1/opc", source_ref="n", characteristic=characteristic.code, value=230.0 + i,
                          raw_value=230.0 + i, quality="good", source_ts=now - timedelta(seconds=i), server_ts=None,
                          received_ts=now, seq=i + 1).to_json() for i in range(3)]
    first = ingest_readings.delay("e:S1/opc:1-3", envelopes, connector_id=connector.pk).get()
    again = ingest_readings.delay("e:S1/opc:1-3", envelopes, connector_id=connector.pk).get()
    assert (first["stored"], again["replayed"]) == (3, True)
    assert Measurement.objects.count() == 3


def test_watchdog_task_marks_silent_tags(characteristic):
    characteristic.update_period_s = 1.0
    characteristic.save()
    tag = TagMappingFactory(connector=ConnectorFactory(site=characteristic.site), characteristic=characteristic)
    TagMapping.objects.filter(pk=tag.pk).update(last_value_at=datetime.now(UTC) - timedelta(seconds=10))
    assert watch_staleness.delay().get() == 1
    assert watch_staleness.delay().get() == 0
