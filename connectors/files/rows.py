"""One legacy record (a file row or an intermediate-table row) → readings, by a column mapping. Pure.

Two layouts, as legacy systems write them:
- wide: one row per shot/sample, one column per characteristic ({"value_columns": {"TEMP_Z2": "IMM01.BARREL_Z2.TEMP"}})
- long: one row per value, a column naming the characteristic ({"characteristic_column": "ITEM", "value_column": "VAL"},
  optionally with "codes": {"T2": "IMM01.BARREL_Z2.TEMP"} translating the legacy item codes)
Every problem is reported with the column and a reason; one bad cell does not spoil the row's other values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from connectors.translatable import TranslatableError, gettext_noop, render

from .fields import FieldError, parse_number, parse_text, parse_timestamp, zone


class MappingError(TranslatableError):
    """The mapping itself is wrong (names a column that is not there, no value column, ...)."""


@dataclass(frozen=True, slots=True)
class RowMapping:
    ts_column: str
    value_columns: dict[str, str] = field(default_factory=dict)      # wide: column → characteristic code
    characteristic_column: str | None = None                          # long
    value_column: str | None = None                                   # long
    codes: dict[str, str] = field(default_factory=dict)               # long: legacy item code → characteristic code
    time_column: str | None = None     # FoxPro exports often keep the date and the time of day in two columns
    lot_column: str | None = None
    equipment_column: str | None = None
    ts_format: str | None = None
    tz: ZoneInfo | None = None
    decimal_comma: bool = False
    skip_empty: bool = True          # an empty cell in a wide row is "not measured", not an error

    @classmethod
    def from_config(cls, config: dict) -> RowMapping:
        try:
            tz = zone(config.get("timezone"))
        except FieldError as exc:
            raise MappingError(gettext_noop("timezone: %(problem)s"), problem=exc) from None
        mapping = cls(
            ts_column=config.get("ts_column") or "", value_columns=dict(config.get("value_columns") or {}),
            characteristic_column=config.get("characteristic_column") or None,
            value_column=config.get("value_column") or None, codes=dict(config.get("codes") or {}),
            time_column=config.get("time_column") or None,
            lot_column=config.get("lot_column") or None, equipment_column=config.get("equipment_column") or None,
            ts_format=config.get("ts_format") or None, tz=tz, decimal_comma=bool(config.get("decimal_comma", False)),
            skip_empty=bool(config.get("skip_empty", True)),
        )
        mapping.check()
        return mapping

    @property
    def long(self) -> bool:
        return self.characteristic_column is not None

    def check(self) -> None:
        if not self.ts_column:
            raise MappingError(gettext_noop("ts_column: the column with the measurement time is required"))
        if self.long and not self.value_column:
            raise MappingError(gettext_noop("value_column: required with characteristic_column"))
        if not self.long and not self.value_columns:
            raise MappingError(gettext_noop("value_columns: map at least one column to a characteristic "
                                            "(or use characteristic_column + value_column)"))

    def columns(self) -> set[str]:
        named = {self.ts_column, self.time_column, self.lot_column, self.equipment_column, self.characteristic_column,
                 self.value_column}
        return {c for c in named if c} | set(self.value_columns)

    def missing_columns(self, header: list[str]) -> list[str]:
        present = {h.casefold() for h in header}
        return sorted(c for c in self.columns() if c.casefold() not in present)


@dataclass(frozen=True, slots=True)
class RowValue:
    characteristic: str
    value: float
    column: str


@dataclass(frozen=True, slots=True)
class RowError:
    row: int                 # 1-based data row number (the header is not counted), as a user counts in Excel
    column: str
    message: str             # a msgid marked with gettext_noop; `params` fill its placeholders
    params: dict = field(default_factory=dict)

    @classmethod
    def of(cls, row: int, column: str, error: TranslatableError) -> RowError:
        return cls(row, column, error.message, error.params)

    @property
    def reason(self) -> str:
        """The reason in English (logs, tests); people read to_json(gettext)."""
        return render(self.message, self.params)

    def to_json(self, translate=None) -> dict:
        """Row, column and the reason in the language of `translate` (see connectors.translatable)."""
        return {"row": self.row, "column": self.column, "reason": render(self.message, self.params, translate)}


@dataclass(frozen=True, slots=True)
class MappedRow:
    row: int
    ts: datetime | None
    lot: str | None
    equipment: str | None
    values: list[RowValue]
    errors: list[RowError]


def _cell(record: dict, column: str):
    if column in record:
        return record[column]
    folded = column.casefold()
    for key, value in record.items():     # DBF field names come upper-case; CSV headers as typed
        if str(key).casefold() == folded:
            return value
    return None


def _timestamp_cell(record: dict, mapping: RowMapping):
    raw = _cell(record, mapping.ts_column)
    if not mapping.time_column:
        return raw
    time_of_day = str(_cell(record, mapping.time_column) or "").strip()
    if isinstance(raw, datetime):
        raw = raw.date()
    day = raw.isoformat() if isinstance(raw, date) else str(raw or "").strip()
    return f"{day} {time_of_day}".strip()


def _empty(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def map_row(number: int, record: dict, mapping: RowMapping) -> MappedRow:
    errors: list[RowError] = []
    ts = lot = equipment = None
    try:
        ts = parse_timestamp(_timestamp_cell(record, mapping), tz=mapping.tz, fmt=mapping.ts_format)
    except FieldError as exc:
        errors.append(RowError.of(number, mapping.ts_column, exc))
    for column, target in ((mapping.lot_column, "lot"), (mapping.equipment_column, "equipment")):
        if not column:
            continue
        try:
            text = parse_text(_cell(record, column))
        except FieldError as exc:
            errors.append(RowError.of(number, column, exc))
            continue
        if target == "lot":
            lot = text
        else:
            equipment = text
    values: list[RowValue] = []
    if mapping.long:
        code = parse_text(_cell(record, mapping.characteristic_column), max_length=128)
        if not code:
            errors.append(RowError(number, mapping.characteristic_column, gettext_noop("empty")))
        else:
            code = mapping.codes.get(code, code)
            try:
                values.append(RowValue(code, parse_number(_cell(record, mapping.value_column),
                                                          decimal_comma=mapping.decimal_comma), mapping.value_column))
            except FieldError as exc:
                errors.append(RowError.of(number, mapping.value_column, exc))
    else:
        for column, code in mapping.value_columns.items():
            raw = _cell(record, column)
            if mapping.skip_empty and _empty(raw):
                continue
            try:
                values.append(RowValue(code, parse_number(raw, decimal_comma=mapping.decimal_comma), column))
            except FieldError as exc:
                errors.append(RowError.of(number, column, exc))
    if ts is None:
        values = []       # a value without its time cannot be stored; the error above says why
    return MappedRow(number, ts, lot, equipment, values, errors)
