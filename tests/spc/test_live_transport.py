"""How new points travel from the ingest seam to the evaluation task: an ingest batch as its id (the task reads its
rows), a dead-letter replay (no batch) with its points inline; the judgement is the same either way."""
import json
from datetime import datetime

import pytest

from qms.models import Measurement
from qms.seams import StoredPoint, measurements_stored
from spc.models import ChartPoint
from spc.receivers import evaluate_new_measurements
from spc.services.live import values_from_points, values_of_batch
from spc.tasks import QUEUE, evaluate_batch, evaluate_points
from tests.ingest_helpers import post_batch
from tests.spc.live_support import chart_with_limits, eager_evaluation, post_values, ts  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """Messages the receiver enqueues, by task name (not run)."""
    messages = []
    for task in (evaluate_batch, evaluate_points):
        monkeypatch.setattr(task, "apply_async",
                            lambda args, queue, name=task.name: messages.append((name, args, queue)))
    return messages


def test_an_ingest_batch_is_enqueued_as_its_id(mes_client, characteristic, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        batch = post_values(mes_client, characteristic.code, [230.0] * 500).json()["batch"]
    assert sent == [(evaluate_batch.name, (characteristic.site_id, batch), QUEUE)]
    assert len(json.dumps(sent[0][1])) < 40


def test_points_without_a_batch_are_enqueued_inline(characteristic, sent):
    when = datetime.fromisoformat("2026-01-05T07:00:00+00:00")
    point = StoredPoint(41, characteristic.pk, when, 230.5, 0, "L-1", None)
    evaluate_new_measurements(Measurement, site_id=characteristic.site_id, points=[point], batch_id=None)
    assert sent == [(evaluate_points.name,
                     (characteristic.site_id, {str(characteristic.pk): [[41, when.isoformat(), 230.5, "L-1"]]}), QUEUE)]


def test_a_batch_reads_back_as_the_points_its_seam_announced(mes_client, characteristic, sent,
                                                            django_capture_on_commit_callbacks):
    announced = []
    measurements_stored.connect(lambda sender, points, **kw: announced.extend(points), dispatch_uid="transport-test",
                                weak=False)
    try:
        post_values(mes_client, characteristic.code, [230.0, 231.0])
        announced.clear()
        with django_capture_on_commit_callbacks(execute=True):
            items = [{"characteristic": characteristic.code, "value": v, "ts": ts(i)}
                     for i, v in enumerate([230.0, 231.0, 229.5, 228.0, 227.0])]
            batch = post_batch(mes_client, items).json()["batch"]
    finally:
        measurements_stored.disconnect(dispatch_uid="transport-test")
    assert len(announced) == 3  # the first two were duplicates
    assert values_of_batch(batch) == values_from_points(announced)


def test_bad_quality_rows_of_a_batch_are_not_judged(mes_client, characteristic):
    good = post_values(mes_client, characteristic.code, [230.0, 231.0]).json()["batch"]
    bad = post_values(mes_client, characteristic.code, [230.0], start=10, quality="bad").json()["batch"]
    assert len(values_of_batch(good)[characteristic.pk]) == 2
    assert values_of_batch(bad) == {}


@pytest.mark.usefixtures("eager_evaluation")
def test_a_redelivered_batch_is_judged_once(mes_client, characteristic, django_capture_on_commit_callbacks):
    chart_with_limits(characteristic)
    with django_capture_on_commit_callbacks(execute=True):
        batch = post_values(mes_client, characteristic.code, [230.0, 233.4]).json()["batch"]
    assert ChartPoint.objects.count() == 2
    outcome = evaluate_batch(characteristic.site_id, batch)
    assert outcome == {str(characteristic.pk): {"points": 0, "signals": 0}}
    assert ChartPoint.objects.count() == 2
