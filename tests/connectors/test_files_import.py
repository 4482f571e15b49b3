"""Legacy-file import into the QMS: stored through the ingestion service, re-imports stored once, dry run stores
nothing, interrupted imports resume without duplicates, the file-drop directory, the upload API and the command."""
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils.translation import override, trans_real

from connectors.files.service import import_file, poll_drop_directory, preview_file
from connectors.models import ImportedFile
from qms.models import AuditEntry, Measurement
from tests.factories import CharacteristicFactory, ConnectorFactory, UserFactory

pytestmark = pytest.mark.django_db
CHINESE = {"not a number: %(value)s": "不是数字：%(value)s",
           "not a readable .dbf file: %(detail)s": "无法读取的 .dbf 文件：%(detail)s"}

CSV_TEXT = ("时间,批号,二区温度,缓冲量\n"
            "2026-11-28 08:00:00,批次-01,231.5,5.2\n"
            "2026-11-28 08:00:30,批次-01,232.0,5.3\n"
            "2026-11-28 08:01:00,批次-01,abc,5.1\n")
CONFIG = {"ts_column": "时间", "timezone": "Asia/Shanghai", "lot_column": "批号",
          "value_columns": {"二区温度": "IMM01.BARREL_Z2.TEMP", "缓冲量": "IMM01.CUSHION"}}


@pytest.fixture
def connector(site, tmp_path):
    CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMP")
    CharacteristicFactory(site=site, code="IMM01.CUSHION", physical_min=0, physical_max=100, lsl=None, usl=None,
                          nominal=None)
    return ConnectorFactory(site=site, name="legacy-export", kind="file",
                            config={**CONFIG, "drop_directory": str(tmp_path), "settle_s": 0})


def gbk_file():
    return CSV_TEXT.encode("gbk")


@pytest.fixture
def chinese_catalogue():
    """zh-Hans translations of two import problems (the lead translates the real catalogue at the end)."""
    merged = trans_real.translation("zh-hans")._catalog
    # Django's merged catalogue reads its dicts in order and supports no deletion: patch the first dict itself.
    catalogue = merged._catalogs[0] if hasattr(merged, "_catalogs") else merged
    before = {msgid: catalogue.get(msgid) for msgid in CHINESE}
    catalogue.update(CHINESE)
    yield
    for msgid, translation in before.items():
        if translation is None:
            del catalogue[msgid]
        else:
            catalogue[msgid] = translation


def test_import_stores_the_mapped_values_and_keeps_the_row_errors(connector):
    outcome = import_file(connector, "line1.csv", gbk_file())
    record = outcome.record
    assert (record.status, record.rows, record.stored, record.encoding) == ("partial", 3, 5, "gb18030")
    assert record.row_errors == [{"row": 3, "column": "二区温度", "reason": "not a number: 'abc'"}]
    assert Measurement.objects.filter(characteristic__code="IMM01.BARREL_Z2.TEMP").count() == 2
    assert set(Measurement.objects.values_list("lot_code", flat=True)) == {"批次-01"}


def test_row_problems_are_kept_in_the_language_of_the_import(connector, chinese_catalogue):
    with override("zh-hans"):
        record = import_file(connector, "line1.csv", gbk_file()).record
    assert record.row_errors == [{"row": 3, "column": "二区温度", "reason": "不是数字：'abc'"}]


def test_reimporting_the_same_file_stores_nothing_twice(connector):
    import_file(connector, "line1.csv", gbk_file())
    again = import_file(connector, "renamed-copy.csv", gbk_file())
    assert again.already_imported
    assert Measurement.objects.count() == 5
    assert ImportedFile.objects.count() == 1


def test_an_interrupted_import_is_resumed_without_duplicates(connector):
    import_file(connector, "line1.csv", gbk_file())
    ImportedFile.objects.update(status=ImportedFile.Status.IMPORTING)   # as if the process died before finishing
    resumed = import_file(connector, "line1.csv", gbk_file())
    assert not resumed.already_imported
    assert resumed.record.stored == 0
    assert Measurement.objects.count() == 5


def test_an_overlapping_file_stores_only_the_new_rows(connector):
    import_file(connector, "line1.csv", gbk_file())
    longer = (CSV_TEXT + "2026-11-28 08:01:30,批次-02,231.0,5.0\n").encode("gbk")
    record = import_file(connector, "line1-full.csv", longer).record
    assert (record.stored, record.duplicates) == (2, 5)


def test_dry_run_previews_and_stores_nothing(connector):
    preview = preview_file(connector, "line1.csv", gbk_file())
    assert (preview["rows"], preview["readings"], preview["error_count"]) == (3, 5, 1)
    assert Measurement.objects.count() == 0
    assert not ImportedFile.objects.exists()


def test_an_unreadable_file_fails_with_the_reason(connector):
    record = import_file(connector, "x.dbf", b"not a dbf").record
    assert record.status == "failed"
    assert "not a readable .dbf" in record.message


def test_import_is_audited(connector):
    record = import_file(connector, "line1.csv", gbk_file()).record
    entry = AuditEntry.objects.get(action="import_file", object_pk=str(record.pk))
    assert entry.changes["stored"] == [None, 5]


def test_the_drop_directory_imports_settled_files_and_moves_them(connector, tmp_path):
    (tmp_path / "line1.csv").write_bytes(gbk_file())
    (tmp_path / "broken.dbf").write_bytes(b"nope")
    (tmp_path / "notes.txt.bak").write_bytes(b"ignored")
    outcomes = poll_drop_directory(connector)
    assert sorted(o.record.status for o in outcomes) == ["failed", "partial"]
    assert [p.name.split("-", 1)[1] for p in (tmp_path / "done").iterdir()] == ["line1.csv"]
    assert [p.name.split("-", 1)[1] for p in (tmp_path / "failed").iterdir()] == ["broken.dbf"]
    assert (tmp_path / "notes.txt.bak").exists()
    assert Measurement.objects.count() == 5


def test_a_file_still_being_written_waits_for_the_next_poll(connector, tmp_path):
    connector.config = {**connector.config, "settle_s": 60}
    connector.save()
    path = tmp_path / "line1.csv"
    path.write_bytes(gbk_file())
    assert poll_drop_directory(connector) == []
    old = time.time() - 120
    os.utime(path, (old, old))
    assert len(poll_drop_directory(connector)) == 1


def test_a_file_dropped_twice_is_stored_once(connector, tmp_path):
    (tmp_path / "a.csv").write_bytes(gbk_file())
    poll_drop_directory(connector)
    (tmp_path / "a.csv").write_bytes(gbk_file())
    [outcome] = poll_drop_directory(connector)
    assert outcome.already_imported
    assert Measurement.objects.count() == 5


def test_management_command_imports_and_reports(connector, tmp_path, capsys):
    path = tmp_path / "line1.csv"
    path.write_bytes(gbk_file())
    call_command("import_file", str(path), connector="S1/legacy-export")
    call_command("import_file", str(path), connector="S1/legacy-export")
    output = capsys.readouterr().out
    assert "3 rows, 5 stored" in output and "row 3, 二区温度: not a number" in output
    assert "already imported" in output
    assert Measurement.objects.count() == 5


def test_management_command_refuses_an_unknown_connector(tmp_path):
    with pytest.raises(CommandError, match="no file connector"):
        call_command("import_file", str(tmp_path / "x.csv"), connector="S9/none")


class TestUploadApi:
    def upload(self, client, connector, dry_run=False, data=None, **headers):
        upload = SimpleUploadedFile("line1.csv", data or gbk_file(), content_type="text/csv")
        return client.post(f"/api/v1/connectors/{connector.pk}/imports/", {"file": upload, "dry_run": dry_run},
                           format="multipart", **headers)

    def test_dry_run_returns_the_preview(self, engineer_client, connector):
        response = self.upload(engineer_client, connector, dry_run=True)
        assert response.status_code == 200
        assert response.json()["errors"] == [{"row": 3, "column": "二区温度", "reason": "not a number: 'abc'"}]
        assert Measurement.objects.count() == 0

    def test_the_preview_speaks_the_readers_language_and_quotes_the_cell(self, engineer_client, connector,
                                                                          chinese_catalogue):
        response = self.upload(engineer_client, connector, dry_run=True, HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.json()["errors"] == [{"row": 3, "column": "二区温度", "reason": "不是数字：'abc'"}]

    def test_an_unreadable_file_is_explained_in_the_readers_language(self, engineer_client, connector,
                                                                      chinese_catalogue):
        upload = SimpleUploadedFile("broken.dbf", b"nope", content_type="application/octet-stream")
        response = engineer_client.post(f"/api/v1/connectors/{connector.pk}/imports/", {"file": upload},
                                        format="multipart", HTTP_ACCEPT_LANGUAGE="zh-hans")
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("无法读取的 .dbf 文件：")

    def test_upload_imports_once(self, engineer_client, connector):
        first = self.upload(engineer_client, connector)
        second = self.upload(engineer_client, connector)
        assert (first.status_code, first.json()["stored"]) == (201, 5)
        assert (second.status_code, second.json()["already_imported"]) == (200, True)
        assert Measurement.objects.count() == 5

    def test_listing_and_detail(self, engineer_client, connector):
        created = self.upload(engineer_client, connector).json()
        listing = engineer_client.get(f"/api/v1/connectors/{connector.pk}/imports/").json()
        assert [f["sha256"] for f in listing] == [created["sha256"]]
        detail = engineer_client.get(f"/api/v1/imports/{created['id']}/").json()
        assert detail["row_errors"][0]["row"] == 3

    def test_a_token_with_the_ingest_scope_may_upload(self, mes_client, connector):
        assert self.upload(mes_client, connector).status_code == 201

    def test_another_sites_connector_is_not_found(self, engineer_client, other_site):
        foreign = ConnectorFactory(site=other_site, name="x", kind="file", config=CONFIG)
        assert self.upload(engineer_client, foreign).status_code == 404

    def test_another_sites_user_sees_no_import_of_this_site(self, engineer_client, connector, api_client, other_site):
        created = self.upload(engineer_client, connector).json()
        api_client.force_login(UserFactory(username="s2.engineer", role="quality_engineer", sites=[other_site]))
        listing = api_client.get(f"/api/v1/connectors/{connector.pk}/imports/")
        detail = api_client.get(f"/api/v1/imports/{created['id']}/")
        assert (listing.status_code, detail.status_code) == (404, 404)
        assert created["sha256"] not in listing.content.decode() + detail.content.decode()

    def test_missing_file_field_is_named(self, engineer_client, connector):
        response = engineer_client.post(f"/api/v1/connectors/{connector.pk}/imports/", {}, format="multipart")
        assert response.json()["error"]["code"] == "file_missing"

    def test_a_misconfigured_connector_is_a_clear_400(self, engineer_client, site):
        broken = ConnectorFactory(site=site, name="broken", kind="file", config={"value_columns": {"a": "X"}})
        response = self.upload(engineer_client, broken)
        assert (response.status_code, response.json()["error"]["code"]) == (400, "connector_misconfigured")
        assert "ts_column" in response.json()["error"]["message"]

    def test_a_non_file_connector_is_refused(self, engineer_client, site):
        other = ConnectorFactory(site=site, name="opc", kind="opcua")
        assert self.upload(engineer_client, other).json()["error"]["code"] == "not_a_file_connector"


def test_a_file_connectors_config_is_validated_where_the_engineer_saves_it(site):
    from django.core.exceptions import ValidationError

    connector = ConnectorFactory.build(site=site, name="f", kind="file", config={**CONFIG, "encoding": "klingon"})
    with pytest.raises(ValidationError, match="unknown encoding"):
        connector.clean()
    connector.config = CONFIG
    connector.clean()
    assert connector.config["patterns"] == ["*.csv", "*.json", "*.dbf"]
