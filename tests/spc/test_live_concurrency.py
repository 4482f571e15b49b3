"""Two writers ingest values of the same characteristic at the same moment (threads, each with its own database
connection, PostgreSQL): live evaluation serialises them on the characteristic's SPC state row, so every point is
judged exactly once, in one series, and a run split across the two writers' batches fires exactly once."""
import threading

import pytest
from django.db import connection

from qms.services.ingest import ingest_measurements
from spc.models import ChartPoint, Signal
from tests.factories import CharacteristicFactory
from tests.spc.live_support import chart_with_limits, eager_evaluation, ts  # noqa: F401 (fixture)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_evaluation")]

ROUNDS = 4


def run_concurrently(*jobs):
    barrier = threading.Barrier(len(jobs))
    errors = []

    def worker(job):
        try:
            barrier.wait(timeout=10)
            job()
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def writer(site, code, values, start, source):
    items = [{"characteristic": code, "value": v, "ts": ts(start + i)} for i, v in enumerate(values)]
    return lambda: ingest_measurements(site=site, items=items, source=source)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_a_run_split_across_two_concurrent_writers_fires_exactly_once(site, round_):
    characteristic = CharacteristicFactory(site=site, code=f"IMM01.RUN{round_}.TEMP")
    chart_with_limits(characteristic, center=230.0, sigma=1.0, rules=["N2"])
    # 9 values above the centre line in total: N2 (9 in a row on one side) completes only with both batches,
    # whichever commits and is judged first.
    run_concurrently(
        writer(site, characteristic.code, [230.4, 230.5, 230.6, 230.5, 230.4], 0, "token:A"),
        writer(site, characteristic.code, [230.3, 230.6, 230.5, 230.4], 100, "token:B"),
    )
    points = ChartPoint.objects.filter(characteristic=characteristic).order_by("index")
    assert [p.index for p in points] == list(range(9))
    assert sorted(m for p in points for m in p.measurement_ids) == sorted(
        characteristic.measurements.values_list("pk", flat=True))
    (signal,) = Signal.objects.filter(characteristic=characteristic)
    assert (signal.rule, signal.index, signal.point_indices) == ("N2", 8, list(range(9)))


def test_many_small_concurrent_batches_are_each_judged_once(site):
    characteristic = CharacteristicFactory(site=site, code="IMM01.MANY.TEMP")
    chart_with_limits(characteristic, center=230.0, sigma=1.0, rules=["WE1"])
    jobs = [writer(site, characteristic.code, [230.0 + 0.1 * (i % 3)] * 3, i * 10, f"token:W{i}") for i in range(6)]
    run_concurrently(*jobs)
    points = ChartPoint.objects.filter(characteristic=characteristic)
    assert sorted(p.index for p in points) == list(range(18))
    assert Signal.objects.filter(characteristic=characteristic).count() == 0
