"""Live evaluation end to end: values POSTed to /api/v1/measurements/ are judged against the frozen limits right
away (measurements_stored → evaluation task, in-process here as in the embedded default)."""
import pytest
from django.core.exceptions import ValidationError

from qms.models import Measurement
from spc.models import ChartPoint, Signal, SpcState
from spc.seams import spc_signal_raised
from spc.services.limits import limits_from_standard
from spc.tasks import evaluate_points
from tests.spc.live_support import BASE, chart_with_limits, eager_evaluation, post_values, ts  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_evaluation")]


@pytest.fixture
def raised():
    events = []

    def receiver(sender, event, **kwargs):
        events.append(event)

    spc_signal_raised.connect(receiver, dispatch_uid="test-live-raised")
    yield events
    spc_signal_raised.disconnect(dispatch_uid="test-live-raised")


@pytest.fixture
def ingest(mes_client, django_capture_on_commit_callbacks):
    """Post values and run every after-commit callback (ingest seam, evaluation, publication)."""

    def post(characteristic, values, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_values(mes_client, characteristic.code, values, **kwargs)

    return post


def test_a_point_beyond_the_limits_stores_a_signal_and_raises_the_event_once(characteristic, ingest, raised):
    chart_with_limits(characteristic, center=230.0, sigma=1.0)
    ingest(characteristic, [230.1, 229.8, 233.2, 230.2])  # moving ranges stay below the MR chart's UCL
    (signal,) = Signal.objects.all()
    outlier = Measurement.objects.get(value=233.2)
    assert (signal.chart, signal.rule, signal.index) == ("i", "WE1", 2)
    assert signal.measurement_ids == [outlier.pk]
    assert signal.ts == outlier.ts and signal.value == 233.2
    assert signal.site_id == characteristic.site_id
    (event,) = raised
    assert (event.id, event.rule, event.characteristic_id, event.measurement_ids) == (
        signal.pk, "WE1", characteristic.pk, (outlier.pk,))


def test_in_control_values_raise_nothing(characteristic, ingest, raised):
    chart_with_limits(characteristic)
    ingest(characteristic, [230.1, 229.8, 230.4, 229.9, 230.2])
    assert Signal.objects.count() == 0 and raised == []
    assert ChartPoint.objects.count() == 5


def test_xbar_r_forms_subgroups_by_count(characteristic, ingest):
    chart_with_limits(characteristic, chart_type="xbar_r", subgroup_size=5, center=230.0, sigma=1.0)
    values = [230.0, 231.0, 229.0, 230.5, 229.5, 232.0, 232.4, 231.6, 232.2, 231.8]
    ingest(characteristic, values)
    first, second = ChartPoint.objects.order_by("index")
    assert (first.size, first.value, first.value2) == (5, pytest.approx(230.0), pytest.approx(2.0))
    assert (second.size, second.value, second.value2) == (5, pytest.approx(232.0), pytest.approx(0.8))
    assert first.measurement_ids == list(Measurement.objects.order_by("ts").values_list("pk", flat=True)[:5])
    # σ/√5 = 0.447: a subgroup mean of 232 lies beyond 230 + 3·0.447 = 231.34
    (signal,) = Signal.objects.all()
    assert (signal.chart, signal.rule, signal.index) == ("xbar", "WE1", 1)
    assert len(signal.measurement_ids) == 5


def test_a_partial_subgroup_waits_for_its_last_values(characteristic, ingest):
    chart_with_limits(characteristic, chart_type="xbar_r", subgroup_size=5)
    ingest(characteristic, [230.0, 230.2, 229.8])
    assert ChartPoint.objects.count() == 0
    assert len(SpcState.objects.get().pending) == 3
    ingest(characteristic, [230.1, 229.9], start=10)
    (point,) = ChartPoint.objects.all()
    assert point.size == 5 and point.value == pytest.approx(230.0)
    assert SpcState.objects.get().pending == []


def test_subgroups_by_lot_close_when_the_lot_changes(characteristic, ingest):
    chart_with_limits(characteristic, chart_type="xbar_r", subgroup_size=5, subgrouping="lot")
    ingest(characteristic, [230.0, 230.4, 229.8], lot="L-1")
    ingest(characteristic, [230.1, 229.9], lot="L-2", start=10)
    (point,) = ChartPoint.objects.all()
    assert (point.size, point.lot_code) == (3, "L-1")
    assert len(SpcState.objects.get().pending) == 2


def test_a_new_limit_revision_changes_the_judgement(characteristic, ingest):
    config, _first = chart_with_limits(characteristic, center=230.0, sigma=1.0)
    ingest(characteristic, [233.5])
    assert Signal.objects.count() == 1
    limits_from_standard(config, center=230.0, sigma=2.0, reason="gauge replaced; sigma re-established")
    ingest(characteristic, [233.5], start=10)
    assert Signal.objects.count() == 1  # 233.5 lies within 230 ± 3·2
    newest = ChartPoint.objects.order_by("-ts").first()
    assert newest.revision.number == 2 and newest.index == 0


def test_without_limits_values_wait_and_are_judged_when_limits_arrive(characteristic, ingest, raised):
    from spc.services.config import configure_chart

    config = configure_chart(characteristic, chart_type="imr", reason="new chart")
    ingest(characteristic, [230.0, 236.0, 230.1])
    assert ChartPoint.objects.count() == 0 and Signal.objects.count() == 0
    assert len(SpcState.objects.get().pending) == 3
    limits_from_standard(config, center=230.0, sigma=1.0, reason="first limits")
    assert ChartPoint.objects.count() == 3
    assert Signal.objects.get(chart="i").value == 236.0


def test_first_data_of_an_unconfigured_characteristic_gets_the_default_chart(characteristic, ingest):
    ingest(characteristic, [230.0, 230.1])
    state = SpcState.objects.select_related("config").get()
    assert state.config.chart_type == "imr" and state.revision is None and len(state.pending) == 2


def test_bad_quality_values_are_stored_but_not_judged(characteristic, ingest):
    chart_with_limits(characteristic)
    ingest(characteristic, [260.0], quality="bad")
    assert Measurement.objects.count() == 1
    assert ChartPoint.objects.count() == 0 and Signal.objects.count() == 0


def test_a_late_value_is_judged_in_arrival_order_and_flagged(characteristic, ingest):
    chart_with_limits(characteristic)
    ingest(characteristic, [230.0, 230.1], start=100)
    ingest(characteristic, [229.9], start=5)
    late = ChartPoint.objects.get(index=2)
    assert late.late and late.value == 229.9
    assert not ChartPoint.objects.get(index=1).late


def test_a_run_split_across_batches_fires_once(characteristic, ingest):
    chart_with_limits(characteristic, rules=["N2"])
    ingest(characteristic, [230.5] * 5)
    ingest(characteristic, [230.6] * 4, start=10)
    (signal,) = Signal.objects.all()
    assert (signal.rule, signal.index, signal.point_indices) == ("N2", 8, list(range(9)))
    assert len(signal.measurement_ids) == 9


def test_a_redelivered_batch_is_judged_once(characteristic):
    chart_with_limits(characteristic)
    payload = {str(characteristic.pk): [[1001, ts(0), 230.0, ""], [1002, ts(1), 233.4, ""]]}
    evaluate_points(characteristic.site_id, payload)
    evaluate_points(characteristic.site_id, payload)
    assert ChartPoint.objects.count() == 2 and Signal.objects.count() == 1


def test_a_limit_revision_needs_a_reason(characteristic):
    config, _revision = chart_with_limits(characteristic)
    with pytest.raises(ValidationError) as error:
        limits_from_standard(config, center=230.0, sigma=1.0, reason="  ")
    assert "reason" in error.value.message_dict


def test_subgroups_by_time_window_close_when_the_next_window_starts(characteristic, ingest):
    chart_with_limits(characteristic, chart_type="xbar_s", subgroup_size=3, subgrouping="time", time_window_s=3600)
    first_hour = [230.0, 230.2, 229.8, 230.4]
    aligned = 3600 - int(BASE.timestamp()) % 3600  # seconds after BASE where a window starts
    ingest(characteristic, first_hour, start=aligned, step=60)
    assert ChartPoint.objects.count() == 0  # the hour is still open
    ingest(characteristic, [230.1], start=aligned + 3 * 3600)  # a value of a later hour closes it
    (point,) = ChartPoint.objects.all()
    assert point.size == 4 and point.value == pytest.approx(sum(first_hour) / 4)


def test_a_time_window_that_ended_is_closed_by_the_clock(characteristic, ingest, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from spc.services.live import WINDOW_GRACE_S, close_elapsed_windows

    chart_with_limits(characteristic, chart_type="xbar_r", subgroup_size=3, subgrouping="time", time_window_s=3600)
    aligned = 3600 - int(BASE.timestamp()) % 3600
    ingest(characteristic, [230.0, 231.0, 232.0], start=aligned, step=60)
    window_end = BASE + timedelta(seconds=aligned + 3600)
    assert close_elapsed_windows(window_end) == 0  # within the grace period: late values may still come
    with django_capture_on_commit_callbacks(execute=True):
        assert close_elapsed_windows(window_end + timedelta(seconds=WINDOW_GRACE_S)) == 1
    (point,) = ChartPoint.objects.all()
    assert point.size == 3 and point.value == pytest.approx(231.0)
    assert SpcState.objects.get().pending == []
    assert close_elapsed_windows(window_end + timedelta(hours=1)) == 0
