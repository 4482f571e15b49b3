"""Held lots decided on the authority of an approved MRB disposition (`decide_lots_by_disposition`): the final
vote's signature is the decision's signature, no hold permission of the voter's own is needed, and only a real
approval of that very disposition, for that lot, is accepted."""
import pytest

from qms.models import AuditEntry, Disposition
from qms.services import nc as nc_service
from qms.services.esignature import sign
from tests.factories_nc import PASSWORD, NcPlant
from traceability.models import Hold, HoldLot
from traceability.seams import hold_changed
from traceability.services.holds import HoldError, decide_lots_by_disposition, place_hold
from traceability.verdicts.models import LotVerdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return NcPlant()


@pytest.fixture
def case(plant):
    """Lot L-1 held; a minor NC on it in disposition with a proposed scrap of the whole lot."""
    lot = plant.product_lot("L-1", quantity=100)
    hold = place_hold(plant.site, reason="short shots", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], holds=[hold], severity="minor")
    disposition = nc_service.propose_disposition(nc.pk, user=plant.engineer, nc_lot_id=nc.lots.get().pk,
                                                 decision="scrap", quantity=100)
    return hold, disposition


def approved(disposition):
    Disposition.objects.filter(pk=disposition.pk).update(state=Disposition.State.APPROVED)
    disposition.refresh_from_db()
    return disposition


def vote_signature(user, record):
    return sign(user, PASSWORD, meaning="MRB decision", record=record, content={"vote": "approve"})


def entry_of(hold) -> HoldLot:
    return HoldLot.objects.get(hold=hold)


def refused(code, disposition, hold_lot_ids, signature, decision="scrap"):
    with pytest.raises(HoldError) as caught:
        decide_lots_by_disposition(disposition, hold_lot_ids, decision=decision, signature=signature)
    assert caught.value.code == code, caught.value.message
    return caught.value


def test_a_supervisors_vote_signature_decides_the_held_lot(plant, case):
    hold, disposition = case
    disposition = approved(disposition)
    signature = vote_signature(plant.supervisor, disposition)

    decided = decide_lots_by_disposition(disposition, [entry_of(hold).pk], decision="scrap", signature=signature)

    entry = entry_of(hold)
    assert [row.pk for row in decided] == [entry.pk]
    assert (entry.disposition, entry.disposed_by, entry.signature_id) == ("scrap", "supervisor", signature.pk)
    assert disposition.nc.number in entry.comment and f" {disposition.pk}" in entry.comment
    assert Hold.objects.get(pk=hold.pk).state == Hold.State.RELEASED


def test_the_decision_is_audited_with_the_disposition_as_authority(plant, case):
    hold, disposition = case
    disposition = approved(disposition)
    decide_lots_by_disposition(disposition, [entry_of(hold).pk], decision="scrap",
                               signature=vote_signature(plant.supervisor, disposition))

    audit = AuditEntry.objects.get(action="dispose", object_pk=str(entry_of(hold).pk))
    assert audit.changes["disposition"] == ["held", "scrap"]
    assert audit.changes["authority"] == [None, {"nc": disposition.nc.number, "disposition": disposition.pk}]


def test_the_verdict_and_the_hold_listeners_learn_of_it(plant, case, django_capture_on_commit_callbacks):
    hold, disposition = case
    disposition = approved(disposition)
    events = []

    def listen(sender, hold_id, site_id, event, **kwargs):
        events.append((hold_id, event))

    hold_changed.connect(listen)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            decide_lots_by_disposition(disposition, [entry_of(hold).pk], decision="scrap",
                                       signature=vote_signature(plant.supervisor, disposition))
    finally:
        hold_changed.disconnect(listen)

    assert (hold.pk, "lot_disposed") in events
    assert LotVerdict.objects.get(lot=entry_of(hold).lot).verdict == "reject"


def test_a_signature_on_another_record_is_no_authority(plant, case):
    hold, disposition = case
    disposition = approved(disposition)
    foreign = vote_signature(plant.supervisor, entry_of(hold))

    refused("not_permitted", disposition, [entry_of(hold).pk], foreign)
    assert entry_of(hold).disposition == "held"


def test_a_signer_outside_the_mrb_is_no_authority(plant, case):
    hold, disposition = case
    disposition = approved(disposition)

    refused("not_permitted", disposition, [entry_of(hold).pk], vote_signature(plant.operator, disposition))
    assert entry_of(hold).disposition == "held"


def test_a_disposition_not_yet_approved_decides_nothing(plant, case):
    hold, disposition = case

    refused("disposition_not_approved", disposition, [entry_of(hold).pk],
            vote_signature(plant.supervisor, disposition))
    assert entry_of(hold).disposition == "held"


def test_only_the_dispositions_lot_is_decided(plant, case):
    hold, disposition = case
    disposition = approved(disposition)
    other = place_hold(plant.site, reason="other", lots=[plant.product_lot("L-2")])

    refused("not_in_disposition", disposition, [entry_of(other).pk], vote_signature(plant.supervisor, disposition))
    assert entry_of(other).disposition == "held"


def test_a_lot_decided_meanwhile_is_not_overwritten(plant, case):
    hold, disposition = case
    disposition = approved(disposition)
    HoldLot.objects.filter(hold=hold).update(disposition="release")

    refused("already_decided", disposition, [entry_of(hold).pk], vote_signature(plant.supervisor, disposition))
    assert entry_of(hold).disposition == "release"
