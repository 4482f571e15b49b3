"""Legacy files read and mapped (pure): CSV/JSON/DBF, GBK/GB18030 text, column mapping, per-row errors, preview."""
from datetime import UTC, date, datetime

import pytest

from connectors.files.plan import plan_file
from connectors.files.readers import FileFormatError, read_file
from connectors.files.rows import MappingError, RowMapping
from tests.connectors.dbf_writer import write_dbf

WIDE = RowMapping.from_config({
    "ts_column": "时间", "timezone": "Asia/Shanghai", "lot_column": "批号",
    "value_columns": {"二区温度": "IMM01.BARREL_Z2.TEMP", "缓冲量": "IMM01.CUSHION"},
})
CSV_TEXT = "时间,批号,二区温度,缓冲量\n2026-11-28 08:00:00,批次-01,231.5,5.2\n2026-11-28 08:00:30,批次-01,232.0,\n"


def test_gbk_csv_is_detected_and_mapped():
    plan = plan_file(CSV_TEXT.encode("gbk"), "line1.csv", WIDE)
    assert (plan.file_format, plan.encoding) == ("csv", "gb18030")
    first = plan.rows[0]
    assert first.ts == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert first.lot == "批次-01"
    assert {v.characteristic: v.value for v in first.values} == {"IMM01.BARREL_Z2.TEMP": 231.5, "IMM01.CUSHION": 5.2}


def test_empty_wide_cells_are_not_measured_rather_than_errors():
    plan = plan_file(CSV_TEXT.encode("utf-8-sig"), "line1.csv", WIDE)
    assert plan.encoding == "utf-8-sig"
    assert [v.characteristic for v in plan.rows[1].values] == ["IMM01.BARREL_Z2.TEMP"]
    assert plan.errors == []


def test_semicolon_csv_with_decimal_comma():
    mapping = RowMapping.from_config({"ts_column": "ts", "value_columns": {"v": "X"}, "decimal_comma": True})
    plan = plan_file(b"ts;v\n2026-11-28T08:00:00Z;1.231,5\n", "x.csv", mapping)
    assert plan.rows[0].values[0].value == 1231.5


def test_row_errors_name_row_column_and_reason_and_spare_the_other_values():
    text = CSV_TEXT + "2026-11-28 08:01:00,批次-01,abc,5.3\nnot a time,批次-01,231,5\n"
    plan = plan_file(text.encode("gb18030"), "line1.csv", WIDE)
    assert [e.to_json() for e in plan.errors] == [
        {"row": 3, "column": "二区温度", "reason": "not a number: 'abc'"},
        {"row": 4, "column": "时间", "reason": "not a timestamp: 'not a time'"},
    ]
    assert [v.characteristic for v in plan.rows[2].values] == ["IMM01.CUSHION"]
    assert plan.rows[3].values == []


def test_row_problems_translate_the_message_and_keep_the_cell_verbatim():
    catalogue = {"not a number: %(value)s": "不是数字：%(value)s", "not a timestamp: %(value)s": "不是时间：%(value)s"}
    text = CSV_TEXT + "2026-11-28 08:01:00,批次-01,abc,5.3\nnot a time,批次-01,231,5\n"
    preview = plan_file(text.encode("gb18030"), "line1.csv", WIDE).preview(translate=lambda m: catalogue.get(m, m))
    assert preview["errors"] == [
        {"row": 3, "column": "二区温度", "reason": "不是数字：'abc'"},
        {"row": 4, "column": "时间", "reason": "不是时间：'not a time'"},
    ]


def test_a_mapping_naming_absent_columns_is_reported_before_any_row():
    plan = plan_file(b"a,b\n1,2\n", "x.csv", WIDE)
    assert plan.missing_columns == ["二区温度", "批号", "时间", "缓冲量"]
    assert plan.rows == []
    assert plan.errors[0].reason == "column not in the file"


def test_dbf_with_gbk_codepage_and_long_layout():
    data = write_dbf(
        [("RQ", "D", 8, 0), ("SJ", "C", 8, 0), ("PH", "C", 20, 0), ("XM", "C", 10, 0), ("SZ", "N", 10, 2)],
        [(date(2026, 11, 28), "08:00:00", "批次-02", "T2", 231.25), (date(2026, 11, 28), "08:00:30", "批次-02", "CU", 5.1)],
    )
    mapping = RowMapping.from_config({
        "ts_column": "RQ", "time_column": "SJ", "timezone": "Asia/Shanghai", "lot_column": "PH",
        "characteristic_column": "XM", "value_column": "SZ", "codes": {"T2": "IMM01.BARREL_Z2.TEMP", "CU": "IMM01.CUSHION"},
    })
    plan = plan_file(data, "EXPORT.DBF", mapping)
    assert (plan.file_format, plan.encoding) == ("dbf", "cp936")
    assert [r.ts for r in plan.rows] == [datetime(2026, 11, 28, 0, 0, tzinfo=UTC),
                                         datetime(2026, 11, 28, 0, 0, 30, tzinfo=UTC)]
    assert [(r.lot, r.values[0].characteristic, r.values[0].value) for r in plan.rows] == [
        ("批次-02", "IMM01.BARREL_Z2.TEMP", 231.25), ("批次-02", "IMM01.CUSHION", 5.1)]


def test_dbf_without_a_declared_codepage_falls_back_to_gb18030():
    data = write_dbf([("PH", "C", 20, 0)], [("批次-03",)], language_driver=0)
    read = read_file(data, "old.dbf")
    assert (read.encoding, read.records[0]["PH"]) == ("gb18030", "批次-03")


def test_json_records_with_epoch_times():
    mapping = RowMapping.from_config({"ts_column": "t", "value_columns": {"v": "X"}})
    plan = plan_file(b'{"records": [{"t": 1764288000, "v": 1.5}]}', "a.json", mapping)
    assert plan.rows[0].ts == datetime(2025, 11, 28, tzinfo=UTC)


def test_json_lines_are_accepted():
    mapping = RowMapping.from_config({"ts_column": "t", "value_columns": {"v": "X"}})
    plan = plan_file(b'{"t": 1764288000, "v": 1}\n{"t": 1764288001, "v": 2}\n', "a.jsonl", mapping)
    assert len(plan.rows) == 2


@pytest.mark.parametrize("data,filename,options,message", [
    (b"\xff\xfe\x00garbage", "a.csv", {"encoding": "utf-8"}, "not valid utf-8 at byte 0"),
    (b"", "a.csv", {}, "the file is empty"),
    (b"[1, 2]", "a.json", {}, "JSON array of objects"),
    (b"{}", "a.json", {}, "exactly one array"),
    (b"xx", "a.xlsx", {}, "cannot tell the format"),
    (b"not a dbf", "a.dbf", {}, "not a readable .dbf"),
])
def test_unreadable_files_say_why(data, filename, options, message):
    with pytest.raises(FileFormatError, match=message):
        read_file(data, filename, **options)


def test_a_csv_line_the_csv_module_cannot_read_names_the_line():
    data = b"t,v\n1,2\n3,\"" + b"x" * 200_000 + b"\n"     # an unclosed quote swallowing the rest of the file
    with pytest.raises(FileFormatError, match="CSV line 3 cannot be read: field larger than field limit"):
        read_file(data, "a.csv")


def test_local_times_without_a_configured_zone_are_refused_not_guessed():
    mapping = RowMapping.from_config({"ts_column": "t", "value_columns": {"v": "X"}})
    plan = plan_file(b"t,v\n2026-11-28 08:00:00,1\n", "a.csv", mapping)
    assert "no time zone" in plan.errors[0].reason


def test_custom_timestamp_format():
    mapping = RowMapping.from_config({"ts_column": "t", "value_columns": {"v": "X"}, "ts_format": "%Y/%m/%d %H:%M",
                                      "timezone": "UTC"})
    assert plan_file(b"t,v\n2026/11/28 08:00,1\n", "a.csv", mapping).rows[0].ts == datetime(2026, 11, 28, 8,
                                                                                          tzinfo=UTC)


def test_preview_lists_sample_rows_and_problems():
    preview = plan_file((CSV_TEXT + "x,批次,1,1\n").encode("gbk"), "line1.csv", WIDE).preview(limit=1)
    assert (preview["rows"], preview["readings"], preview["error_count"]) == (3, 3, 1)
    assert preview["sample"] == [{"row": 1, "ts": "2026-11-28T00:00:00+00:00", "lot": "批次-01", "equipment": None,
                                  "values": {"IMM01.BARREL_Z2.TEMP": 231.5, "IMM01.CUSHION": 5.2}}]


@pytest.mark.parametrize("config,message", [
    ({"value_columns": {"a": "X"}}, "ts_column"),
    ({"ts_column": "t"}, "value_columns"),
    ({"ts_column": "t", "characteristic_column": "c"}, "value_column"),
    ({"ts_column": "t", "value_columns": {"a": "X"}, "timezone": "Nowhere/City"}, "timezone"),
])
def test_bad_mappings_are_refused(config, message):
    with pytest.raises(MappingError, match=message):
        RowMapping.from_config(config)


def test_a_mapping_problem_quoting_a_field_problem_is_translated_whole():
    catalogue = {"timezone: %(problem)s": "时区：%(problem)s", "unknown time zone %(zone)s": "未知时区 %(zone)s"}
    with pytest.raises(MappingError) as refused:
        RowMapping.from_config({"ts_column": "t", "value_columns": {"a": "X"}, "timezone": "Nowhere/City"})
    assert refused.value.text(lambda m: catalogue.get(m, m)) == "时区：未知时区 'Nowhere/City'"


def test_decimal_cells_from_numeric_columns_are_numbers():
    from decimal import Decimal

    from connectors.files.rows import map_row

    mapping = RowMapping.from_config({"ts_column": "t", "value_columns": {"v": "X"}, "timezone": "UTC"})
    row = map_row(1, {"t": datetime(2026, 11, 28, 8, 0), "v": Decimal("231.125")}, mapping)
    assert (row.values[0].value, row.ts) == (231.125, datetime(2026, 11, 28, 8, tzinfo=UTC))
