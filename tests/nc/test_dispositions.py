"""Dispositions and the MRB: quantities, votes, separation of duties, e-signatures, and what an approval does to
the lot's hold."""
import pytest

from qms.models import AuditEntry, Disposition, DispositionApproval, ESignature, Nonconformance
from qms.services import nc as nc_service
from qms.services.nc import NcError
from tests.factories_nc import PASSWORD, NcPlant
from traceability.models import HoldLot
from traceability.services.holds import place_hold
from traceability.verdicts.models import LotVerdict

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return NcPlant()


def refused(code, call, /, *args, **kwargs) -> NcError:
    with pytest.raises(NcError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def propose(plant, nc, decision="scrap", quantity=100, lot="L-1", user=None):
    entry = nc.lots.get(lot__code=lot)
    return nc_service.propose_disposition(nc.pk, user=user or plant.engineer, nc_lot_id=entry.pk,
                                          decision=decision, quantity=quantity, rationale="see photos")


def vote(disposition, user, choice="approve", password=PASSWORD):
    return nc_service.approve_disposition(disposition.pk, user=user, password=password, meaning="MRB decision",
                                          vote=choice)


@pytest.fixture
def held(plant):
    """Lot L-1 (100 pcs) held by a hold, in an NC (major) of 100 pcs in disposition, linked to the hold."""
    lot = plant.product_lot("L-1", quantity=100)
    hold = place_hold(plant.site, reason="short shots", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], holds=[hold])
    return nc, hold


def hold_state(hold):
    return HoldLot.objects.get(hold=hold).disposition


def test_major_needs_two_approvals(plant, held):
    nc, hold = held
    disposition = propose(plant, nc)
    assert disposition.approvals_required == 2
    vote(disposition, plant.supervisor)
    disposition.refresh_from_db()
    assert disposition.state == "proposed" and hold_state(hold) == "held"
    vote(disposition, plant.engineer2)
    disposition.refresh_from_db()
    assert disposition.state == "approved"
    assert Nonconformance.objects.get().state == "dispositioned"


def test_minor_needs_one_approval(plant):
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="minor")
    disposition = propose(plant, nc)
    assert disposition.approvals_required == 1
    assert vote(disposition, plant.engineer2).state == "approved"


def test_approvals_per_severity_follow_the_setting(plant, settings):
    settings.NC_MRB_APPROVALS = {"minor": 3}
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="minor")
    assert propose(plant, nc).approvals_required == 3


@pytest.mark.parametrize(("decision", "expected"), [
    ("use_as_is", "release"), ("repair", "release"), ("downgrade", "release"),
    ("rework", "rework"), ("scrap", "scrap"), ("return_to_vendor", "scrap"),
])
def test_the_approved_decision_drives_the_hold(plant, held, decision, expected):
    nc, hold = held
    disposition = propose(plant, nc, decision=decision)
    vote(disposition, plant.supervisor)
    vote(disposition, plant.engineer2)
    entry = HoldLot.objects.get(hold=hold)
    assert entry.disposition == expected and entry.disposed_by == "engineer2"
    assert entry.signature.user == plant.engineer2


def test_a_split_lot_is_decided_when_it_adds_up(plant, held):
    nc, hold = held
    scrap = propose(plant, nc, decision="scrap", quantity=30)
    accept = propose(plant, nc, decision="use_as_is", quantity=70)
    for disposition in (scrap, accept):
        vote(disposition, plant.supervisor)
    vote(scrap, plant.engineer2)
    assert hold_state(hold) == "held"  # 30 of 100 decided: the lot stays held
    assert Nonconformance.objects.get().state == "disposition"
    vote(accept, plant.engineer2)
    assert hold_state(hold) == "release"  # the 30 scrapped are gone, the rest is conforming
    assert Nonconformance.objects.get().state == "dispositioned"


def test_proposals_cannot_exceed_the_lot_quantity(plant, held):
    nc, _hold = held
    propose(plant, nc, quantity=60)
    error = refused("quantity_exceeds_lot", propose, plant, nc, quantity=41)
    assert error.details["remaining"] == 40 and error.field == "quantity"


def test_quantities_must_add_up_before_completion(plant, held):
    nc, _hold = held
    disposition = propose(plant, nc, quantity=60)
    vote(disposition, plant.supervisor)
    vote(disposition, plant.engineer2)
    error = refused("quantities_do_not_add_up", nc_service.complete_disposition, nc.pk, user=plant.engineer)
    assert error.details["lots"] == [{"lot": "L-1", "quantity": 100, "approved": 60}]
    assert Nonconformance.objects.get().state == "disposition"


def test_the_proposer_cannot_approve(plant, held):
    nc, _hold = held
    disposition = propose(plant, nc, user=plant.engineer2)
    refused("separation_of_duties", vote, disposition, plant.engineer2)
    assert not DispositionApproval.objects.exists()


def test_the_nc_creator_cannot_approve(plant):
    plant.product_lot("L-1")
    nc = plant.in_disposition(lots=[("L-1", 100)], user=plant.supervisor)
    disposition = propose(plant, nc)
    refused("separation_of_duties", vote, disposition, plant.supervisor)


def test_one_vote_per_person(plant, held):
    nc, _hold = held
    disposition = propose(plant, nc)
    vote(disposition, plant.supervisor)
    refused("already_voted", vote, disposition, plant.supervisor)
    assert DispositionApproval.objects.count() == 1


def test_a_wrong_password_changes_nothing(plant, held):
    nc, hold = held
    disposition = propose(plant, nc)
    vote(disposition, plant.supervisor)
    version = Nonconformance.objects.get().version
    refused("signature_password", vote, disposition, plant.engineer2, password="not-it")
    assert DispositionApproval.objects.count() == 1 and ESignature.objects.count() == 1
    assert Disposition.objects.get().state == "proposed" and hold_state(hold) == "held"
    assert Nonconformance.objects.get().version == version


def test_operators_are_not_on_the_mrb(plant, held):
    nc, _hold = held
    refused("not_permitted", vote, propose(plant, nc), plant.operator)


def test_operators_cannot_propose(plant, held):
    nc, _hold = held
    refused("not_permitted", propose, plant, nc, user=plant.operator)


def test_a_reject_vote_rejects_and_frees_the_quantity(plant, held):
    nc, hold = held
    disposition = propose(plant, nc)
    vote(disposition, plant.supervisor, "reject")
    assert Disposition.objects.get().state == "rejected" and hold_state(hold) == "held"
    refused("disposition_decided", vote, disposition, plant.engineer2)
    assert propose(plant, nc, decision="rework").quantity == 100  # the rejected 100 may be proposed again


def test_each_vote_is_signed(plant, held):
    nc, _hold = held
    disposition = propose(plant, nc)
    vote(disposition, plant.supervisor)
    approval = DispositionApproval.objects.get()
    assert approval.signature.user == plant.supervisor and approval.signature.meaning == "MRB decision"
    assert approval.signature.record_model == "qms.disposition"


def test_a_supervisor_may_give_the_final_vote_on_a_held_lot(plant, held):
    """The approved disposition is the authority over the held lot: the final voter needs no hold permission."""
    nc, hold = held
    assert not plant.supervisor.has_perm("traceability.release_hold")
    disposition = propose(plant, nc)
    vote(disposition, plant.engineer2)
    assert vote(disposition, plant.supervisor).state == "approved"
    entry = HoldLot.objects.get(hold=hold)
    assert entry.disposition == "scrap" and entry.disposed_by == "supervisor"
    assert Nonconformance.objects.get().state == "dispositioned"


def test_the_final_vote_signature_decides_the_held_lot(plant, held):
    """One password, one signature: the held lot carries the final MRB vote's signature, no second one."""
    nc, hold = held
    disposition = propose(plant, nc)
    vote(disposition, plant.engineer2)
    vote(disposition, plant.supervisor)
    final = DispositionApproval.objects.get(user=plant.supervisor).signature
    assert HoldLot.objects.get(hold=hold).signature == final
    assert ESignature.objects.filter(record_model="traceability.holdlot").count() == 0


def test_the_held_lot_names_the_disposition_as_its_authority(plant, held):
    nc, hold = held
    disposition = propose(plant, nc)
    vote(disposition, plant.engineer2)
    vote(disposition, plant.supervisor)
    entry = HoldLot.objects.get(hold=hold)
    assert nc.number in entry.comment and str(disposition.pk) in entry.comment
    audit = AuditEntry.objects.filter(action="dispose", object_pk=str(entry.pk)).get()
    assert audit.changes["authority"] == [None, {"nc": nc.number, "disposition": disposition.pk}]


def test_a_supervisors_final_vote_updates_the_lot_verdict(plant, held):
    nc, hold = held
    lot = HoldLot.objects.get(hold=hold).lot
    disposition = propose(plant, nc)
    vote(disposition, plant.engineer2)
    vote(disposition, plant.supervisor)
    assert LotVerdict.objects.get(lot=lot).verdict == "reject"


def test_a_lot_not_held_by_the_nc_holds_uses_any_active_hold(plant):
    lot = plant.product_lot("L-1")
    hold = place_hold(plant.site, reason="other", lots=[lot])
    nc = plant.in_disposition(lots=[("L-1", 100)], severity="minor")
    vote(propose(plant, nc), plant.engineer2)
    assert hold_state(hold) == "scrap"


def test_cancel_is_refused_after_an_approval(plant, held):
    nc, _hold = held
    disposition = propose(plant, nc, quantity=50)
    vote(disposition, plant.supervisor)
    vote(disposition, plant.engineer2)
    refused("has_approved_dispositions", nc_service.cancel_nc, nc.pk, user=plant.engineer, reason="oops")


def test_proposals_only_during_the_disposition(plant):
    plant.product_lot("L-1")
    nc = plant.nc(lots=[("L-1", 100)])
    refused("illegal_transition", propose, plant, nc)
