"""The runner's database backend when Celery runs in workers (REDIS_URL set): it sends the ingest task and reports a
batch delivered only once the database has it; a broker that refuses the task or a worker that never answers
leaves the batch in the outbox."""
import pytest
from kombu.exceptions import OperationalError as BrokerDown

from connectors import services
from connectors.outbox import Batch
from connectors.services import DjangoRunnerBackend
from connectors.tasks import ingest_readings
from qms.models import Measurement
from tests.factories import ConnectorFactory

pytestmark = pytest.mark.django_db


def deliver(backend, batch):
    """The backend method without its connection housekeeping (which would close the test's transaction)."""
    return DjangoRunnerBackend.deliver.__wrapped__(backend, batch)


@pytest.fixture
def celery_mode(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False


@pytest.fixture
def batch(characteristic):
    ConnectorFactory(site=characteristic.site, name="opc")
    envelope = {"connector": "S1/opc", "source_ref": "n", "characteristic": characteristic.code, "value": 231.0,
                "raw_value": 231.0, "quality": "good", "source_ts": "2026-11-24T08:00:00+00:00", "server_ts": None,
                "received_ts": "2026-11-24T08:00:00.100000+00:00", "seq": 1, "backfill": False, "lot": None,
                "equipment": "IMM01", "extra": {}}
    return Batch("e:S1/opc:1-1", "S1/opc", 1, 1, [envelope], 0)


def test_a_batch_counts_as_delivered_once_a_worker_stored_it(celery_mode, batch, monkeypatch):
    sent = []

    def worker(args, kwargs):          # what a worker does with the task: the same service, same batch id
        sent.append(args[0])
        services.store_readings(*args, **kwargs)

    monkeypatch.setattr(ingest_readings, "apply_async", lambda args, kwargs: worker(args, kwargs))
    assert deliver(DjangoRunnerBackend(confirm_wait_s=1), batch) is True
    assert sent == ["e:S1/opc:1-1"] and Measurement.objects.count() == 1


def test_no_confirmation_means_not_delivered_and_no_resend_before_its_time(celery_mode, batch, monkeypatch):
    sent = []
    monkeypatch.setattr(ingest_readings, "apply_async", lambda args, kwargs: sent.append(args[0]))
    backend = DjangoRunnerBackend(confirm_wait_s=0.1, resend_after_s=60)
    assert deliver(backend, batch) is False
    assert deliver(backend, batch) is False
    assert sent == ["e:S1/opc:1-1"]          # asked again later, not flooded


def test_a_broker_that_is_down_raises_so_the_runner_keeps_the_batch(celery_mode, batch, monkeypatch):
    def refuse(args, kwargs):
        raise BrokerDown("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(ingest_readings, "apply_async", refuse)
    with pytest.raises(BrokerDown):
        deliver(DjangoRunnerBackend(confirm_wait_s=0.1), batch)
    assert Measurement.objects.count() == 0
