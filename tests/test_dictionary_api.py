"""/api/v1/characteristics/: filters, language, tokens and scopes, site scoping, versions, history."""
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from qms.models import Characteristic, Measurement
from tests.factories import CharacteristicFactory, EquipmentFactory, UserFactory, make_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/characteristics/"
NEW = {"code": "IMM01.BARREL_Z1.TEMP", "name_en": "Barrel zone 1", "unit": "°C", "lsl": 225, "usl": 235,
       "nominal": 230, "physical_min": 0, "physical_max": 400}


def token_client(site, scopes=()):
    _token, raw = make_token(site, scopes=scopes, name=f"T-{site.code}-{'-'.join(scopes) or 'read'}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_item_carries_the_documented_fields(engineer_client, characteristic):
    item = engineer_client.get(f"{URL}{characteristic.pk}/").json()
    for key in ("code", "name", "name_en", "name_zh", "unit", "data_type", "precision", "precision_policy",
                "physical_min", "physical_max", "nominal", "lsl", "usl", "update_period_s", "subgroup_size",
                "criticality", "equipment", "operation", "status", "version"):
        assert key in item
    assert item["equipment"] == "IMM01"


def test_code_filter_is_exact(engineer_client, site, characteristic):
    CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMPX")
    body = engineer_client.get(URL, {"code": "IMM01.BARREL_Z2.TEMP"}).json()
    assert [item["code"] for item in body["results"]] == ["IMM01.BARREL_Z2.TEMP"]


def test_prefix_equipment_criticality_and_status_filters(engineer_client, site, characteristic):
    other_machine = EquipmentFactory(code="IMM02", work_center__line__area__site=site)
    CharacteristicFactory(site=site, code="IMM02.CUSHION.POS", equipment=other_machine, criticality="ctq")
    CharacteristicFactory(site=site, code="IMM02.CYCLE.TIME", equipment=other_machine, status="draft")

    def codes(**params):
        return sorted(item["code"] for item in engineer_client.get(URL, params).json()["results"])

    assert codes(code__startswith="IMM02.") == ["IMM02.CUSHION.POS", "IMM02.CYCLE.TIME"]
    assert codes(equipment="IMM01") == ["IMM01.BARREL_Z2.TEMP"]
    assert codes(criticality="ctq") == ["IMM02.CUSHION.POS"]
    assert codes(status="draft") == ["IMM02.CYCLE.TIME"]


def test_invalid_filter_choice_is_400(engineer_client, characteristic):
    response = engineer_client.get(URL, {"criticality": "extreme"})
    assert response.status_code == 400
    assert "criticality" in response.json()["error"]["details"]


def test_name_follows_accept_language(engineer_client, characteristic):
    zh = engineer_client.get(f"{URL}{characteristic.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    en = engineer_client.get(f"{URL}{characteristic.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert (zh["name"], en["name"]) == ("料筒温度", "Barrel zone temperature")


def test_chinese_name_falls_back_to_english_when_missing(engineer_client, site):
    entry = CharacteristicFactory(site=site, name_zh="")
    assert engineer_client.get(f"{URL}{entry.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["name"] == entry.name_en


def test_any_token_of_the_site_reads(site, characteristic):
    response = token_client(site, scopes=()).get(URL, {"code": characteristic.code})
    assert response.status_code == 200
    assert response.json()["results"][0]["code"] == characteristic.code


def test_token_without_write_scope_cannot_write(site, mes_client, characteristic):
    assert mes_client.post(URL, NEW, format="json").status_code == 403
    assert mes_client.patch(f"{URL}{characteristic.pk}/", {"name_en": "x"}, format="json").status_code == 403
    assert mes_client.delete(f"{URL}{characteristic.pk}/").status_code == 403


def test_token_with_dictionary_write_creates_in_its_site(site):
    response = token_client(site, scopes=("dictionary:write",)).post(URL, NEW, format="json")
    assert response.status_code == 201, response.json()
    entry = Characteristic.objects.get(code=NEW["code"])
    assert entry.site == site
    assert entry.history.first().history_actor.startswith("token:")


def test_user_without_permission_cannot_write(site):
    operator = UserFactory(username="op", role="operator", sites=[site])
    client = APIClient()
    client.force_authenticate(operator)
    assert client.post(URL, NEW, format="json").status_code == 403


def test_create_reports_problems_per_field(engineer_client, site):
    response = engineer_client.post(URL, {**NEW, "code": "bad code", "lsl": 240}, format="json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"code", "usl"} <= set(details)


def test_create_duplicate_code_is_400_not_500(engineer_client, characteristic):
    response = engineer_client.post(URL, {**NEW, "code": characteristic.code}, format="json")
    assert response.status_code == 400
    assert "code" in response.json()["error"]["details"]


def test_body_must_be_an_object(engineer_client, site):
    response = engineer_client.post(URL, [NEW], format="json")
    assert response.status_code == 400


def test_user_of_other_site_neither_sees_nor_changes(other_site, characteristic):
    stranger = UserFactory(username="s2-engineer", role="quality_engineer", sites=[other_site])
    client = APIClient()
    client.force_authenticate(stranger)
    assert client.get(URL).json()["results"] == []
    assert client.get(f"{URL}{characteristic.pk}/").status_code == 404
    assert client.patch(f"{URL}{characteristic.pk}/", {"name_en": "hijack"}, format="json").status_code == 404
    assert client.delete(f"{URL}{characteristic.pk}/?reason=x").status_code == 404
    characteristic.refresh_from_db()
    assert characteristic.name_en == "Barrel zone temperature"


def test_user_cannot_create_in_a_site_he_does_not_belong_to(engineer_client, other_site):
    response = engineer_client.post(URL, {**NEW, "site": "S2"}, format="json")
    assert response.status_code == 403
    assert not Characteristic.objects.filter(site=other_site).exists()


def test_token_of_other_site_neither_sees_nor_changes(other_site, characteristic):
    client = token_client(other_site, scopes=("dictionary:write",))
    assert client.get(URL, {"code": characteristic.code}).json()["results"] == []
    assert client.patch(f"{URL}{characteristic.pk}/", {"name_en": "x"}, format="json").status_code == 404


def test_patch_with_stale_version_is_409(engineer_client, characteristic):
    engineer_client.patch(f"{URL}{characteristic.pk}/", {"name_en": "A", "version": 1}, format="json")
    response = engineer_client.patch(f"{URL}{characteristic.pk}/", {"name_en": "B", "version": 1}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_conflict"


def test_patch_with_if_match_header(engineer_client, characteristic):
    response = engineer_client.patch(f"{URL}{characteristic.pk}/", {"name_en": "A"}, format="json",
                                     HTTP_IF_MATCH='"1"')
    assert (response.status_code, response.json()["version"]) == (200, 2)


def test_patch_released_limits_without_reason_is_400_with_reason_field(engineer_client, characteristic):
    response = engineer_client.patch(f"{URL}{characteristic.pk}/", {"usl": 236}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["details"]


def test_history_lists_versions_with_who_what_why(engineer_client, characteristic):
    engineer_client.patch(f"{URL}{characteristic.pk}/", {"usl": 236, "reason": "ECN-17"}, format="json")
    versions = engineer_client.get(f"{URL}{characteristic.pk}/history/").json()["results"]
    assert [v["version"] for v in versions] == [2, 1]
    newest = versions[0]
    assert (newest["type"], newest["user"], newest["reason"]) == ("changed", "engineer", "ECN-17")
    assert newest["changes"] == {"usl": [235.0, 236.0]}
    assert versions[1]["type"] == "created"


def test_delete_with_measurements_is_409_naming_them(engineer_client, characteristic):
    Measurement.objects.create(characteristic=characteristic, ts=timezone.now(), value=1.0, source="t",
                               received_at=timezone.now())
    response = engineer_client.delete(f"{URL}{characteristic.pk}/?reason=typo")
    assert response.status_code == 409
    body = response.json()["error"]
    assert body["code"] == "in_use" and "measurements" in body["message"]


def test_delete_without_data_removes_entry(engineer_client, characteristic):
    assert engineer_client.delete(f"{URL}{characteristic.pk}/?reason=typo").status_code == 204
    assert not Characteristic.objects.filter(pk=characteristic.pk).exists()


def test_retire_endpoint(engineer_client, characteristic):
    response = engineer_client.post(f"{URL}{characteristic.pk}/retire/", {"reason": "scrapped"}, format="json")
    assert (response.status_code, response.json()["status"]) == (200, "retired")
    assert engineer_client.post(f"{URL}{characteristic.pk}/retire/", {}, format="json").status_code == 400


def test_patch_cannot_move_an_entry_to_another_site(engineer_client, characteristic, other_site):
    response = engineer_client.patch(f"{URL}{characteristic.pk}/", {"site": "S2", "name_en": "x"}, format="json")
    assert response.status_code == 400 and "site" in response.json()["error"]["details"]
    characteristic.refresh_from_db()
    assert characteristic.name_en == "Barrel zone temperature"


def test_code_in_filter_takes_a_comma_separated_list(engineer_client, site, characteristic):
    CharacteristicFactory(site=site, code="IMM01.CUSHION.POS")
    CharacteristicFactory(site=site, code="IMM01.CYCLE.TIME")
    body = engineer_client.get(URL, {"code__in": "IMM01.CUSHION.POS,IMM01.BARREL_Z2.TEMP"}).json()
    assert sorted(item["code"] for item in body["results"]) == ["IMM01.BARREL_Z2.TEMP", "IMM01.CUSHION.POS"]
