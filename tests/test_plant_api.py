"""Plant model API: CRUD per level, codes unique per parent as 400s, PROTECT as 409, tokens read-only, scoping."""
import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from qms.models import Area, AuditEntry, Equipment, Line, SiteMembership
from tests.factories import (
    AreaFactory,
    CharacteristicFactory,
    EquipmentFactory,
    LineFactory,
    OperationFactory,
    ProductFactory,
    UserFactory,
    WorkCenterFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def admin_client(site):
    user = UserFactory(username="plant-admin", role="admin", sites=[site])
    user.user_permissions.add(*Permission.objects.filter(codename__startswith="delete_", content_type__app_label="qms"))
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def superuser_client(site, other_site):
    client = APIClient()
    client.force_authenticate(UserFactory(username="root", is_superuser=True))
    return client


@pytest.fixture
def line(site):
    return LineFactory(code="L1", area=AreaFactory(site=site, code="MOULD"))


def test_area_create_defaults_to_the_users_site_and_is_audited(admin_client, site):
    response = admin_client.post(f"{API}/areas/", {"code": "MOULD", "name": "Moulding", "reason": "new hall"})
    assert response.status_code == 201, response.json()
    assert response.json()["site"] == "S1"
    area = Area.objects.get(code="MOULD")
    assert area.site == site
    assert AuditEntry.objects.filter(model="qms.Area", action="create", reason="new hall").exists()


def test_area_code_unique_per_site_is_400_on_code(admin_client, site):
    AreaFactory(site=site, code="MOULD")
    response = admin_client.post(f"{API}/areas/", {"code": "MOULD"})
    assert response.status_code == 400
    assert "already exists" in response.json()["error"]["details"]["code"][0]


def test_same_area_code_in_another_site_is_fine(superuser_client, site, other_site):
    AreaFactory(site=site, code="MOULD")
    assert superuser_client.post(f"{API}/areas/", {"site": "S2", "code": "MOULD"}).status_code == 201


def test_list_filters_by_code_and_parent(admin_client, site, line):
    LineFactory(code="L2", area=line.area)
    LineFactory(code="L1", area=AreaFactory(site=site, code="ASSY"))

    def codes(**params):
        results = admin_client.get(f"{API}/lines/", params).json()["results"]
        return sorted((item["area_code"], item["code"]) for item in results)

    assert codes(code="L1") == [("ASSY", "L1"), ("MOULD", "L1")]
    assert codes(area=line.area_id) == [("MOULD", "L1"), ("MOULD", "L2")]
    assert codes(area__code="ASSY") == [("ASSY", "L1")]


def test_full_hierarchy_create_and_update(admin_client, site):
    area = admin_client.post(f"{API}/areas/", {"code": "MOULD"}).json()
    line = admin_client.post(f"{API}/lines/", {"area": area["id"], "code": "L1"}).json()
    work_center = admin_client.post(f"{API}/work-centers/", {"line": line["id"], "code": "WC1"}).json()
    machine = admin_client.post(f"{API}/equipment/", {"work_center": work_center["id"], "code": "IMM01",
                                                      "kind": "injection moulding machine"})
    assert machine.status_code == 201, machine.json()
    assert (machine.json()["site"], machine.json()["work_center_code"]) == ("S1", "WC1")
    patched = admin_client.patch(f"{API}/equipment/{machine.json()['id']}/", {"name": "Engel 200t"})
    assert patched.json()["name"] == "Engel 200t"
    assert Equipment.objects.get(code="IMM01").site == site


def test_equipment_code_unique_per_site_across_work_centers_is_400(admin_client, site, equipment):
    other_work_center = WorkCenterFactory(line=LineFactory(area=AreaFactory(site=site)))
    response = admin_client.post(f"{API}/equipment/", {"work_center": other_work_center.pk, "code": "IMM01"})
    assert response.status_code == 400
    assert "site S1" in response.json()["error"]["details"]["code"][0]


def test_parent_of_another_site_reads_as_unknown(admin_client, other_site):
    foreign_area = AreaFactory(site=other_site)
    response = admin_client.post(f"{API}/lines/", {"area": foreign_area.pk, "code": "L9"})
    assert response.status_code == 400 and "area" in response.json()["error"]["details"]
    assert not Line.objects.filter(code="L9").exists()


def test_move_to_another_site_is_refused(superuser_client, site, other_site, line):
    foreign_area = AreaFactory(site=other_site)
    response = superuser_client.patch(f"{API}/lines/{line.pk}/", {"area": foreign_area.pk})
    assert response.status_code == 400 and "another site" in response.json()["error"]["details"]["area"][0]


def test_move_within_the_site_is_allowed(admin_client, site, line):
    other_area = AreaFactory(site=site, code="ASSY")
    assert admin_client.patch(f"{API}/lines/{line.pk}/", {"area": other_area.pk}).json()["area_code"] == "ASSY"


def test_product_part_number_and_revision_unique(engineer_client, site):
    ProductFactory(site=site, part_number="PN-1", revision="A")
    duplicate = engineer_client.post(f"{API}/products/", {"part_number": "PN-1", "revision": "A"})
    assert duplicate.status_code == 400 and "part_number" in duplicate.json()["error"]["details"]
    assert engineer_client.post(f"{API}/products/", {"part_number": "PN-1", "revision": "B"}).status_code == 201


def test_operation_sequence_unique_and_work_center_same_site(engineer_client, site, other_site):
    product = ProductFactory(site=site, part_number="PN-1")
    OperationFactory(product=product, sequence=10, code="MOULD")
    duplicate = engineer_client.post(f"{API}/operations/", {"product": product.pk, "sequence": 10, "code": "TRIM"})
    assert duplicate.status_code == 400 and "sequence" in duplicate.json()["error"]["details"]
    created = engineer_client.post(f"{API}/operations/", {"product": product.pk, "sequence": 20, "code": "TRIM"})
    assert created.status_code == 201 and created.json()["reference"] == "PN-1/A/TRIM"


@pytest.mark.parametrize(("field", "value"), [("timezone", "Mars/Olympus"), ("naming_rule", "([A-Z")])
def test_site_timezone_and_naming_rule_are_validated(superuser_client, field, value):
    response = superuser_client.post(f"{API}/sites/", {"code": "S5", "name": "x", field: value})
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == [field]


def test_site_creator_becomes_member(site):
    creator = UserFactory(username="founder", role="admin", sites=[site])
    client = APIClient()
    client.force_authenticate(creator)
    response = client.post(f"{API}/sites/", {"code": "S5", "name": "New plant"})
    assert response.status_code == 201
    assert SiteMembership.objects.filter(user=creator, site__code="S5").exists()
    assert "S5" in [item["code"] for item in client.get(f"{API}/sites/").json()["results"]]


def test_naming_rule_change_that_strands_codes_is_refused(admin_client, site, characteristic):
    response = admin_client.patch(f"{API}/sites/{site.pk}/", {"naming_rule": r"^P[0-9]+$"})
    assert response.status_code == 400
    assert characteristic.code in response.json()["error"]["details"]["naming_rule"][0]


def test_delete_unreferenced_area(admin_client, site):
    area = AreaFactory(site=site)
    assert admin_client.delete(f"{API}/areas/{area.pk}/?reason=typo").status_code == 204
    assert AuditEntry.objects.filter(model="qms.Area", action="delete", reason="typo").exists()


def test_delete_referenced_area_is_409_naming_the_lines(admin_client, line):
    response = admin_client.delete(f"{API}/areas/{line.area_id}/")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "in_use" and "lines (L1)" in error["message"]
    assert Area.objects.filter(pk=line.area_id).exists()


def test_delete_equipment_used_by_dictionary_is_409(admin_client, site, equipment):
    CharacteristicFactory(site=site, code="IMM01.CUSHION.POS", equipment=equipment)
    response = admin_client.delete(f"{API}/equipment/{equipment.pk}/")
    assert response.status_code == 409 and "IMM01.CUSHION.POS" in response.json()["error"]["message"]


def test_delete_product_whose_operation_is_in_the_dictionary_is_409(admin_client, site):
    operation = OperationFactory(product=ProductFactory(site=site, part_number="PN-1"), code="MOULD")
    CharacteristicFactory(site=site, code="IMM01.WEIGHT.PART", operation=operation)
    response = admin_client.delete(f"{API}/products/{operation.product_id}/")
    assert response.status_code == 409 and "characteristics" in response.json()["error"]["message"]


def test_delete_needs_the_delete_permission(engineer_client, site):
    area = AreaFactory(site=site)
    assert engineer_client.delete(f"{API}/areas/{area.pk}/").status_code == 403


@pytest.mark.parametrize("path", ["sites", "areas", "lines", "work-centers", "equipment", "products", "operations"])
def test_token_reads_but_cannot_write(mes_client, equipment, path):
    assert mes_client.get(f"{API}/{path}/").status_code == 200
    assert mes_client.post(f"{API}/{path}/", {"code": "X"}).status_code == 403


def test_token_sees_only_its_site(mes_client, site, other_site, equipment):
    EquipmentFactory(code="IMM77", work_center__line__area__site=other_site)
    codes = [item["code"] for item in mes_client.get(f"{API}/equipment/").json()["results"]]
    assert codes == ["IMM01"]


def test_user_of_other_site_sees_nothing_of_s1(other_site, line):
    stranger = UserFactory(username="s2-admin", role="admin", sites=[other_site])
    client = APIClient()
    client.force_authenticate(stranger)
    assert client.get(f"{API}/lines/").json()["results"] == []
    assert client.get(f"{API}/lines/{line.pk}/").status_code == 404
    assert client.patch(f"{API}/lines/{line.pk}/", {"name": "x"}).status_code == 404
