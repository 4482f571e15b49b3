"""Hold decisions record a wrong signature password after their rollback and count it toward the signing lock,
like the NC and CAPA services (docs/security.md §5a)."""
import pytest

from qms.models import AuditEntry
from qms.services.esignature import signing_locked_until
from tests.factories import user_client
from tests.factories_holds import PASSWORD, Plant
from traceability.models import Hold, HoldLot
from traceability.services.holds import HoldError, dispose_hold_lot, place_hold, release_hold


@pytest.fixture
def plant():
    return Plant()


@pytest.fixture
def hold(plant):
    plant.lot("A")
    return place_hold(plant.site, reason="suspect resin", lots=["A"])


def failures_of(user):
    return AuditEntry.objects.filter(action="sign_failed", object_pk=str(user.pk))


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_on_a_lot_decision_is_recorded_after_the_rollback(plant, hold):
    entry = HoldLot.objects.get(hold=hold)
    with pytest.raises(HoldError):
        dispose_hold_lot(entry.pk, disposition="release", user=plant.engineer, password="guess", meaning="ok")
    entry.refresh_from_db()
    assert entry.disposition == "held"
    assert failures_of(plant.engineer).get().changes["record"][1] == f"traceability.holdlot:{entry.pk}"


@pytest.mark.django_db(transaction=True)
def test_a_wrong_password_on_a_release_is_recorded_after_the_rollback(plant, hold):
    with pytest.raises(HoldError):
        release_hold(hold.pk, user=plant.engineer, password="guess", meaning="ok")
    hold.refresh_from_db()
    assert hold.state == Hold.State.ACTIVE
    assert failures_of(plant.engineer).get().changes["record"][1] == f"traceability.hold:{hold.pk}"


@pytest.mark.django_db
def test_wrong_passwords_on_hold_decisions_lock_signing(settings, plant, hold):
    settings.ESIGN_MAX_FAILED_ATTEMPTS = 2
    for guess in ("guess1", "guess2"):
        with pytest.raises(HoldError):
            release_hold(hold.pk, user=plant.engineer, password=guess, meaning="ok")
    assert signing_locked_until(plant.engineer) is not None
    with pytest.raises(HoldError) as error:
        release_hold(hold.pk, user=plant.engineer, password=PASSWORD, meaning="ok")
    assert error.value.code == "signature_locked"


@pytest.mark.django_db
def test_a_locked_signer_gets_429_from_the_hold_api(settings, plant, hold):
    settings.ESIGN_MAX_FAILED_ATTEMPTS = 2
    client = user_client(plant.engineer)
    url = f"/api/v1/holds/{hold.pk}/lots/A/dispose/"
    for guess in ("guess1", "guess2"):
        assert client.post(url, {"disposition": "release", "password": guess, "meaning": "ok"},
                           format="json").status_code == 403
    response = client.post(url, {"disposition": "release", "password": PASSWORD, "meaning": "ok"}, format="json")
    assert response.status_code == 429 and response.json()["error"]["code"] == "signature_locked"
    assert HoldLot.objects.get(hold=hold).disposition == "held"
