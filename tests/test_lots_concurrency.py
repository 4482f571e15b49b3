"""Races between MES requests, on PostgreSQL's real row locks: the rules hold when two requests arrive together."""
import threading
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from qms.models import EquipmentStateEvent
from qms.services.production_events import record_equipment_states
from tests.factories import EquipmentFactory, LotFactory, SiteFactory
from traceability import services
from traceability.models import GenealogyEdge, Lot, LotRun

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at(hour: int) -> datetime:
    return datetime(2026, 11, 20, hour, tzinfo=UTC)


def race(*calls):
    """Run the calls at the same moment in threads; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    outcomes = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # the outcome under test may be an exception
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


@pytest.fixture
def plant():
    site = SiteFactory(code="S1")
    equipment = EquipmentFactory(code="IMM01", work_center__line__area__site=site, site=site)
    return site, equipment


def test_two_lots_starting_on_one_machine_at_once_one_wins(plant):
    site, equipment = plant
    first, second = LotFactory(site=site, code="L-1"), LotFactory(site=site, code="L-2")

    outcomes = race(lambda: services.start_lot_run(first, equipment, at(8)),
                    lambda: services.start_lot_run(second, equipment, at(9)))

    assert sum(isinstance(o, services.Conflict) for o in outcomes) == 1
    assert LotRun.objects.count() == 1


def test_the_same_lot_registered_twice_at_once_exists_once(plant):
    site, equipment = plant

    def register():
        return services.register_lot(site, "L-1", equipment=equipment, started_at=at(8))

    outcomes = race(register, register)

    assert sorted(o.created for o in outcomes) == [False, True]
    assert Lot.objects.count() == 1 and LotRun.objects.count() == 1


def test_opposite_edges_at_once_cannot_make_a_cycle(plant):
    site, _equipment = plant
    a, b = LotFactory(site=site, code="A"), LotFactory(site=site, code="B")

    outcomes = race(lambda: services.add_genealogy_edge(a, b), lambda: services.add_genealogy_edge(b, a))

    assert sum(isinstance(o, ValidationError) for o in outcomes) == 1
    assert GenealogyEdge.objects.count() == 1


def test_the_same_event_batch_sent_twice_at_once_is_stored_once(plant):
    site, _equipment = plant
    items = [{"equipment": "IMM01", "ts": f"2026-11-20T08:00:{s:02d}Z", "state": "running"} for s in range(30)]

    outcomes = race(lambda: record_equipment_states(site, items, source="token:MES-1"),
                    lambda: record_equipment_states(site, items, source="token:MES-1"))

    assert sorted(o.stored for o in outcomes) == [0, 30]
    assert EquipmentStateEvent.objects.count() == 30
