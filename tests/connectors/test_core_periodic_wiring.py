"""The periodic work of the protocol kinds is wired in: Celery beat names only tasks the worker registers, and the
embedded default's periodic jobs (run by the runner instead of beat) poll the intermediate tables."""
import json
import os
import sqlite3
import subprocess
import sys

import pytest
from django.conf import settings

from connectors import services
from connectors.bootstrap import build_runner
from qms.models import Measurement
from tests.factories import CharacteristicFactory, ConnectorFactory


def test_every_beat_entry_names_a_task_the_worker_registers():
    # A fresh interpreter, as a worker starts: in this test process other tests may already have imported the tasks.
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from qms.celery import app\n"
        "app.loader.import_default_modules()\n"
        "scheduled = {entry['task'] for entry in settings.CELERY_BEAT_SCHEDULE.values()}\n"
        "print(json.dumps({'scheduled': sorted(scheduled), 'unregistered': sorted(scheduled - set(app.tasks))}))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run([sys.executable, "-c", "import json\n" + script], capture_output=True, text=True, env=env,
                          cwd=settings.BASE_DIR, timeout=120, check=True)
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"connectors.table.tasks.poll_intermediate_tables", "connectors.files.tasks.poll_file_drops"} <= set(
        outcome["scheduled"])
    assert outcome["unregistered"] == []


def test_the_protocol_polls_run_on_the_periodic_queue():
    for task in ("connectors.table.tasks.poll_intermediate_tables", "connectors.files.tasks.poll_file_drops"):
        assert settings.CELERY_TASK_ROUTES[task] == {"queue": "periodic"}


def test_the_embedded_runner_hosts_the_periodic_jobs(tmp_path, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    runner = build_runner(outbox=tmp_path / "outbox.sqlite3")
    assert services.run_periodic_jobs in [job for _interval, job in runner.settings.periodic]


@pytest.fixture
def table_connector(site, tmp_path):
    path = tmp_path / "mes.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE qc_results (id INTEGER PRIMARY KEY AUTOINCREMENT, measured_at TEXT, temp_z2 TEXT, "
                   "qms_status INTEGER NOT NULL DEFAULT 0)")
        db.executemany("INSERT INTO qc_results (measured_at, temp_z2) VALUES (?, ?)",
                       [("2026-11-28 08:00:00", "231.5"), ("2026-11-28 08:00:30", "232.0")])
    CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMP")
    ConnectorFactory(site=site, name="mes-table", kind="table", config={
        "url": f"sqlite:///{path}", "table": "qc_results", "ts_column": "measured_at", "timezone": "Asia/Shanghai",
        "value_columns": {"temp_z2": "IMM01.BARREL_Z2.TEMP"},
    })
    return path


def pending_rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM qc_results WHERE qms_status = 0").fetchone()[0]


@pytest.mark.django_db
def test_the_periodic_jobs_poll_an_intermediate_table(table_connector):
    services.run_periodic_jobs()
    stored = Measurement.objects.filter(characteristic__code="IMM01.BARREL_Z2.TEMP").order_by("ts")
    assert [m.value for m in stored] == [231.5, 232.0]
    assert pending_rows(table_connector) == 0


@pytest.mark.django_db
def test_a_failing_staleness_check_does_not_stop_the_table_poll(table_connector, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("watchdog broke")

    monkeypatch.setattr(services, "check_staleness", broken)
    services.run_periodic_jobs()
    assert Measurement.objects.count() == 2
