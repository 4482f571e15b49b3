"""Applying a dictionary import in bulk leaves exactly the records the per-row path leaves: a version, a history
record (reason, actor, user) and a before → after audit entry per row, in file order, all or nothing."""
import pytest

from qms.audit.chain import verify_chain
from qms.audit.context import Actor, acting_as
from qms.models import AuditEntry, Characteristic
from qms.services import dictionary_io
from qms.services.dictionary import create_characteristic
from qms.services.dictionary_io import apply_import
from tests.factories import EquipmentFactory, SiteFactory

pytestmark = pytest.mark.django_db

HEADER = "code,name_en,name_zh,unit,physical_min,physical_max,lsl,nominal,usl,equipment,status\r\n"
History = Characteristic.history.model
# Values that differ between two sites by construction (keys, site, machine, clock): compared as present, not equal.
_PER_SITE = {"id", "site_id", "equipment_id", "updated_at"}


def csv_file(*rows: str) -> str:
    return HEADER + "".join(row + "\r\n" for row in rows)


def _entries_file(usl: int = 235) -> str:
    return csv_file(
        f"IMM01.Z1.TEMP,Zone 1,一区,°C,0,400,225,230,{usl},IMM01,released",
        f"IMM01.Z2.TEMP,Zone 2,,°C,0,400,225,,{usl},,draft",
        f"IMM01.CUSHION.POS,Cushion,,mm,,,3.5,5,{usl},IMM01,released",
    )


def _comparable_audit(site) -> list[tuple]:
    rows = []
    entries = AuditEntry.objects.filter(model="qms.Characteristic", site=site, action__in=("create", "update"))
    for entry in entries.order_by("seq"):
        changes = {key: (None if key in _PER_SITE else value) for key, value in entry.changes.items()}
        rows.append((entry.action, entry.object_repr, entry.actor, entry.reason, changes))
    return rows


def _comparable_history(site) -> list[tuple]:
    return sorted(
        History.objects.filter(site=site).values_list(
            "code", "history_type", "history_change_reason", "history_actor", "version", "usl", "name_zh", "status"
        )
    )


def test_bulk_apply_leaves_the_same_history_and_audit_trail_as_the_per_row_path():
    bulk_site, row_site = SiteFactory(code="BULK"), SiteFactory(code="ROWS")
    for site in (bulk_site, row_site):
        EquipmentFactory(site=site, code="IMM01")
    with acting_as(Actor(label="wang")):
        for row_by_row, site in ((False, bulk_site), (True, row_site)):
            assert dictionary_io._apply(site, _entries_file(), "csv", reason="initial load",
                                        row_by_row=row_by_row).applied
            assert dictionary_io._apply(site, _entries_file(usl=236), "csv", reason="ECN-17",
                                        row_by_row=row_by_row).applied
    assert _comparable_history(bulk_site) == _comparable_history(row_site)
    assert _comparable_audit(bulk_site) == _comparable_audit(row_site)
    assert len(_comparable_audit(bulk_site)) == 6
    assert verify_chain()[1] == []


def test_an_update_bumps_the_version_and_records_before_and_after(site):
    entry = create_characteristic(site, {"code": "IMM01.Z1.TEMP", "name_en": "Zone 1", "lsl": 225, "usl": 235})
    preview = apply_import(site, csv_file("IMM01.Z1.TEMP,Zone 1,,,,,225,,236,,"), "csv", reason="ECN-17")
    assert preview.applied and preview.counts["update"] == 1
    entry.refresh_from_db()
    assert (entry.version, entry.usl) == (2, 236.0)
    latest = entry.history.latest()
    assert (latest.history_type, latest.history_change_reason, latest.version) == ("~", "ECN-17", 2)
    audit = AuditEntry.objects.filter(model="qms.Characteristic", action="update").get()
    assert audit.changes == {"usl": [235.0, 236.0], "version": [1, 2]}
    assert audit.reason == "ECN-17" and audit.object_pk == str(entry.pk)


def test_audit_entries_follow_the_file_order_and_end_with_the_import_summary(site):
    create_characteristic(site, {"code": "IMM01.Z2.TEMP", "name_en": "Zone 2", "usl": 235})
    content = csv_file(
        "IMM01.Z1.TEMP,Zone 1,,,,,,,235,,",
        "IMM01.Z2.TEMP,Zone 2,,,,,,,236,,",
        "IMM01.Z3.TEMP,Zone 3,,,,,,,235,,",
    )
    assert apply_import(site, content, "csv", reason="ECN-18").applied
    newest = list(AuditEntry.objects.order_by("-seq").values_list("action", "object_repr")[:4])[::-1]
    assert newest == [("create", "IMM01.Z1.TEMP"), ("update", "IMM01.Z2.TEMP"), ("create", "IMM01.Z3.TEMP"),
                      ("import", f"{site.code} dictionary")]


def test_history_and_audit_name_the_user_who_imported_through_the_api(site, engineer, engineer_client):
    response = engineer_client.post("/api/v1/characteristics/import/?dry_run=false&reason=initial+load",
                                    csv_file("IMM01.Z1.TEMP,Zone 1,,,,,,,235,,"), content_type="text/csv")
    assert response.status_code == 200, response.json()
    record = History.objects.get(code="IMM01.Z1.TEMP")
    assert (record.history_user_id, record.history_actor, record.history_change_reason) == (
        engineer.pk, "engineer", "initial load")
    audit = AuditEntry.objects.get(model="qms.Characteristic", action="create")
    assert (audit.actor, audit.actor_user_id, audit.reason) == ("engineer", engineer.pk, "initial load")


def test_a_code_created_while_importing_rolls_back_every_row_and_entry(site, monkeypatch):
    real_preview = dictionary_io._preview

    def preview_then_someone_creates(*args, **kwargs):
        result = real_preview(*args, **kwargs)
        Characteristic.objects.create(site=site, code="IMM01.Z2.TEMP", name_en="created meanwhile")
        return result

    monkeypatch.setattr(dictionary_io, "_preview", preview_then_someone_creates)
    entries_before, head_before = AuditEntry.objects.count(), verify_chain()
    preview = apply_import(site, csv_file("IMM01.Z1.TEMP,Zone 1,,,,,,,235,,", "IMM01.Z2.TEMP,Zone 2,,,,,,,235,,"),
                           "csv", reason="load")
    assert not preview.applied
    assert "nothing was written" in preview.file_problems[-1].message
    assert not Characteristic.objects.filter(site=site).exists()
    assert not History.objects.filter(site=site).exists()
    assert AuditEntry.objects.count() == entries_before and verify_chain() == head_before


@pytest.mark.postgres
@pytest.mark.slow
def test_ten_thousand_rows_get_ten_thousand_history_records_and_audit_entries(site):
    rows = [f"IMM{i // 100:03d}.P{i % 100:02d}.TEMP,Point {i},,°C,0,400,225,230,235,,released" for i in range(10_000)]
    with acting_as(Actor(label="bulk-loader")):
        preview = apply_import(site, csv_file(*rows), "csv", reason="plant dictionary load")
    assert preview.applied, preview.problems[:3]
    assert Characteristic.objects.filter(site=site, version=1).count() == 10_000
    history = History.objects.filter(site=site, history_type="+")
    assert history.count() == 10_000
    assert history.exclude(history_change_reason="plant dictionary load").count() == 0
    assert history.exclude(history_actor="bulk-loader").count() == 0
    audit = AuditEntry.objects.filter(model="qms.Characteristic", site=site)
    assert audit.filter(action="create", reason="plant dictionary load", actor="bulk-loader").count() == 10_000
    assert audit.filter(action="import").count() == 1
    assert set(audit.filter(action="create").values_list("object_pk", flat=True)) == {
        str(pk) for pk in Characteristic.objects.filter(site=site).values_list("pk", flat=True)}
    checked, problems = verify_chain()
    assert problems == [] and checked == AuditEntry.objects.count()


def test_bulk_updates_of_many_fields_match_the_per_row_path():
    """Clearing and switching machines, clearing limits, renaming, releasing a draft: every kind of column update."""
    bulk_site, row_site = SiteFactory(code="BULK"), SiteFactory(code="ROWS")
    for site in (bulk_site, row_site):
        EquipmentFactory(site=site, code="IMM01")
        EquipmentFactory(site=site, code="IMM02")
    changed = csv_file(
        "IMM01.Z1.TEMP,Zone one,一区温度,K,0,500,,230,,IMM02,released",
        "IMM01.Z2.TEMP,Zone 2,二区,°C,0,400,225,,235,IMM01,released",
        "IMM01.CUSHION.POS,Cushion,,mm,,,3.5,5,235,,released",
    )
    for row_by_row, site in ((False, bulk_site), (True, row_site)):
        assert dictionary_io._apply(site, _entries_file(), "csv", reason="load", row_by_row=row_by_row).applied
        preview = dictionary_io._apply(site, changed, "csv", reason="ECN-19", row_by_row=row_by_row)
        assert preview.applied and preview.counts["update"] == 3, preview.problems
    bulk = {c.code: (c.unit, c.physical_max, c.lsl, c.usl, c.equipment.code if c.equipment else None, c.status, c.version)
            for c in Characteristic.objects.filter(site=bulk_site).select_related("equipment")}
    rows = {c.code: (c.unit, c.physical_max, c.lsl, c.usl, c.equipment.code if c.equipment else None, c.status, c.version)
            for c in Characteristic.objects.filter(site=row_site).select_related("equipment")}
    assert bulk == rows and bulk["IMM01.Z1.TEMP"] == ("K", 500.0, None, None, "IMM02", "released", 2)
    assert _comparable_history(bulk_site) == _comparable_history(row_site)
    assert _comparable_audit(bulk_site) == _comparable_audit(row_site)
