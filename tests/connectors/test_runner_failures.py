"""The runner under failure, end to end into PostgreSQL: SIGKILL between the ingest commit and the outbox
confirmation, and the database being unreachable for a while. Stored == produced, in order, no duplicates."""
import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import OperationalError, connection, connections

from connectors.adapters import Adapter
from connectors.models import ConnectorStatus
from connectors.outbox import Outbox
from connectors.runner import Runner, RunnerSettings
from connectors.services import DjangoRunnerBackend
from qms.models import Measurement
from tests.factories import ConnectorFactory, TagMappingFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def tag(characteristic):
    connector = ConnectorFactory(site=characteristic.site, name="crash")
    return TagMappingFactory(connector=connector, characteristic=characteristic, source_ref="ns=2;s=Z2")


def run_process(outbox, count, kill_after=None):
    settings = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"}
    env.pop("REDIS_URL", None)   # in-process ingest: the subprocess stores through the same service
    args = [sys.executable, "-m", "tests.connectors.runner_process", str(outbox), "S1/crash", str(count)]
    if kill_after:
        args += ["--kill-after-deliveries", str(kill_after)]
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_sigkill_between_ingest_and_confirmation_loses_and_duplicates_nothing(tag, tmp_path):
    outbox = tmp_path / "runner.sqlite3"
    killed = run_process(outbox, 1000, kill_after=3)
    assert killed.returncode == -9, killed.stderr[-2000:]
    stored_before_restart = Measurement.objects.count()
    assert 0 < stored_before_restart < 1000
    assert Outbox(outbox).pending_count() > 0     # the batch the ingest committed is still in the outbox
    finished = run_process(outbox, 1000)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert Measurement.objects.count() == 1000
    assert Measurement.objects.values("ts").distinct().count() == 1000
    assert Outbox(outbox).pending_count() == 0


class Steady(Adapter):
    """Produces one reading every 10 ms with its own timestamp, up to `count`."""

    async def run(self):
        tag = self.spec.tags[0]
        start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
        self.health.connected()
        for i in range(self.spec.config["count"]):
            await self.emit([self.envelope(tag, 200.0, quality="good", source_ts=start + timedelta(milliseconds=i))])
            await asyncio.sleep(0.01)
        await asyncio.Event().wait()


class FlakyDatabase(DjangoRunnerBackend):
    """The database answers OperationalError while `down` is set (what psycopg2 raises when PostgreSQL is away)."""

    down = False

    def deliver(self, batch):
        if self.down:
            raise OperationalError("could not connect to server: Connection refused")
        return super().deliver(batch)


@pytest.mark.asyncio
async def test_readings_accumulate_while_the_database_is_down_and_drain_in_order(tag, tmp_path):
    from asgiref.sync import sync_to_async

    backend = FlakyDatabase()
    original_load = backend.load_specs

    def load():
        from dataclasses import replace

        return [replace(spec, config={**spec.config, "count": 300}) for spec in original_load()]

    backend.load_specs = load
    runner = Runner(Outbox(tmp_path / "o.sqlite3"), backend,
                    RunnerSettings(batch_size=40, flush_interval_s=0.01, retry_min_s=0.05, retry_max_s=0.2,
                                   status_interval_s=0.2, config_poll_s=60),
                    adapter_factory=lambda spec, sink, health: Steady(spec, sink, health))
    count = sync_to_async(Measurement.objects.count)
    backend.down = True
    task = asyncio.create_task(runner.run())
    await asyncio.sleep(1.5)
    assert await count() == 0
    buffered = runner.outbox.outbox.pending_count()
    assert buffered > 50
    backend.down = False
    deadline = time.monotonic() + 20
    while await count() < 300 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    runner.request_stop()
    await task
    rows = await sync_to_async(lambda: list(Measurement.objects.order_by("batch_id", "ts").values_list("ts", flat=True)))()
    assert len(rows) == 300
    assert rows == sorted(rows), "batches reached the database out of order"
    status = await sync_to_async(ConnectorStatus.objects.get)(connector=tag.connector)
    await sync_to_async(connections.close_all)()
    assert status.stored == 300 and status.buffered == 0


def test_run_connectors_stops_gracefully_on_sigterm_and_reports_stopped(tag, tmp_path):
    """The real command, its OPC UA connector pointed at a closed port: it keeps retrying (and says why), and on
    SIGTERM it stops its adapters, saves the status as 'stopped' and exits 0."""
    import signal

    from connectors.models import Connector

    settings = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
           "DATABASE_URL": f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"}
    env.pop("REDIS_URL", None)
    Connector.objects.filter(pk=tag.connector.pk).update(config={"endpoint": "opc.tcp://127.0.0.1:9/"})
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_connectors", "--outbox", str(tmp_path / "o.sqlite3"), "--config-poll", "0.2"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ConnectorStatus.objects.filter(connector=tag.connector).exists():
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output[-2000:]
    status = ConnectorStatus.objects.get(connector=tag.connector)
    assert status.state == "stopped"
    assert "Connect call failed" in status.last_error
