"""Races on PostgreSQL's real row locks: two MRB votes at once, two edits of the same version, two NCs numbered at
once."""
import pytest

from qms.models import Disposition, DispositionApproval, Nonconformance
from qms.services import nc as nc_service
from qms.services.nc import NcError
from tests.factories import UserFactory
from tests.factories_nc import PASSWORD, NcPlant
from tests.test_lots_concurrency import race
from traceability.models import HoldLot
from traceability.services.holds import place_hold

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def plant():
    return NcPlant()


def test_two_mrb_members_approving_at_once_are_both_counted(plant):
    engineer3 = UserFactory(username="engineer3", role="quality_engineer", sites=[plant.site])
    lot = plant.product_lot("L-1", quantity=100)
    hold = place_hold(plant.site, reason="short shots", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], holds=[hold])
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk,
                                                 decision="scrap", quantity=100)

    def approve(user):
        return lambda: nc_service.approve_disposition(disposition.pk, user=user, password=PASSWORD,
                                                      meaning="MRB", vote="approve")

    outcomes = race(approve(plant.engineer2), approve(engineer3))

    assert all(isinstance(outcome, Disposition) for outcome in outcomes), outcomes
    assert DispositionApproval.objects.filter(disposition=disposition).count() == 2
    assert Disposition.objects.get().state == "approved"
    entry = HoldLot.objects.get(hold=hold)
    assert entry.disposition == "scrap" and entry.version == 2  # decided exactly once
    assert Nonconformance.objects.get().state == "dispositioned"


def test_two_edits_of_the_same_version_one_is_stale(plant):
    nc = plant.nc()

    def edit(user, title):
        return lambda: nc_service.update_nc(nc.pk, user=user, expected_version=nc.version,
                                            changes={"title": title})

    outcomes = race(edit(plant.engineer, "by engineer"), edit(plant.engineer2, "by engineer2"))

    stale = [o for o in outcomes if isinstance(o, NcError)]
    saved = [o for o in outcomes if isinstance(o, Nonconformance)]
    assert len(stale) == 1 and stale[0].code == "stale" and len(saved) == 1
    current = Nonconformance.objects.get()
    assert current.title == saved[0].title and current.version == nc.version + 1


def test_ncs_created_at_once_get_distinct_numbers(plant):
    outcomes = race(*[lambda: plant.nc() for _ in range(4)])
    assert all(isinstance(o, Nonconformance) for o in outcomes), outcomes
    assert sorted(o.number for o in outcomes) == [f"NC-S1-00000{i}" for i in range(1, 5)]
