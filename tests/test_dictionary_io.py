"""Data-dictionary files: export formats, dry-run preview problems, all-or-nothing apply, round trips."""
import csv
import io
import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qms.models import AuditEntry, Characteristic
from qms.services import dictionary_io
from qms.services.dictionary import create_characteristic
from qms.services.dictionary_io import apply_import, export_dictionary, preview_import
from tests.factories import CharacteristicFactory, EquipmentFactory, OperationFactory, ProductFactory, SiteFactory

pytestmark = pytest.mark.django_db

HEADER = "code,name_en,name_zh,unit,lsl,nominal,usl,equipment\r\n"


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(row + "\r\n" for row in rows)).encode("utf-8")


def problems_by_row(preview) -> dict:
    found = {}
    for problem in preview.problems:
        found.setdefault(problem.row, set()).add(problem.field)
    return found


# --- export -----------------------------------------------------------------------------------------------------

def test_csv_export_has_bom_header_and_codes_for_references(site, characteristic):
    text = export_dictionary(site, "csv")
    assert text.startswith("\ufeffcode,name_en,name_zh,")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0]["code"] == "IMM01.BARREL_Z2.TEMP"
    first = rows[0]
    assert (first["name_zh"], first["equipment"], first["usl"], first["version"]) == ("料筒温度", "IMM01", "235", "1")


def test_csv_export_lines_end_with_crlf_for_excel(site, characteristic):
    assert export_dictionary(site, "csv").split("\n")[0].endswith("\r")


def test_csv_export_defuses_spreadsheet_formulas(site):
    CharacteristicFactory(site=site, name_en="=HYPERLINK(\"http://evil\")")
    text = export_dictionary(site, "csv")
    assert "'=HYPERLINK" in text


def test_json_export_lists_entries_with_site(site, characteristic, other_site):
    CharacteristicFactory(site=other_site, code="IMM09.OTHER.TEMP")
    document = json.loads(export_dictionary(site, "json"))
    assert document["site"] == "S1"
    assert [entry["code"] for entry in document["characteristics"]] == ["IMM01.BARREL_Z2.TEMP"]
    assert document["characteristics"][0]["lsl"] == 225.0


def test_unknown_export_format_is_refused(site):
    with pytest.raises(ValueError, match="xlsx"):
        export_dictionary(site, "xlsx")


# --- preview: every problem of every row, nothing written ----------------------------------------------------------

def test_preview_lists_every_rows_problems_and_writes_nothing(site, equipment, characteristic):
    before = (Characteristic.objects.count(), AuditEntry.objects.count())
    content = csv_file(
        "IMM01.BARREL_Z1.TEMP,Zone 1,一区,°C,225,230,235,IMM01",  # row 2: fine
        "bad code,Zone 3,,°C,225,230,235,IMM01",  # row 3: naming rule
        "IMM01.BARREL_Z4.TEMP,Zone 4,,°C,abc,230,235,IMM01",  # row 4: not a number
        "IMM01.BARREL_Z5.TEMP,Zone 5,,°C,225,230,235,IMM99",  # row 5: unknown equipment
        "IMM01.BARREL_Z1.TEMP,Zone 1 again,,°C,225,230,235,IMM01",  # row 6: duplicate of row 2
        "IMM01.BARREL_Z6.TEMP,,,°C,240,230,235,",  # row 7: no name, limits reversed
    )
    preview = preview_import(site, content, "csv")
    assert not preview.ok
    assert problems_by_row(preview) == {
        3: {"code"}, 4: {"lsl"}, 5: {"equipment"}, 6: {"code"}, 7: {"name_en", "usl", "nominal"},
    }
    assert preview.rows[0].action == "create" and preview.rows[0].ok
    assert "row 2" in next(p.message for p in preview.problems if p.row == 6)
    assert (Characteristic.objects.count(), AuditEntry.objects.count()) == before


def test_preview_plans_create_update_and_unchanged_with_diff(site, equipment, characteristic):
    CharacteristicFactory(site=site, code="IMM01.CUSHION.POS", name_en="Cushion", name_zh="", unit="mm",
                          lsl=None, nominal=None, usl=None, equipment=equipment)
    content = csv_file(
        "IMM01.BARREL_Z2.TEMP,Barrel zone temperature,料筒温度,°C,225,230,236,IMM01",
        "IMM01.CUSHION.POS,Cushion,,mm,,,,IMM01",
        "IMM01.NEW.TEMP,New,,°C,1,2,3,",
    )
    preview = preview_import(site, content, "csv")
    assert preview.ok, preview.to_dict()["problems"]
    assert [(row.code, row.action) for row in preview.rows] == [
        ("IMM01.BARREL_Z2.TEMP", "update"), ("IMM01.CUSHION.POS", "unchanged"), ("IMM01.NEW.TEMP", "create")]
    assert preview.rows[0].changes == {"usl": [235.0, 236.0]}
    assert preview.rows[0].reason_required
    assert preview.counts == {"rows": 3, "create": 1, "update": 1, "unchanged": 1, "invalid": 0, "problems": 0}


def test_gbk_file_is_reported_as_gbk(site):
    content = "code,name_en,name_zh\r\nIMM01.A.TEMP,Zone,料筒温度\r\n".encode("gbk")
    preview = preview_import(site, content, "csv")
    assert not preview.ok
    assert "GBK" in preview.problems[0].message and preview.rows == []


def test_utf16_file_is_reported(site):
    preview = preview_import(site, "code,name_en\r\n".encode("utf-16"), "csv")
    assert "UTF-16" in preview.problems[0].message


def test_binary_garbage_is_reported_not_crashing(site):
    preview = preview_import(site, b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "csv")
    assert not preview.ok and preview.problems[0].field == "file"


@pytest.mark.parametrize("content", [b"", b"  \r\n", "\ufeff".encode()])
def test_empty_file_is_reported(site, content):
    preview = preview_import(site, content, "csv")
    assert "empty" in preview.problems[0].message


def test_header_only_file_is_reported(site):
    assert "no characteristics" in preview_import(site, csv_file(), "csv").problems[0].message


def test_missing_required_column_is_reported(site):
    preview = preview_import(site, csv_file("Zone,一区", header="name_en,name_zh\r\n"), "csv")
    assert ("code", None) in {(p.field, p.row) for p in preview.problems}


def test_unknown_and_duplicate_columns_are_reported(site):
    preview = preview_import(site, csv_file("IMM01.A.TEMP,Zone,1,2", header="code,name_en,LSL_MIN,name_en\r\n"), "csv")
    fields = {p.field for p in preview.problems if p.row is None}
    assert {"lsl_min", "name_en"} <= fields


def test_ragged_row_is_reported(site):
    preview = preview_import(site, csv_file("IMM01.A.TEMP,Zone", header="code,name_en,unit\r\n"), "csv")
    assert preview.problems[0].row == 2 and preview.problems[0].code == "IMM01.A.TEMP"


def test_file_over_the_size_limit_is_reported(site, monkeypatch):
    monkeypatch.setattr(dictionary_io, "MAX_IMPORT_BYTES", 100)
    preview = preview_import(site, csv_file(*["IMM01.A.TEMP,Zone,,,,,,"] * 10), "csv")
    assert "limit" in preview.problems[0].message and preview.rows == []


def test_file_over_the_row_limit_is_reported(site, monkeypatch):
    monkeypatch.setattr(dictionary_io, "MAX_IMPORT_ROWS", 3)
    rows = [f"IMM01.Z{n}.TEMP,Zone,,,,,," for n in range(4)]
    assert "more than 3 rows" in preview_import(site, csv_file(*rows), "csv").problems[0].message


def test_semicolon_separated_file_is_read(site):
    preview = preview_import(site, b"code;name_en;lsl;usl\r\nIMM01.A.TEMP;Zone;1;2\r\n", "csv")
    assert preview.ok and preview.rows[0].action == "create"


def test_invalid_json_names_line_and_column(site):
    problem = preview_import(site, b'[{"code": "IMM01.A.TEMP",}]', "json").problems[0]
    assert "line 1" in problem.message


def test_json_items_must_be_objects_with_scalar_values(site):
    preview = preview_import(site, json.dumps([{"code": "IMM01.A.TEMP", "name_en": "x", "lsl": [1]}, 5]), "json")
    assert problems_by_row(preview) == {1: {"lsl"}, 2: {""}}


def test_json_strings_for_numbers_and_nulls(site):
    items = [{"code": "IMM01.A.TEMP", "name_en": "A", "lsl": "1.5", "usl": None, "precision": 3}]
    preview = preview_import(site, json.dumps({"characteristics": items}), "json")
    assert preview.ok and preview.rows[0].action == "create"


def test_stale_version_in_file_is_a_problem(site, characteristic):
    Characteristic.objects.filter(pk=characteristic.pk).update(version=4)
    content = csv_file("IMM01.BARREL_Z2.TEMP,Barrel,,°C,225,230,235,IMM01,2",
                       header="code,name_en,name_zh,unit,lsl,nominal,usl,equipment,version\r\n")
    problem = preview_import(site, content, "csv").problems[0]
    assert (problem.field, problem.row) == ("version", 2)
    assert "version 2" in problem.message and "version 4" in problem.message


def test_preview_to_dict_is_json_serialisable(site, characteristic):
    content = csv_file("IMM01.BARREL_Z2.TEMP,Barrel zone temperature,料筒温度,°C,225,230,236,IMM01", "x,,,,,,,")
    body = json.loads(json.dumps(preview_import(site, content, "csv").to_dict()))
    assert body["ok"] is False and body["counts"]["update"] == 1 and body["problems"][0]["row"] == 3


# --- apply: all or nothing ------------------------------------------------------------------------------------------

def test_apply_with_one_bad_row_writes_nothing(site, equipment, characteristic):
    content = csv_file(
        "IMM01.BARREL_Z1.TEMP,Zone 1,,°C,225,230,235,IMM01",
        "IMM01.BARREL_Z2.TEMP,Barrel zone temperature,料筒温度,°C,225,230,236,IMM01",
        "IMM01.BARREL_Z3.TEMP,Zone 3,,°C,225,230,235,IMM99",
    )
    preview = apply_import(site, content, "csv", reason="ECN-9")
    assert not preview.applied and not preview.ok
    assert not Characteristic.objects.filter(code="IMM01.BARREL_Z1.TEMP").exists()
    characteristic.refresh_from_db()
    assert (characteristic.usl, characteristic.version) == (235.0, 1)


def test_apply_writes_all_rows_versioned_with_reason(site, equipment, characteristic):
    content = csv_file(
        "IMM01.BARREL_Z1.TEMP,Zone 1,,°C,225,230,235,IMM01",
        "IMM01.BARREL_Z2.TEMP,Barrel zone temperature,料筒温度,°C,225,230,236,IMM01",
    )
    preview = apply_import(site, content, "csv", reason="ECN-9 new zone limits")
    assert preview.applied and preview.ok
    characteristic.refresh_from_db()
    assert (characteristic.usl, characteristic.version) == (236.0, 2)
    assert characteristic.history.order_by("-history_id")[0].history_change_reason == "ECN-9 new zone limits"
    created = Characteristic.objects.get(code="IMM01.BARREL_Z1.TEMP")
    assert (created.version, created.equipment) == (1, equipment)
    summary = AuditEntry.objects.get(action="import")
    assert summary.reason == "ECN-9 new zone limits" and summary.changes["counts"]["update"] == 1


def test_apply_changing_released_entries_requires_reason(site, equipment, characteristic):
    content = csv_file("IMM01.BARREL_Z2.TEMP,Barrel zone temperature,料筒温度,°C,225,230,236,IMM01")
    preview = apply_import(site, content, "csv", reason="  ")
    assert not preview.applied and preview.problems[0].field == "reason"
    characteristic.refresh_from_db()
    assert characteristic.usl == 235.0


def test_apply_of_new_entries_needs_no_reason(site):
    assert apply_import(site, csv_file("IMM01.A.TEMP,A,,,,,,"), "csv", reason="").applied


# --- round trips -----------------------------------------------------------------------------------------------

_site_numbers = itertools.count(100)
_segment = st.from_regex(r"[A-Z][A-Z0-9_]{0,5}", fullmatch=True)
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n,\";'=+-@料筒温度"), max_size=20)
_number = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def entries(draw):
    limits = sorted(draw(st.lists(_number, min_size=5, max_size=5, unique=True)))
    keep = draw(st.lists(st.booleans(), min_size=5, max_size=5))
    pmin, lsl, nominal, usl, pmax = (value if kept else None for value, kept in zip(limits, keep, strict=True))
    return {
        "name_en": draw(_text.filter(lambda s: s.strip())), "name_zh": draw(_text), "unit": draw(_text),
        "data_type": draw(st.sampled_from(["float", "int", "bool"])), "precision": draw(st.integers(0, 9)),
        "precision_policy": draw(st.sampled_from(["round", "reject"])),
        "physical_min": pmin, "lsl": lsl, "nominal": nominal, "usl": usl, "physical_max": pmax,
        "update_period_s": draw(st.none() | st.floats(min_value=1e-3, max_value=1e6)),
        "subgroup_size": draw(st.integers(1, 25)), "criticality": draw(st.sampled_from(["standard", "ctq", "special"])),
        "status": draw(st.sampled_from(["draft", "released"])),
        "equipment": draw(st.sampled_from([None, "M1", "M2"])), "operation": draw(st.sampled_from([None, "PN/7/A/OP10"])),
    }


def _site_with(dictionary):
    site = SiteFactory(code=f"R{next(_site_numbers)}")
    for code in ("M1", "M2"):
        EquipmentFactory(code=code, work_center__line__area__site=site)
    OperationFactory(product=ProductFactory(site=site, part_number="PN/7", revision="A"), code="OP10")
    for code, data in dictionary.items():
        create_characteristic(site, {"code": f"IMM01.{code}.X", **data})
    return site


@pytest.mark.parametrize("fmt", ["csv", "json"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dictionary=st.dictionaries(_segment, entries(), min_size=1, max_size=4))
def test_export_then_preview_shows_every_row_unchanged(db, fmt, dictionary):
    site = _site_with(dictionary)
    content = export_dictionary(site, fmt).encode("utf-8")
    preview = preview_import(site, content, fmt)
    assert preview.ok, preview.to_dict()["problems"]
    assert [row.action for row in preview.rows] == ["unchanged"] * len(dictionary)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_of_one_site_imports_into_an_empty_site_identically(site, characteristic, fmt):
    target = SiteFactory(code="S7")
    EquipmentFactory(code="IMM01", work_center__line__area__site=target)
    preview = apply_import(target, export_dictionary(site, fmt), fmt, reason="copy plant template")
    assert preview.applied, preview.to_dict()["problems"]
    assert export_dictionary(target, "json").split('"characteristics"')[1] == \
        export_dictionary(site, "json").split('"characteristics"')[1]


def test_the_documented_example_file_previews_cleanly(site, equipment):
    from pathlib import Path

    from django.conf import settings as django_settings

    doc = (Path(django_settings.BASE_DIR) / "docs" / "data-dictionary.md").read_text(encoding="utf-8")
    example = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    OperationFactory(product=ProductFactory(site=site, part_number="PN-4711", revision="B"), code="MOULD")
    preview = preview_import(site, example, "csv")
    assert preview.ok, preview.to_dict()["problems"]
    assert preview.counts["create"] == 4
