"""Verdicts computed from the database: the rule applied to real HoldLot rows, in a constant number of queries."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import LotFactory, SiteFactory
from tests.factories_verdicts import decide, hold_lots
from traceability.verdicts.compute import compute_verdicts_for_codes, compute_verdicts_from_db

pytestmark = pytest.mark.usefixtures("no_redis")


@pytest.fixture
def site(db):
    return SiteFactory(code="S1")


def test_unheld_lot_is_release(site):
    lot = LotFactory(site=site, code="L-0001")
    verdict = compute_verdicts_from_db([lot.pk])[lot.pk]
    assert (verdict.lot, verdict.verdict, verdict.reasons) == ("L-0001", "release", [])


def test_held_lot_names_its_hold(site):
    lot = LotFactory(site=site)
    hold = hold_lots(site, [lot], reason="IMM02 drift")
    verdict = compute_verdicts_from_db([lot.pk])[lot.pk]
    assert verdict.verdict == "hold"
    assert verdict.reasons == [{"hold": hold.pk, "hold_number": hold.number, "reason": "IMM02 drift",
                                "since": hold.placed_at.isoformat(), "disposition": "held"}]


def test_scrap_on_one_hold_rejects_despite_another_hold(site):
    lot = LotFactory(site=site)
    first, _second = hold_lots(site, [lot]), hold_lots(site, [lot])
    decide(first, lot, "scrap")
    assert compute_verdicts_from_db([lot.pk])[lot.pk].verdict == "reject"


def test_nc_handover_is_pending(site):
    lot = LotFactory(site=site)
    decide(hold_lots(site, [lot]), lot, "nc")
    assert compute_verdicts_from_db([lot.pk])[lot.pk].verdict == "pending"


def test_released_lot_is_release_again(site):
    lot = LotFactory(site=site)
    decide(hold_lots(site, [lot]), lot, "release")
    assert compute_verdicts_from_db([lot.pk])[lot.pk].verdict == "release"


def test_unknown_codes_and_other_sites_lots_are_absent(site):
    LotFactory(site=SiteFactory(code="S2"), code="L-FOREIGN")
    LotFactory(site=site, code="L-HERE")
    assert set(compute_verdicts_for_codes(site.pk, ["L-HERE", "L-FOREIGN", "L-NONE"])) == {"L-HERE"}


@pytest.mark.parametrize("count", [1, 50, 400])
def test_batch_takes_two_queries_whatever_its_size(site, count):
    lots = [LotFactory(site=site) for _ in range(count)]
    hold_lots(site, lots[::2])
    with CaptureQueriesContext(connection) as queries:
        verdicts = compute_verdicts_for_codes(site.pk, [lot.code for lot in lots])
    assert len(queries) == 2 and len(verdicts) == count


def test_the_writers_verdict_query_agrees_with_the_full_computation(site):
    from traceability.verdicts.compute import verdict_names

    lots = [LotFactory(site=site) for _ in range(10)]
    for index, disposition in enumerate(["held", "release", "rework", "scrap", "nc"]):
        hold = hold_lots(site, lots[index:index + 4])
        for lot in lots[index:index + 4:2]:
            decide(hold, lot, disposition, release_hold=index == 1)
    full = {lot_id: verdict.verdict for lot_id, verdict in compute_verdicts_from_db([lot.pk for lot in lots]).items()}
    names = verdict_names([lot.pk for lot in lots])
    assert {lot.pk: names.get(lot.pk, "release") for lot in lots} == full
    assert len(set(full.values())) >= 3
