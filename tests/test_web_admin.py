"""Django admin: every model of qms and traceability is registered, its pages open, evidence is read-only."""
import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from qms.models import AuditEntry, Characteristic
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OWN_APPS = ("qms", "traceability")


def own_models():
    return [model for label in OWN_APPS for model in apps.get_app_config(label).get_models()
            if not model.__name__.startswith("Historical")]


@pytest.fixture
def superuser_client(client):
    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(user)
    return client


@pytest.mark.parametrize("model", own_models(), ids=lambda m: m._meta.label)
def test_every_model_is_registered(model):
    assert admin.site.is_registered(model)


@pytest.mark.parametrize("model", own_models(), ids=lambda m: m._meta.label)
def test_every_change_list_opens(superuser_client, characteristic, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert superuser_client.get(url).status_code == 200


def test_audit_entries_cannot_be_added_changed_or_deleted(superuser_client, characteristic):
    entry = AuditEntry.objects.first()
    assert superuser_client.get(reverse("admin:qms_auditentry_add")).status_code == 403
    assert superuser_client.post(reverse("admin:qms_auditentry_change", args=[entry.pk]), {"reason": "x"}).status_code == 403
    assert superuser_client.post(reverse("admin:qms_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk, reason=entry.reason).exists()


def test_characteristic_history_page_lists_versions(superuser_client, characteristic):
    url = reverse("admin:qms_characteristic_history", args=[characteristic.pk])
    assert superuser_client.get(url).status_code == 200


def test_admin_edit_of_a_released_limit_needs_a_reason(superuser_client, characteristic):
    url = reverse("admin:qms_characteristic_change", args=[characteristic.pk])
    form = superuser_client.get(url).context["adminform"].form
    data = {name: ("" if value is None else getattr(value, "pk", value)) for name, value in form.initial.items()
            if name in form.fields}
    data["usl"] = "240"
    response = superuser_client.post(url, data)
    assert response.status_code == 200
    assert "change_reason" in response.context["adminform"].form.errors
    data["change_reason"] = "drawing rev C"
    assert superuser_client.post(url, data).status_code == 302
    characteristic.refresh_from_db()
    assert (characteristic.usl, characteristic.version) == (240.0, 2)
    assert characteristic.history.first().history_change_reason == "drawing rev C"


def test_staff_of_one_site_sees_only_its_records(client, site, other_site, characteristic):
    from tests.factories import CharacteristicFactory

    CharacteristicFactory(site=other_site, code="IMM09.OTHER.TEMP")
    staff = UserFactory(username="plant-admin", role="quality_engineer", sites=[site], is_staff=True)
    client.force_login(staff)
    response = client.get(reverse("admin:qms_characteristic_changelist"))
    assert [c.code for c in response.context["cl"].result_list] == [characteristic.code]
    assert Characteristic.objects.count() == 2
