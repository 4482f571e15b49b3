"""Attachments (type judged from the bytes, size limit, SHA-256) and the defect-code catalogue."""
import datetime as dt
import hashlib
import io
import zipfile

import pytest

from qms.demo.defect_codes import install_default_defect_codes
from qms.models import Attachment, DefectCode
from qms.services import defect_codes
from qms.services.attachments import sweep_orphan_files
from qms.services.nc import NcError, add_attachment
from tests.factories_nc import PDF, PNG, NcPlant, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def plant(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return NcPlant()


def refused(code, call, /, *args, **kwargs) -> NcError:
    with pytest.raises(NcError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code, caught.value.message
    return caught.value


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "content", "content_type"), [
    ("photo.PNG", PNG, "image/png"),
    ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 32, "image/jpeg"),
    ("photo.webp", b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 16, "image/webp"),
    ("report.pdf", PDF, "application/pdf"),
    ("values.csv", "lot,缺料\nL-1,3\n".encode(), "text/csv"),
    ("notes.txt", b"operator notes", "text/plain"),
    ("sheet.xlsx", None, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
])
def test_allowed_files_are_stored_with_their_hash(plant, name, content, content_type):
    content = content if content is not None else xlsx_bytes()
    nc = plant.nc()
    attachment = add_attachment(nc, user=plant.operator, uploaded_file=upload(name, content))
    assert attachment.content_type == content_type and attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.record_model == "qms.nonconformance" and attachment.record_pk == str(nc.pk)
    assert attachment.file.read() == content


@pytest.mark.parametrize(("name", "content"), [
    ("virus.exe", b"MZ\x90\x00"),
    ("photo.png", b"MZ\x90\x00 not a png"),       # the extension lies
    ("report.pdf", PNG),                          # the wrong allowed type
    ("notes.txt", b"\x00\x01binary"),
    ("sheet.xlsx", b"PK\x03\x04 broken zip"),
    ("noextension", b"plain"),
])
def test_disallowed_types_are_refused(plant, name, content):
    nc = plant.nc()
    refused("attachment_type", add_attachment, nc, user=plant.operator, uploaded_file=upload(name, content))
    assert not Attachment.objects.exists()


def test_oversize_is_refused(plant, settings):
    settings.NC_ATTACHMENT_MAX_BYTES = 100
    nc = plant.nc()
    error = refused("attachment_too_large", add_attachment, nc, user=plant.operator,
                    uploaded_file=upload("big.png", PNG + b"\x00" * 100))
    assert error.details["max_bytes"] == 100
    assert not Attachment.objects.exists()


def test_the_stored_name_says_nothing_of_the_clients_name(plant):
    attachment = add_attachment(plant.nc(), user=plant.operator, uploaded_file=upload("../../etc/passwd.png", PNG))
    assert attachment.original_name == "passwd.png"
    assert "passwd" not in attachment.file.name and attachment.file.name.startswith("attachments/")


def test_the_default_catalogue_installs_once(plant):
    first = install_default_defect_codes()
    again = install_default_defect_codes()
    assert len(first) == len(again)
    short_shot = DefectCode.objects.get(code="SHORT_SHOT", site=None)
    assert (short_shot.name_zh, short_shot.parent.code) == ("缺料", "FILL")
    assert DefectCode.objects.get(code="DIM_OOT").name_zh == "尺寸超差"


def test_site_codes_sit_under_shared_categories(plant):
    code = defect_codes.create_defect_code(plant.site, code="gate_vestige", name_en="Gate vestige",
                                           name_zh="浇口残留", parent="FILL", unit_cost="1.5")
    assert (code.code, code.parent, str(code.unit_cost)) == ("GATE_VESTIGE", plant.category, "1.50")
    assert code in defect_codes.codes_for_site(plant.site)
    assert code not in defect_codes.codes_for_site(plant.other_site)


def test_a_code_of_another_site_cannot_be_a_parent(plant):
    foreign = defect_codes.create_defect_code(plant.other_site, code="X", name_en="x", name_zh="x")
    refused("parent_other_site", defect_codes.create_defect_code, plant.site, code="Y", name_en="y", name_zh="y",
            parent=foreign)


def test_duplicate_codes_are_refused(plant):
    refused("code_taken", defect_codes.create_defect_code, plant.site, code="FLASH", name_en="f", name_zh="f")


def test_both_names_are_needed(plant):
    error = refused("name_required", defect_codes.create_defect_code, None, code="NEW", name_en="New", name_zh="")
    assert error.field == "name_zh"


def test_no_cycles(plant):
    refused("parent_cycle", defect_codes.update_defect_code, plant.category.pk,
            changes={"parent": plant.short_shot})


def test_deactivate_instead_of_delete(plant):
    refused("has_active_children", defect_codes.set_defect_code_active, plant.category.pk, active=False)
    defect_codes.set_defect_code_active(plant.flash.pk, active=False)
    assert plant.flash not in defect_codes.codes_for_site(plant.site)
    assert DefectCode.objects.filter(pk=plant.flash.pk).exists()


def test_the_tree_lists_children_under_their_category(plant):
    rows = [(code.code, depth) for code, depth in defect_codes.tree(defect_codes.codes_for_site(plant.site))]
    assert rows == [("FILL", 0), ("FLASH", 1), ("SHORT_SHOT", 1)]


class _RolledBack(Exception):
    pass


def _attach_then_roll_back(plant, nc, name: str) -> None:
    from django.db import transaction

    with pytest.raises(_RolledBack), transaction.atomic():
        add_attachment(nc, user=plant.operator, uploaded_file=upload(name, PNG))
        raise _RolledBack


def _stored_files(root) -> set[str]:
    return {path.name for path in (root / "attachments").rglob("*") if path.is_file()}


def test_the_sweep_removes_the_file_of_an_attachment_rolled_back_with_its_caller(plant, settings):
    nc = plant.nc()
    _attach_then_roll_back(plant, nc, "lost.png")
    assert len(_stored_files(settings.MEDIA_ROOT)) == 1 and not Attachment.objects.exists()
    removed = sweep_orphan_files(older_than=dt.timedelta(0))
    assert len(removed) == 1 and _stored_files(settings.MEDIA_ROOT) == set()


def test_the_sweep_keeps_the_files_of_committed_attachments(plant, settings):
    nc = plant.nc()
    kept = add_attachment(nc, user=plant.operator, uploaded_file=upload("kept.png", PNG))
    _attach_then_roll_back(plant, nc, "lost.png")
    sweep_orphan_files(older_than=dt.timedelta(0))
    assert _stored_files(settings.MEDIA_ROOT) == {kept.file.name.rsplit("/", 1)[1]}
    assert kept.file.read() == PNG


def test_the_sweep_leaves_a_young_file_whose_transaction_may_still_commit(plant, settings):
    _attach_then_roll_back(plant, plant.nc(), "young.png")
    assert sweep_orphan_files() == []
    assert len(_stored_files(settings.MEDIA_ROOT)) == 1


def test_the_sweep_task_runs_with_nothing_stored(plant):
    from qms.attachment_tasks import sweep_orphan_attachments

    assert sweep_orphan_attachments() == 0


def test_an_attachment_whose_audit_entry_fails_leaves_neither_row_nor_file(plant, settings, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit chain unavailable")

    monkeypatch.setattr("qms.services.attachments.record_audit", broken_audit)
    with pytest.raises(RuntimeError):
        add_attachment(plant.nc(), user=plant.operator, uploaded_file=upload("photo.png", PNG))
    assert not Attachment.objects.exists() and _stored_files(settings.MEDIA_ROOT) == set()
