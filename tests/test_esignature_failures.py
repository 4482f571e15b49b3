"""Failed e-signature attempts: recorded in the audit chain even though the signing transaction rolls back, and
signing locked after ESIGN_MAX_FAILED_ATTEMPTS wrong passwords (docs/security.md)."""
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from qms.models import AuditEntry
from qms.services import nc as nc_service
from qms.services.esignature import signing_locked_until
from qms.services.nc import NcError
from tests.factories import user_client
from tests.factories_nc import PASSWORD, NcPlant


def failures_of(user):
    return AuditEntry.objects.filter(action="sign_failed", object_pk=str(user.pk))


def close(plant, nc, password):
    return user_client(plant.engineer).post(f"/api/v1/ncs/{nc.pk}/close/", {"password": password,
                                                                            "meaning": "closed"}, format="json")


@pytest.mark.django_db
def test_a_wrong_password_is_recorded_and_nothing_changes():
    plant = NcPlant()
    nc = plant.nc(lots=(), severity="minor")
    response = close(plant, nc, "wrong")
    assert response.status_code == 403 and response.json()["error"]["code"] == "signature_password"
    nc.refresh_from_db()
    assert nc.state == "open"
    entry = failures_of(plant.engineer).get()
    assert entry.actor_user_id == plant.engineer.pk
    assert entry.changes["record"][1] == f"qms.nonconformance:{nc.pk}"


@pytest.mark.django_db(transaction=True)
def test_the_failed_attempt_survives_the_rolled_back_transaction():
    plant = NcPlant()
    nc = plant.nc(lots=(), severity="minor")
    with pytest.raises(NcError):
        nc_service.close_nc(nc.pk, user=plant.engineer, password="wrong", meaning="closed")
    nc.refresh_from_db()
    assert nc.state == "open"
    assert failures_of(plant.engineer).count() == 1  # committed on its own, after the service's rollback


@pytest.mark.django_db
def test_signing_locks_after_the_limit_with_429(settings):
    settings.ESIGN_MAX_FAILED_ATTEMPTS = 3
    plant = NcPlant()
    nc = plant.nc(lots=(), severity="minor")
    codes = [close(plant, nc, f"guess{i}").status_code for i in range(3)]
    assert codes == [403, 403, 403]
    response = close(plant, nc, PASSWORD)  # even the right password: locked
    assert response.status_code == 429 and response.json()["error"]["code"] == "signature_locked"
    assert "administrator" in response.json()["error"]["message"]
    nc.refresh_from_db()
    assert nc.state == "open"
    assert AuditEntry.objects.filter(action="sign_locked", object_pk=str(plant.engineer.pk)).count() == 1


@pytest.mark.django_db
def test_the_lock_expires_after_the_window(settings):
    settings.ESIGN_MAX_FAILED_ATTEMPTS, settings.ESIGN_LOCKOUT_WINDOW_S = 2, 600
    plant = NcPlant()
    nc = plant.nc(lots=(), severity="minor")
    for attempt in range(2):
        close(plant, nc, f"guess{attempt}")
    until = signing_locked_until(plant.engineer)
    assert until is not None
    assert signing_locked_until(plant.engineer, now=until + timedelta(seconds=1)) is None


@pytest.mark.django_db
def test_a_good_signature_resets_the_count(settings):
    settings.ESIGN_MAX_FAILED_ATTEMPTS = 2
    plant = NcPlant()
    first, second = plant.nc(lots=(), severity="minor"), plant.nc(lots=(), severity="minor")
    close(plant, first, "guess")
    assert close(plant, first, PASSWORD).status_code == 200
    close(plant, second, "guess")
    assert signing_locked_until(plant.engineer) is None


@pytest.mark.django_db
def test_an_administrator_unlocks_signing(settings):
    settings.ESIGN_MAX_FAILED_ATTEMPTS = 2
    plant = NcPlant()
    nc = plant.nc(lots=(), severity="minor")
    for attempt in range(2):
        close(plant, nc, f"guess{attempt}")
    assert signing_locked_until(plant.engineer, now=timezone.now()) is not None
    call_command("unlock_signing", "engineer", reason="identity checked by phone")
    assert signing_locked_until(plant.engineer) is None
    assert close(plant, nc, PASSWORD).status_code == 200
