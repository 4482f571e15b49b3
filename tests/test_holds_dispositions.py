"""Decisions on held lots: e-signed, permission-checked, one decision per lot, hold state follows the lots."""
import pytest

from qms.models import AuditEntry, ESignature
from tests.factories_holds import PASSWORD, Plant, at
from traceability.models import Hold, HoldLot
from traceability.services.holds import (
    HoldError,
    close_hold_window,
    dispose_hold_lot,
    freeze_window,
    place_hold,
    release_hold,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant():
    return Plant()


@pytest.fixture
def hold(plant):
    for code in ("A", "B"):
        plant.lot(code)
    return place_hold(plant.site, reason="suspect resin", lots=["A", "B"])


def entry(hold, code) -> HoldLot:
    return HoldLot.objects.get(hold=hold, lot__code=code)


def dispose(plant, hold, code, disposition="release", *, user=None, password=PASSWORD, **kwargs):
    return dispose_hold_lot(entry(hold, code).pk, disposition=disposition, user=user or plant.engineer,
                            password=password, meaning=kwargs.pop("meaning", "released after re-inspection"), **kwargs)


def test_a_signed_release_records_who_when_and_the_signature(plant, hold):
    decided = dispose(plant, hold, "A", comment="100 % visual check")

    signature = ESignature.objects.get()
    assert (decided.disposition, decided.disposed_by, decided.signature_id) == ("release", "engineer", signature.pk)
    assert signature.meaning == "released after re-inspection" and signature.record_model == "traceability.holdlot"
    assert decided.disposed_at == signature.signed_at and decided.comment == "100 % visual check"


def test_a_decision_is_audited_with_before_and_after(plant, hold):
    decided = dispose(plant, hold, "A", "scrap", meaning="scrapped: short shots")

    audit = AuditEntry.objects.get(action="dispose", object_pk=str(decided.pk))
    assert audit.changes["disposition"] == ["held", "scrap"] and audit.reason == "scrapped: short shots"


def test_a_wrong_password_changes_nothing(plant, hold):
    with pytest.raises(HoldError) as error:
        dispose(plant, hold, "A", password="guess")

    assert error.value.code == "signature_password"
    assert entry(hold, "A").disposition == "held" and ESignature.objects.count() == 0
    assert not AuditEntry.objects.filter(action__in=["dispose", "sign"]).exists()


def test_a_decision_needs_a_meaning(plant, hold):
    with pytest.raises(HoldError) as error:
        dispose(plant, hold, "A", meaning="  ")

    assert (error.value.code, error.value.field) == ("signature_meaning", "meaning")


@pytest.mark.parametrize("role_user", ["supervisor", "operator"])
def test_only_quality_engineers_may_decide(plant, hold, role_user):
    with pytest.raises(HoldError) as error:
        dispose(plant, hold, "A", user=getattr(plant, role_user))

    assert error.value.code == "not_permitted" and entry(hold, "A").disposition == "held"


def test_an_engineer_of_another_site_does_not_see_the_hold(plant, hold):
    with pytest.raises(HoldError) as error:
        dispose(plant, hold, "A", user=plant.foreign_engineer)

    assert error.value.code == "not_found"


def test_an_unknown_disposition_is_refused(plant, hold):
    with pytest.raises(HoldError) as error:
        dispose(plant, hold, "A", "ship-anyway")

    assert (error.value.code, error.value.field) == ("invalid_disposition", "disposition")


def test_deciding_a_decided_lot_names_who_decided_when(plant, hold):
    dispose(plant, hold, "A", "scrap")

    with pytest.raises(HoldError) as error:
        dispose(plant, hold, "A", "release", user=plant.engineer2)

    assert error.value.code == "already_decided"
    assert "engineer" in error.value.message and error.value.details["disposition"] == "scrap"


def test_a_lot_in_rework_gets_a_final_decision_later(plant, hold):
    dispose(plant, hold, "A", "rework", meaning="rework: regrind gates")

    decided = dispose(plant, hold, "A", "release", meaning="released after rework")

    assert decided.disposition == "release" and decided.version == 3


def test_a_decision_on_a_stale_version_is_refused(plant, hold):
    seen = entry(hold, "A").version
    dispose(plant, hold, "A", "rework")

    with pytest.raises(HoldError) as error:
        dispose(plant, hold, "A", "release", version=seen)

    assert error.value.code == "already_decided"


def test_hold_state_follows_the_lots(plant, hold):
    assert hold.state == Hold.State.ACTIVE
    dispose(plant, hold, "A")
    hold.refresh_from_db()
    assert hold.state == Hold.State.PARTIALLY_RELEASED
    dispose(plant, hold, "B", "scrap")
    hold.refresh_from_db()
    assert hold.state == Hold.State.RELEASED and hold.released_at is not None


def test_a_lot_in_rework_keeps_the_hold_partially_released(plant, hold):
    dispose(plant, hold, "A")
    dispose(plant, hold, "B", "rework")

    hold.refresh_from_db()
    assert hold.state == Hold.State.PARTIALLY_RELEASED


def test_an_open_window_keeps_the_hold_open_until_it_closes(plant):
    plant.lot("W", equipment=plant.imm02, start=8, end=9)
    hold = freeze_window(plant.imm02, at(8), reason="drift")
    dispose(plant, hold, "W")
    hold.refresh_from_db()
    assert hold.state == Hold.State.PARTIALLY_RELEASED

    closed = close_hold_window(hold.pk, end=at(10))

    assert closed.state == Hold.State.RELEASED


def test_release_hold_releases_every_held_lot_with_one_signature(plant, hold):
    dispose(plant, hold, "A", "scrap")

    released = release_hold(hold.pk, user=plant.engineer, password=PASSWORD, meaning="released after re-inspection")

    assert released.state == Hold.State.RELEASED
    assert entry(hold, "A").disposition == "scrap"
    b = entry(hold, "B")
    assert b.disposition == "release" and b.signature.record_model == "traceability.hold"
    assert AuditEntry.objects.filter(action="release_hold", object_pk=str(hold.pk)).exists()


def test_releasing_a_released_hold_is_refused(plant, hold):
    release_hold(hold.pk, user=plant.engineer, password=PASSWORD, meaning="ok")

    with pytest.raises(HoldError) as error:
        release_hold(hold.pk, user=plant.engineer, password=PASSWORD, meaning="ok again")

    assert error.value.code == "already_released"


def test_release_hold_with_a_wrong_password_changes_nothing(plant, hold):
    with pytest.raises(HoldError) as error:
        release_hold(hold.pk, user=plant.engineer, password="nope", meaning="ok")

    hold.refresh_from_db()
    assert error.value.code == "signature_password" and hold.state == Hold.State.ACTIVE
    assert set(hold.lots.values_list("disposition", flat=True)) == {"held"}


def test_release_hold_waits_for_lots_in_rework(plant, hold):
    dispose(plant, hold, "A", "rework")

    with pytest.raises(HoldError) as error:
        release_hold(hold.pk, user=plant.engineer, password=PASSWORD, meaning="ok")

    assert error.value.code == "rework_pending" and error.value.details == {"lots": ["A"]}


def test_release_hold_closes_an_open_window(plant):
    hold = freeze_window(plant.imm02, at(8), reason="drift")

    released = release_hold(hold.pk, user=plant.engineer, password=PASSWORD, meaning="machine repaired")

    assert released.window_end is not None and released.state == Hold.State.RELEASED


def test_a_machine_client_cannot_sign(plant, hold):
    from qms.auth.tokens import MachineClient
    from tests.factories import make_token

    token, _raw = make_token(plant.site)

    with pytest.raises(HoldError) as error:
        release_hold(hold.pk, user=MachineClient(token), password="x", meaning="ok")

    assert error.value.code == "signature_needs_person"
