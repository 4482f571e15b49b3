"""GET /api/v1/characteristics/export/ and POST /api/v1/characteristics/import/."""
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from qms.models import Characteristic
from qms.services import dictionary_io
from tests.test_dictionary_api import token_client

pytestmark = pytest.mark.django_db

EXPORT = "/api/v1/characteristics/export/"
IMPORT = "/api/v1/characteristics/import/"
GOOD = "code,name_en,unit,lsl,usl\r\nIMM01.NEW.TEMP,New,°C,1,2\r\n".encode()
BAD = "code,name_en,unit,lsl,usl\r\nIMM01.NEW.TEMP,New,°C,1,2\r\nnot a code,X,,5,1\r\n".encode()


def test_export_csv_download(engineer_client, characteristic):
    response = engineer_client.get(EXPORT, {"as": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="dictionary-S1-')
    assert response.content.startswith(b"\xef\xbb\xbfcode,")
    assert "料筒温度" in response.content.decode("utf-8-sig")


def test_export_accepts_format_parameter_despite_drf(engineer_client, characteristic):
    response = engineer_client.get(EXPORT, {"format": "json"})
    assert response.status_code == 200
    assert json.loads(response.content)["characteristics"][0]["code"] == characteristic.code


def test_export_unknown_format_is_400(engineer_client, site):
    response = engineer_client.get(EXPORT, {"as": "xlsx"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid"


def test_read_token_may_export_its_site(site, characteristic):
    assert token_client(site).get(EXPORT, {"as": "json"}).status_code == 200


def test_export_of_a_foreign_site_is_refused(engineer_client, other_site):
    assert engineer_client.get(EXPORT, {"site": "S2"}).status_code == 403


def test_multipart_dry_run_is_the_default_and_writes_nothing(engineer_client, site):
    upload = SimpleUploadedFile("dictionary.csv", GOOD, content_type="text/csv")
    response = engineer_client.post(IMPORT, {"file": upload}, format="multipart")
    assert response.status_code == 200
    body = response.json()
    assert (body["ok"], body["applied"], body["rows"][0]["action"]) == (True, False, "create")
    assert not Characteristic.objects.exists()


def test_problems_answer_400_with_the_preview(engineer_client, site):
    upload = SimpleUploadedFile("dictionary.csv", BAD, content_type="text/csv")
    response = engineer_client.post(IMPORT, {"file": upload}, format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "import_problems"
    assert {p["row"] for p in body["problems"]} == {3}
    assert body["rows"][0]["action"] == "create"


def test_apply_with_raw_body(engineer_client, site):
    response = engineer_client.post(f"{IMPORT}?dry_run=false&reason=initial+load", GOOD, content_type="text/csv")
    assert response.status_code == 200, response.json()
    assert response.json()["applied"] is True
    assert Characteristic.objects.get(code="IMM01.NEW.TEMP").site == site


def test_apply_raw_json_body_detected_without_content_type_hint(engineer_client, site):
    body = json.dumps([{"code": "IMM01.NEW.TEMP", "name_en": "New"}]).encode()
    response = engineer_client.post(f"{IMPORT}?dry_run=0", body, content_type="application/octet-stream")
    assert response.status_code == 200 and response.json()["format"] == "json"


def test_apply_with_problems_writes_nothing(engineer_client, site):
    upload = SimpleUploadedFile("dictionary.csv", BAD, content_type="text/csv")
    response = engineer_client.post(IMPORT, {"file": upload, "dry_run": "false", "reason": "x"}, format="multipart")
    assert response.status_code == 400
    assert not Characteristic.objects.exists()


def test_gbk_upload_is_400_naming_the_encoding(engineer_client, site):
    upload = SimpleUploadedFile("d.csv", "code,name_en,name_zh\r\nIMM01.A.B,x,料筒温度\r\n".encode("gbk"))
    response = engineer_client.post(IMPORT, {"file": upload}, format="multipart")
    assert response.status_code == 400 and "GBK" in response.json()["problems"][0]["message"]


def test_oversize_upload_is_400_not_500(engineer_client, site, monkeypatch):
    monkeypatch.setattr(dictionary_io, "MAX_IMPORT_BYTES", 10)
    upload = SimpleUploadedFile("d.csv", GOOD)
    response = engineer_client.post(IMPORT, {"file": upload}, format="multipart")
    assert response.status_code == 400 and "limit" in response.json()["problems"][0]["message"]


def test_multipart_without_file_is_400(engineer_client, site):
    response = engineer_client.post(IMPORT, {"dry_run": "true"}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "file_missing"


def test_token_without_write_scope_cannot_import(site, mes_client):
    assert mes_client.post(IMPORT, GOOD, content_type="text/csv").status_code == 403


def test_token_with_write_scope_imports_into_its_site(site):
    client = token_client(site, scopes=("dictionary:write",))
    response = client.post(f"{IMPORT}?dry_run=false", GOOD, content_type="text/csv")
    assert response.status_code == 200
    assert Characteristic.objects.filter(site=site, code="IMM01.NEW.TEMP").exists()
