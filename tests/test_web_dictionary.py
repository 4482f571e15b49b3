"""Data-dictionary pages: list with filters and sorting, detail with version history, create/edit/retire, import
with preview, export."""
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qms.models import Characteristic
from qms.services.dictionary import update_characteristic
from tests.factories import CharacteristicFactory
from tests.web_support import signed_in, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(engineer):
    return signed_in(engineer)


def form_data(characteristic=None, **overrides):
    data = {
        "code": "IMM01.MOULD.TEMP", "name_en": "Mould temperature", "name_zh": "模具温度", "unit": "°C",
        "data_type": "float", "precision": "1", "precision_policy": "round", "physical_min": "0",
        "physical_max": "200", "nominal": "60", "lsl": "55", "usl": "65", "update_period_s": "5",
        "subgroup_size": "1", "criticality": "standard", "equipment": "", "operation": "", "status": "draft",
    }
    if characteristic is not None:
        for name in data:
            value = getattr(characteristic, name if name not in ("equipment", "operation") else f"{name}_id")
            data[name] = "" if value is None else str(value)
        data["version"] = str(characteristic.version)
        data["reason"] = ""
    data.update({key: str(value) for key, value in overrides.items()})
    return data


# --- list ---------------------------------------------------------------------------------------------------------

def test_list_shows_only_the_current_sites_entries(web, site, other_site, characteristic):
    CharacteristicFactory(site=other_site, code="IMM09.OTHER.TEMP")
    html = web.get(reverse("dictionary-list")).content.decode()
    assert characteristic.code in html
    assert "IMM09.OTHER.TEMP" not in html


def test_list_filters_by_code_criticality_and_status(web, site):
    CharacteristicFactory(site=site, code="IMM01.PART.WEIGHT", criticality="ctq", name_en="Part weight")
    CharacteristicFactory(site=site, code="IMM01.CYCLE.TIME", status="draft", name_en="Cycle time")
    assert [c.code for c in web.get(reverse("dictionary-list"), {"q": "weight"}).context["characteristics"]] == [
        "IMM01.PART.WEIGHT"]
    assert [c.code for c in web.get(reverse("dictionary-list"), {"criticality": "ctq"}).context["characteristics"]] == [
        "IMM01.PART.WEIGHT"]
    assert [c.code for c in web.get(reverse("dictionary-list"), {"status": "draft"}).context["characteristics"]] == [
        "IMM01.CYCLE.TIME"]


def test_list_filters_by_equipment(web, site, equipment, characteristic):
    CharacteristicFactory(site=site, code="IMM02.MOULD.TEMP")
    codes = [c.code for c in web.get(reverse("dictionary-list"), {"equipment": equipment.pk}).context["characteristics"]]
    assert codes == [characteristic.code]


def test_list_sorts_by_a_column_both_ways(web, site):
    for code in ("IMM01.B.X", "IMM01.A.X", "IMM01.C.X"):
        CharacteristicFactory(site=site, code=code)
    ascending = [c.code for c in web.get(reverse("dictionary-list"), {"o": "code"}).context["characteristics"]]
    descending = [c.code for c in web.get(reverse("dictionary-list"), {"o": "-code"}).context["characteristics"]]
    assert ascending == ["IMM01.A.X", "IMM01.B.X", "IMM01.C.X"]
    assert descending == list(reversed(ascending))


def test_list_shows_chinese_names_in_chinese(site, engineer, characteristic):
    html = signed_in(engineer, language="zh-hans").get(reverse("dictionary-list")).content.decode()
    assert characteristic.name_zh in html


# --- detail and history -----------------------------------------------------------------------------------------

def test_detail_of_another_sites_entry_is_not_found(web, other_site):
    foreign = CharacteristicFactory(site=other_site, code="IMM09.OTHER.TEMP")
    assert web.get(reverse("dictionary-detail", args=[foreign.pk])).status_code == 404


def test_detail_shows_each_version_with_who_why_and_what_changed(web, characteristic, engineer):
    update_characteristic(characteristic.pk, {"usl": 236.0}, reason="widened after capability study")
    versions = web.get(reverse("dictionary-detail", args=[characteristic.pk])).context["versions"]
    newest = versions[0]
    assert newest.number == 2
    assert newest.reason == "widened after capability study"
    assert [(c.label, c.before, c.after) for c in newest.changes] == [("upper specification limit", "235.0", "236.0")]
    assert versions[-1].kind == "created"


def test_detail_names_the_user_who_changed_it(web, characteristic):
    web.post(reverse("dictionary-edit", args=[characteristic.pk]),
             form_data(characteristic, name_en="Barrel temperature zone 2"))
    versions = web.get(reverse("dictionary-detail", args=[characteristic.pk])).context["versions"]
    assert versions[0].who == "engineer"


# --- create and edit --------------------------------------------------------------------------------------------

def test_create_adds_an_entry_to_the_current_site(web, site):
    response = web.post(reverse("dictionary-create"), form_data())
    created = Characteristic.objects.get(site=site, code="IMM01.MOULD.TEMP")
    assert response["Location"] == reverse("dictionary-detail", args=[created.pk])
    assert (created.lsl, created.nominal, created.usl, created.version) == (55.0, 60.0, 65.0, 1)


def test_create_shows_the_services_message_under_the_field(web, site):
    response = web.post(reverse("dictionary-create"), form_data(code="bad code"))
    assert response.status_code == 400
    assert "naming rule" in " ".join(response.context["form"].errors["code"])
    assert not Characteristic.objects.filter(code="bad code").exists()


def test_create_rejects_limits_in_the_wrong_order(web):
    response = web.post(reverse("dictionary-create"), form_data(lsl="70"))
    assert response.status_code == 400
    assert response.context["form"].errors
    assert not Characteristic.objects.exists()


def test_equipment_of_another_site_cannot_be_chosen(web, other_site):
    from tests.factories import EquipmentFactory

    foreign = EquipmentFactory(code="IMM99", work_center__line__area__site=other_site, site=other_site)
    response = web.post(reverse("dictionary-create"), form_data(equipment=foreign.pk))
    assert response.status_code == 400
    assert "equipment" in response.context["form"].errors


def test_changing_a_released_limit_without_reason_is_refused_with_a_clear_message(web, characteristic):
    response = web.post(reverse("dictionary-edit", args=[characteristic.pk]), form_data(characteristic, usl="240"))
    assert response.status_code == 400
    assert "reason is required" in " ".join(response.context["form"].errors["reason"])
    characteristic.refresh_from_db()
    assert characteristic.usl == 235.0


def test_changing_a_released_limit_with_reason_creates_the_next_version(web, characteristic):
    response = web.post(reverse("dictionary-edit", args=[characteristic.pk]),
                        form_data(characteristic, usl="240", reason="new drawing rev C"))
    assert response.status_code == 302
    characteristic.refresh_from_db()
    assert (characteristic.usl, characteristic.version) == (240.0, 2)
    assert characteristic.history.first().history_change_reason == "new drawing rev C"


def test_edit_of_an_outdated_version_is_refused(web, characteristic):
    stale = form_data(characteristic, name_en="Mine")
    update_characteristic(characteristic.pk, {"name_en": "Theirs"})
    response = web.post(reverse("dictionary-edit", args=[characteristic.pk]), stale)
    assert response.status_code == 400
    assert "changed by someone else" in " ".join(response.context["form"].non_field_errors())
    characteristic.refresh_from_db()
    assert characteristic.name_en == "Theirs"


def test_operator_may_read_but_not_create(site, characteristic):
    client = signed_in(user_with_role("operator", site))
    assert client.get(reverse("dictionary-list")).status_code == 200
    assert client.get(reverse("dictionary-create")).status_code == 403
    assert client.post(reverse("dictionary-edit", args=[characteristic.pk]), form_data(characteristic)).status_code == 403


def test_retire_needs_a_reason(web, characteristic):
    response = web.post(reverse("dictionary-retire", args=[characteristic.pk]), {"reason": " "})
    assert response.status_code == 400
    characteristic.refresh_from_db()
    assert characteristic.status == "released"


def test_retire_with_reason_takes_the_entry_out_of_use(web, characteristic):
    web.post(reverse("dictionary-retire", args=[characteristic.pk]), {"reason": "sensor removed"})
    characteristic.refresh_from_db()
    assert characteristic.status == "retired"


def test_delete_of_an_unused_draft(site, engineer):
    draft = CharacteristicFactory(site=site, code="IMM01.TYPO.X", status="draft")
    client = signed_in(engineer)
    response = client.post(reverse("dictionary-retire", args=[draft.pk]), {"delete": "1", "delete-reason": "typo"})
    assert response["Location"] == reverse("dictionary-list")
    assert not Characteristic.objects.filter(pk=draft.pk).exists()


# --- export -----------------------------------------------------------------------------------------------------

def test_export_csv_downloads_the_sites_dictionary(web, characteristic):
    response = web.get(reverse("dictionary-export"), {"format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert characteristic.code in response.content.decode("utf-8-sig")


def test_export_json_is_valid_json(web, characteristic):
    response = web.get(reverse("dictionary-export"), {"format": "json"})
    document = json.loads(response.content)
    assert [entry["code"] for entry in document["characteristics"]] == [characteristic.code]


def test_export_in_an_unknown_format_is_not_found(web):
    assert web.get(reverse("dictionary-export"), {"format": "xlsx"}).status_code == 404


# --- import with preview ----------------------------------------------------------------------------------------

GOOD_ROW = "IMM01.MOULD.TEMP,Mould temperature,模具温度,°C,1,55,60,65"
BAD_ROW = "IMM01.CUSHION.X,Cushion,余料量,mm,2,6,5,4"
HEADER = "code,name_en,name_zh,unit,precision,lsl,nominal,usl"


def upload(client, text: str, name: str = "dictionary.csv"):
    file = SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")
    return client.post(reverse("dictionary-import"), {"file": file})


def test_import_preview_lists_every_rows_action_and_problems_and_writes_nothing(web, site):
    response = upload(web, "\n".join([HEADER, GOOD_ROW, BAD_ROW]))
    preview = web.get(response["Location"])
    rows = {row.code: row for row in preview.context["preview"].rows}
    assert rows["IMM01.MOULD.TEMP"].action == "create"
    assert rows["IMM01.CUSHION.X"].action == "invalid"
    html = preview.content.decode()
    assert "IMM01.CUSHION.X" in html and rows["IMM01.CUSHION.X"].problems[0].message in html
    assert "Apply the import" not in html
    assert not Characteristic.objects.filter(site=site).exists()


def test_import_confirmed_with_reason_applies_every_row(web, site):
    preview_url = upload(web, "\n".join([HEADER, GOOD_ROW]))["Location"]
    response = web.post(preview_url, {"reason": "initial dictionary for line 1"})
    assert response["Location"] == reverse("dictionary-list")
    created = Characteristic.objects.get(site=site, code="IMM01.MOULD.TEMP")
    assert created.history.first().history_change_reason == "initial dictionary for line 1"
    assert web.get(preview_url).status_code == 404  # the pending import is used up


def test_import_confirmation_needs_a_reason(web, site):
    preview_url = upload(web, "\n".join([HEADER, GOOD_ROW]))["Location"]
    response = web.post(preview_url, {"reason": ""})
    assert response.status_code == 400
    assert not Characteristic.objects.filter(site=site).exists()


def test_import_of_a_file_with_problems_cannot_be_forced(web, site):
    preview_url = upload(web, "\n".join([HEADER, GOOD_ROW, BAD_ROW]))["Location"]
    response = web.post(preview_url, {"reason": "try anyway"})
    assert response.status_code == 400
    assert not Characteristic.objects.filter(site=site).exists()


def test_import_shows_changes_of_existing_entries(web, characteristic):
    row = f"{characteristic.code},Barrel zone temperature,料筒温度,°C,1,225,230,236"
    preview = web.get(upload(web, "\n".join([HEADER, row]))["Location"])
    (only,) = preview.context["preview"].rows
    assert (only.action, only.changes) == ("update", {"usl": [235.0, 236.0]})
    assert "upper specification limit" in preview.content.decode()


def test_import_of_a_gbk_file_explains_how_to_resave_it(web):
    file = SimpleUploadedFile("dictionary.csv", "\n".join([HEADER, GOOD_ROW]).encode("gbk"), content_type="text/csv")
    response = web.post(reverse("dictionary-import"), {"file": file})
    assert response.status_code == 400
    assert "UTF-8" in response.content.decode()


def test_import_needs_a_known_format(web):
    response = upload(web, "whatever", name="dictionary.txt")
    assert response.status_code == 400
    assert "fmt" in response.context["form"].errors


def test_pending_import_of_another_session_is_not_reachable(web, site):
    preview_url = upload(web, "\n".join([HEADER, GOOD_ROW]))["Location"]
    other = signed_in(user_with_role("quality_engineer", site, username="other-qe"))
    assert other.get(preview_url).status_code == 404


def test_operator_may_not_import(site):
    assert signed_in(user_with_role("operator", site)).get(reverse("dictionary-import")).status_code == 403
