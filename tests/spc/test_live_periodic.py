"""Closing elapsed time windows is scheduled: by Celery beat in production, by the connector runner's periodic
jobs in the embedded default."""
import pytest
from django.conf import settings

from connectors import services
from qms.celery import app
from spc.models import ChartPoint
from tests.spc.live_support import BASE, chart_with_limits, eager_evaluation, post_values  # noqa: F401 (fixture)


def test_beat_schedules_the_closing_of_time_windows_on_the_evaluate_queue():
    (entry,) = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "spc.tasks.close_time_windows"]
    assert entry["options"]["queue"] == "evaluate"
    assert entry["task"] in app.tasks


@pytest.mark.django_db
@pytest.mark.usefixtures("eager_evaluation")
def test_the_embedded_periodic_jobs_close_an_ended_time_window(mes_client, characteristic,
                                                              django_capture_on_commit_callbacks):
    chart_with_limits(characteristic, chart_type="xbar_r", subgroup_size=3, subgrouping="time", time_window_s=3600)
    aligned = 3600 - int(BASE.timestamp()) % 3600
    with django_capture_on_commit_callbacks(execute=True):
        post_values(mes_client, characteristic.code, [230.0, 231.0, 232.0], start=aligned, step=60)
    assert not ChartPoint.objects.exists()  # the window is open until a later value or the clock closes it
    with django_capture_on_commit_callbacks(execute=True):
        services.run_periodic_jobs()
    (point,) = ChartPoint.objects.all()
    assert point.size == 3
