"""Helpers of the live SPC tests: charts with known limits, values posted through the real ingestion API."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from qms.audit.context import because
from spc.services.config import configure_chart
from spc.services.limits import limits_from_standard
from tests.ingest_helpers import post_batch

BASE = (timezone.now() - timedelta(days=1)).replace(microsecond=0)


@pytest.fixture
def eager_evaluation():
    """Run the evaluation task in-process, as the embedded default does (with REDIS_URL set it would be queued)."""
    from spc.tasks import evaluate_points

    conf = evaluate_points.app.conf
    before = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = before


def ts(second: int) -> str:
    return (BASE + timedelta(seconds=second)).isoformat()


def chart_with_limits(characteristic, *, chart_type="imr", center=230.0, sigma=1.0, rules=("WE1", "WE2", "WE3", "WE4"),
                      subgroup_size=None, subgrouping="count", **extra):
    with because("test setup"):
        config = configure_chart(characteristic, chart_type=chart_type, rules=list(rules), subgroup_size=subgroup_size,
                                 subgrouping=subgrouping, reason="test chart", **extra)
        revision = limits_from_standard(config, center=center, sigma=sigma, reason="known standard for the test")
    return config, revision


def post_values(client, code: str, values, *, start: int = 0, lot: str | None = None, quality: str | None = None,
                step: int = 1):
    items = []
    for i, value in enumerate(values):
        item = {"characteristic": code, "value": value, "ts": ts(start + i * step)}
        if lot:
            item["lot"] = lot
        if quality:
            item["quality"] = quality
        items.append(item)
    response = post_batch(client, items)
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == len(items)
    return response
