"""A minimal dBase III (.dbf) writer for test fixtures — FoxPro exports are this format plus extras dbfread ignores."""
from __future__ import annotations

import struct
from datetime import date


def write_dbf(fields: list[tuple[str, str, int, int]], records: list[tuple], *, encoding: str = "gbk",
              language_driver: int = 0x7A) -> bytes:
    """fields: (name, type C/N/D, length, decimals). language_driver 0x7A = GBK (cp936); 0 = not declared."""
    header_length = 32 + 32 * len(fields) + 1
    record_length = 1 + sum(length for _n, _t, length, _d in fields)
    today = date(2026, 11, 28)
    out = bytearray(struct.pack("<BBBBIHH", 0x03, today.year - 1900, today.month, today.day, len(records),
                                header_length, record_length))
    out += bytes(17) + bytes([language_driver]) + bytes(2)
    for name, kind, length, decimals in fields:
        out += name.encode("ascii").ljust(11, b"\0") + kind.encode() + bytes(4) + bytes([length, decimals]) + bytes(14)
    out += b"\r"
    for record in records:
        out += b" "
        for (_name, kind, length, decimals), value in zip(fields, record, strict=True):
            if kind == "C":
                cell = ("" if value is None else str(value)).encode(encoding).ljust(length, b" ")
            elif kind == "N":
                cell = ("" if value is None else f"{value:.{decimals}f}").encode().rjust(length, b" ")
            elif kind == "D":
                cell = (value.strftime("%Y%m%d") if value else "").encode().ljust(length, b" ")
            else:
                raise ValueError(kind)
            out += cell[:length]
    out += b"\x1a"
    return bytes(out)
