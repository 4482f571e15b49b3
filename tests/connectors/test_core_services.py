"""Storing outbox batches through the foundation's ingestion, tag freshness, the staleness watchdog, and the
configuration the runner loads."""
from datetime import UTC, datetime, timedelta

import pytest

from connectors import services
from connectors.envelope import Envelope
from connectors.models import ConnectorStatus, TagMapping
from connectors.outbox import Batch
from connectors.seams import data_resumed, data_stale
from qms.models import DeadLetter, Measurement
from tests.factories import CharacteristicFactory, ConnectorFactory, TagMappingFactory

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def tag(characteristic):
    characteristic.update_period_s = 1.0
    characteristic.save()
    connector = ConnectorFactory(site=characteristic.site, name="opc")
    return TagMappingFactory(connector=connector, characteristic=characteristic, source_ref="ns=2;s=Z2")


def readings(tag, values, *, start=NOW, quality="good"):
    return [
        Envelope(connector="S1/opc", source_ref=tag.source_ref, characteristic=tag.characteristic.code, value=value,
                 raw_value=value, quality=quality if value is not None else "bad",
                 source_ts=start + timedelta(seconds=i), server_ts=None, received_ts=start + timedelta(seconds=i),
                 seq=i + 1).to_json()
        for i, value in enumerate(values)
    ]


def test_a_batch_is_stored_with_the_connector_as_source(tag):
    outcome = services.store_readings("e:S1/opc:1-3", readings(tag, [230.0, 230.5, 231.0]))
    assert outcome.stored == 3
    assert list(Measurement.objects.order_by("ts").values_list("value", "source")) == [
        (230.0, "connector:opc"), (230.5, "connector:opc"), (231.0, "connector:opc")]


def test_the_same_batch_twice_is_stored_once_and_counted_once(tag):
    batch = readings(tag, [230.0, 230.5])
    services.store_readings("e:S1/opc:1-2", batch)
    again = services.store_readings("e:S1/opc:1-2", batch)
    assert again.replayed
    assert Measurement.objects.count() == 2
    assert ConnectorStatus.objects.get(connector=tag.connector).stored == 2


def test_bad_readings_without_value_are_not_stored_as_numbers(tag):
    outcome = services.store_readings("e:S1/opc:1-2", readings(tag, [None, 230.0]))
    assert (outcome.stored, outcome.not_stored_bad) == (1, 1)
    assert list(Measurement.objects.values_list("value", flat=True)) == [230.0]


def test_bad_quality_values_are_stored_with_their_quality(tag):
    services.store_readings("e:S1/opc:1-1", readings(tag, [230.0], quality="uncertain"))
    assert Measurement.objects.get().quality == 1


def test_an_implausible_value_goes_to_the_dead_letters_not_the_measurements(tag):
    outcome = services.store_readings("e:S1/opc:1-1", readings(tag, [9999.0], quality="bad"))
    assert outcome.rejected == 1
    assert Measurement.objects.count() == 0
    assert DeadLetter.objects.get().code == "out_of_range"


def test_a_batch_is_confirmed_once_ingested(tag):
    assert not services.batch_confirmed(tag.connector, "e:S1/opc:1-1")
    services.store_readings("e:S1/opc:1-1", readings(tag, [230.0]))
    assert services.batch_confirmed(tag.connector, "e:S1/opc:1-1")


def test_a_silent_tag_raises_data_stale_once(tag, django_capture_on_commit_callbacks):
    received = []
    data_stale.connect(lambda sender, **kw: received.extend(kw["tags"]), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.store_readings("e:S1/opc:1-1", readings(tag, [230.0], start=NOW))
            assert services.check_staleness(now=NOW + timedelta(seconds=2.5)) == []
            stale = services.check_staleness(now=NOW + timedelta(seconds=3.5))
            assert services.check_staleness(now=NOW + timedelta(seconds=10)) == []
    finally:
        data_stale.disconnect(dispatch_uid="t1")
    assert [t.characteristic for t in stale] == [tag.characteristic.code]
    assert [t.characteristic for t in received] == [tag.characteristic.code]
    assert TagMapping.objects.get(pk=tag.pk).stale_since is not None


def test_a_value_after_staleness_sends_data_resumed(tag, django_capture_on_commit_callbacks):
    resumed = []
    data_resumed.connect(lambda sender, **kw: resumed.extend(kw["tags"]), weak=False, dispatch_uid="t2")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.store_readings("e:S1/opc:1-1", readings(tag, [230.0], start=NOW))
            services.check_staleness(now=NOW + timedelta(seconds=10))
            services.store_readings("e:S1/opc:2-2", readings(tag, [231.0], start=NOW + timedelta(seconds=11)))
    finally:
        data_resumed.disconnect(dispatch_uid="t2")
    assert [t.tag_id for t in resumed] == [tag.pk]
    assert TagMapping.objects.get(pk=tag.pk).stale_since is None


def test_config_version_changes_when_a_tag_changes(tag):
    before = services.config_version()
    tag.params = {"deadband": 0.5}
    tag.save()
    assert services.config_version() != before


def test_load_specs_carries_tags_with_dictionary_facts(tag):
    [spec] = services.load_specs()
    assert spec.key == "S1/opc"
    [tag_spec] = spec.tags
    assert (tag_spec.source_ref, tag_spec.characteristic, tag_spec.equipment, tag_spec.update_period_s) == (
        "ns=2;s=Z2", tag.characteristic.code, "IMM01", 1.0)


def test_disabled_connectors_are_not_loaded(tag):
    tag.connector.enabled = False
    tag.connector.save()
    assert services.load_specs() == []


def test_the_connector_status_adds_up_batches_and_never_moves_its_last_value_time_back(tag):
    services.store_readings("e:S1/opc:1-2", readings(tag, [230.0, 230.5], start=NOW))
    services.store_readings("e:S1/opc:3-3", readings(tag, [231.0], start=NOW - timedelta(minutes=5)))
    status = ConnectorStatus.objects.get(connector=tag.connector)
    assert (status.stored, status.last_value_at) == (3, NOW + timedelta(seconds=1))


def _runner_deliver(backend, batch):
    """The runner backend's method without its connection housekeeping (which would close the test's transaction)."""
    return services.DjangoRunnerBackend.deliver.__wrapped__(backend, batch)


def _runner_reloads_specs(backend):
    """What the runner does when the configuration version changed (without the connection housekeeping)."""
    return services.DjangoRunnerBackend.load_specs.__wrapped__(backend)


def test_the_runner_backend_finds_a_recreated_connector_once_the_runner_reloaded_the_configuration(tag):
    backend = services.DjangoRunnerBackend()
    _runner_reloads_specs(backend)
    _runner_deliver(backend, Batch("e:S1/opc:1-1", "S1/opc", 1, 1, readings(tag, [230.0]), 0))
    old = tag.connector
    old.name = "opc-retired"
    old.save()
    new = ConnectorFactory(site=old.site, name="opc")
    _runner_reloads_specs(backend)
    later = readings(tag, [231.0], start=NOW + timedelta(seconds=5))
    _runner_deliver(backend, Batch("e:S1/opc:2-2", "S1/opc", 2, 2, later, 0))
    assert [ConnectorStatus.objects.get(connector=c).stored for c in (old, new)] == [1, 1]


def _heard(tag, at, quality="good", value=230.0):
    """One reading of `tag` received at `at`."""
    return Envelope(connector="S1/opc", source_ref=tag.source_ref, characteristic=tag.characteristic.code,
                    value=value, raw_value=value, quality=quality, source_ts=at, server_ts=None,
                    received_ts=at).to_json()


def _freshness(tag):
    tag.refresh_from_db()
    return tag.last_value_at, tag.last_quality


def test_a_tag_heard_again_within_the_resolution_keeps_its_time_and_moves_it_after(tag):
    services.store_readings("e:S1/opc:1-1", [_heard(tag, NOW)])
    services.store_readings("e:S1/opc:2-2", [_heard(tag, NOW + timedelta(seconds=0.5))])
    assert _freshness(tag) == (NOW, "good")
    services.store_readings("e:S1/opc:3-3", [_heard(tag, NOW + timedelta(seconds=1))])
    assert _freshness(tag) == (NOW + timedelta(seconds=1), "good")


def test_a_changed_quality_is_recorded_within_the_resolution(tag):
    services.store_readings("e:S1/opc:1-1", [_heard(tag, NOW)])
    services.store_readings("e:S1/opc:2-2", [_heard(tag, NOW + timedelta(seconds=0.2), quality="uncertain")])
    assert _freshness(tag) == (NOW + timedelta(seconds=0.2), "uncertain")


def test_a_changed_quality_is_recorded_in_a_batch_of_several_qualities(tag):
    other = TagMappingFactory(connector=tag.connector, source_ref="ns=2;s=Z3",
                              characteristic=CharacteristicFactory(site=tag.characteristic.site))
    services.store_readings("e:S1/opc:1-2", [_heard(tag, NOW), _heard(other, NOW)])
    services.store_readings("e:S1/opc:3-4", [_heard(tag, NOW + timedelta(seconds=0.2), quality="uncertain"),
                                             _heard(other, NOW + timedelta(seconds=0.2))])
    assert [_freshness(tag), _freshness(other)] == [(NOW + timedelta(seconds=0.2), "uncertain"), (NOW, "good")]
