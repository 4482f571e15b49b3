"""Reading legacy export files into records (dicts): CSV (delimiter sniffed), JSON (array, {"records": [...]} or
JSON Lines) and dBase/FoxPro .dbf (dbfread). Text encodings: UTF-8 (with or without BOM) or GB18030 — the superset
of GBK/GB2312 that Chinese factory PCs write — detected when not configured. Pure apart from a temporary file
that dbfread needs."""
from __future__ import annotations

import csv
import io
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import PurePath

from dbfread import DBF
from dbfread.exceptions import DBFNotFound

from connectors.translatable import TranslatableError, gettext_noop

FORMATS = ("csv", "json", "dbf")
MAX_FILE_BYTES = 200 * 1024 * 1024
FALLBACK_ENCODINGS = ("utf-8-sig", "gb18030")


class FileFormatError(TranslatableError):
    """The file cannot be read as the format it claims (the message says where it broke)."""


@dataclass(frozen=True, slots=True)
class ReadFile:
    file_format: str
    encoding: str
    header: list[str]
    records: list[dict]


def guess_format(filename: str, configured: str | None = None) -> str:
    if configured:
        if configured not in FORMATS:
            raise FileFormatError(gettext_noop("unknown format %(format)s (csv, json, dbf)"), format=repr(configured))
        return configured
    suffix = PurePath(filename).suffix.lower().lstrip(".")
    if suffix in ("csv", "txt", "tsv"):
        return "csv"
    if suffix in ("json", "jsonl", "ndjson"):
        return "json"
    if suffix == "dbf":
        return "dbf"
    raise FileFormatError(gettext_noop("cannot tell the format of %(filename)s from its extension; configure "
                                       "file_format"), filename=repr(filename))


def decode_text(data: bytes, encoding: str | None) -> tuple[str, str]:
    """→ (text, encoding used). A configured encoding is used strictly; otherwise UTF-8, then GB18030."""
    candidates = (encoding,) if encoding else FALLBACK_ENCODINGS
    for candidate in candidates:
        try:
            return data.decode(candidate), candidate
        except UnicodeDecodeError as exc:
            if encoding:
                line = data[:exc.start].count(b"\n") + 1
                raise FileFormatError(gettext_noop("not valid %(encoding)s at byte %(byte)s (line %(line)s)"),
                                      encoding=encoding, byte=exc.start, line=line) from None
        except LookupError:
            raise FileFormatError(gettext_noop("unknown encoding %(encoding)s"), encoding=repr(encoding)) from None
    raise FileFormatError(gettext_noop("neither UTF-8 nor GB18030 text; configure the file's encoding"))


def read_csv(text: str, delimiter: str | None = None) -> tuple[list[str], list[dict]]:
    if not delimiter:
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _csv_records(reader)
    except csv.Error as exc:      # e.g. a field beyond the csv module's size limit (an unclosed quote swallows lines)
        raise FileFormatError(gettext_noop("CSV line %(line)s cannot be read: %(detail)s"), line=reader.line_num,
                              detail=str(exc)) from None


def _csv_records(reader) -> tuple[list[str], list[dict]]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise FileFormatError(gettext_noop("the file is empty")) from None
    if len(set(header)) != len(header):
        raise FileFormatError(gettext_noop("duplicate column names in the header: %(header)s"), header=header)
    records = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue          # blank lines at the end of hand-edited exports
        records.append(dict(zip(header, cells, strict=False)))
    return header, records


def read_json(text: str, records_path: str | None = None) -> tuple[list[str], list[dict]]:
    from .fields import MISSING, get_path

    try:
        document = json.loads(text)
    except json.JSONDecodeError as first_error:
        try:   # JSON Lines
            document = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            raise FileFormatError(gettext_noop("not JSON: %(detail)s"), detail=str(first_error)) from None
    if records_path:
        document = get_path(document, records_path)
        if document is MISSING:
            raise FileFormatError(gettext_noop("no records at '%(path)s'"), path=records_path)
    elif isinstance(document, dict):
        arrays = [v for v in document.values() if isinstance(v, list)]
        if len(arrays) != 1:
            raise FileFormatError(gettext_noop("a JSON object must hold exactly one array of records "
                                               "(or configure records_path)"))
        document = arrays[0]
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise FileFormatError(gettext_noop("the records must be a JSON array of objects"))
    header = list(dict.fromkeys(k for record in document for k in record))
    return header, document


def read_dbf(data: bytes, encoding: str | None) -> tuple[list[str], list[dict], str]:
    handle, path = tempfile.mkstemp(suffix=".dbf")
    try:
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(data)
        attempts = (encoding,) if encoding else (None, "gb18030")   # None: the codepage in the DBF header
        for attempt in attempts:
            try:
                table = DBF(path, encoding=attempt, load=True)
                return list(table.field_names), [dict(r) for r in table.records], table.encoding
            except UnicodeDecodeError:
                if encoding:
                    raise FileFormatError(gettext_noop("text fields are not valid %(encoding)s"),
                                          encoding=encoding) from None
            except (DBFNotFound, ValueError, struct.error) as exc:
                raise FileFormatError(gettext_noop("not a readable .dbf file: %(detail)s"), detail=str(exc)) from None
        raise FileFormatError(gettext_noop("text fields are neither in the declared code page nor GB18030; "
                                           "configure the encoding"))
    finally:
        os.unlink(path)


def read_file(data: bytes, filename: str, *, file_format: str | None = None, encoding: str | None = None,
              delimiter: str | None = None, records_path: str | None = None) -> ReadFile:
    if len(data) > MAX_FILE_BYTES:
        raise FileFormatError(gettext_noop("the file is larger than %(megabytes)s MB"),
                              megabytes=MAX_FILE_BYTES // (1024 * 1024))
    kind = guess_format(filename, file_format)
    if kind == "dbf":
        header, records, used = read_dbf(data, encoding)
        return ReadFile(kind, used, header, records)
    text, used = decode_text(data, encoding)
    header, records = read_csv(text, delimiter) if kind == "csv" else read_json(text, records_path)
    return ReadFile(kind, used, header, records)
