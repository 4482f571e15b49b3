"""Beat entries, the tasks (also run by the embedded runner without Celery), the overview tile, the admin."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from qms.alarm_tasks import escalate_overdue, unshelve_expired
from qms.models import AlarmEvent
from qms.services.alarms import shelve_alarm
from qms.web.alarm_tiles import alarm_tiles, format_duration
from tests.factories import UserFactory
from tests.factories_alarms import raise_test_alarm


def test_beat_schedules_escalation_and_shelving_expiry_every_minute_on_the_periodic_queue():
    tasks = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for name in ("qms.alarm_tasks.escalate_overdue", "qms.alarm_tasks.unshelve_expired"):
        assert tasks[name]["schedule"] == 60.0
        assert settings.CELERY_TASK_ROUTES[name] == {"queue": "periodic"}


def test_embedded_runner_runs_the_alarm_jobs(monkeypatch):
    import connectors.services as connector_services

    ran = []
    for name in ("check_staleness",):
        monkeypatch.setattr(connector_services, name, lambda: None)
    monkeypatch.setattr("connectors.table.service.poll_all_tables", lambda: None)
    monkeypatch.setattr("connectors.files.service.poll_all_file_drops", lambda: None)
    monkeypatch.setattr("spc.tasks.close_time_windows", lambda: None)
    monkeypatch.setattr("qms.alarm_tasks.escalate_overdue", lambda: ran.append("escalate"))
    monkeypatch.setattr("qms.alarm_tasks.unshelve_expired", lambda: ran.append("unshelve"))
    connector_services.run_periodic_jobs()
    assert ran == ["escalate", "unshelve"]


@pytest.mark.django_db
def test_unshelve_task_acts_as_the_beat(site):
    supervisor = UserFactory(username="supervisor", role="supervisor", sites=[site])
    now = timezone.now()
    alarm = raise_test_alarm(site, now=now).alarm
    shelve_alarm(alarm.pk, user=supervisor, reason="x", until=now + timedelta(seconds=1), now=now)
    type(alarm).objects.filter(pk=alarm.pk).update(shelved_until=now - timedelta(seconds=1))
    assert unshelve_expired.delay().get() == 1
    assert AlarmEvent.objects.get(alarm=alarm, kind="unshelved").actor == "system:alarm-beat"
    assert escalate_overdue.delay().get() == 0


@pytest.mark.django_db
def test_overview_tile(site):
    supervisor = UserFactory(username="supervisor", role="supervisor", sites=[site])
    raise_test_alarm(site, now=timezone.now())
    [tile] = alarm_tiles(site, supervisor)
    assert tile.value == 1 and tile.tone == "bad" and "1 unacknowledged" in tile.hint


@pytest.mark.django_db
def test_no_tile_without_view_permission(site):
    assert alarm_tiles(site, UserFactory(username="nobody", sites=[site])) == []


@pytest.mark.parametrize(("seconds", "text"), [(None, "—"), (42, "42 s"), (600, "10 min"), (9000, "2.5 h")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.django_db
def test_admin_shows_alarms_read_only(admin_client, site):
    alarm = raise_test_alarm(site).alarm
    assert admin_client.get("/admin/qms/alarm/").status_code == 200
    assert admin_client.get(f"/admin/qms/alarm/{alarm.pk}/change/").status_code == 200
    assert admin_client.get("/admin/qms/alarmevent/add/").status_code == 403
