"""A fast binary codec for the one OPC UA structure that carries the bulk of the traffic: DataChangeNotification
(Part 4 §7.25.2; DataValue and Variant encodings of Part 6 §5.2.2.16–17). No Django import.

asyncua's generic codec walks dataclass fields, type hints and nested closures per value: ~15–25 µs to decode and
~10 µs to encode one MonitoredItemNotification in pure Python, i.e. most of a core at 10,000 values/s. Here the
common shape — a scalar number or boolean with a status code and source/server timestamps, no picoseconds — is
one `struct` call per item, and timestamps shared by many items (one per tick or per sample) are converted once.

- `encode` returns the very bytes asyncua's encoder would (the tests compare them); items of another shape are
  encoded by asyncua item by item.
- `decode` returns the very objects asyncua's decoder would (equal DataChangeNotification, MonitoredItemNotification,
  DataValue, Variant, StatusCode and aware UTC datetimes); an item of another shape (arrays, strings, missing or
  extra fields, picoseconds…) is decoded by asyncua's own DataValue decoder from the same position.

`install_decoder()` / `install_encoder()` route asyncua's ExtensionObject body (de)serialisation of
DataChangeNotification through here; everything else goes on to asyncua unchanged.
"""
from __future__ import annotations

import struct
from datetime import datetime

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.ua import ua_binary

# Variant built-in types with a fixed-size scalar encoding (Part 6 Table 1) → struct format.
_SCALARS: dict[int, str] = {
    ua.VariantType.Boolean.value: "?", ua.VariantType.SByte.value: "b", ua.VariantType.Byte.value: "B",
    ua.VariantType.Int16.value: "h", ua.VariantType.UInt16.value: "H", ua.VariantType.Int32.value: "i",
    ua.VariantType.UInt32.value: "I", ua.VariantType.Int64.value: "q", ua.VariantType.UInt64.value: "Q",
    ua.VariantType.Float.value: "f", ua.VariantType.Double.value: "d",
}
_VARIANT_TYPES = {code: ua.VariantType(code) for code in _SCALARS}
_PYTHON_TYPES = {ua.VariantType.Boolean: bool, ua.VariantType.Float: float, ua.VariantType.Double: float}

# DataValue encoding mask bits (Part 6 Table 16) in the order asyncua writes the fields.
_HAS_VALUE, _HAS_STATUS, _HAS_SOURCE_TS, _HAS_SERVER_TS = 0x01, 0x02, 0x04, 0x08
_COMPLETE = _HAS_VALUE | _HAS_STATUS | _HAS_SOURCE_TS | _HAS_SERVER_TS
# ClientHandle, mask, variant type, value, status, source time, server time: the shape a sampling server sends.
_COMPLETE_ITEM = {code: struct.Struct(f"<IBB{fmt}Iqq") for code, fmt in _SCALARS.items()}
_SCALAR = {code: struct.Struct(f"<{fmt}") for code, fmt in _SCALARS.items()}
_HANDLE_AND_MASK = struct.Struct("<IB")
_UINT32 = struct.Struct("<I")
_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")

_datetime_to_win_epoch = ua.datetime_to_win_epoch
_win_epoch_to_datetime = ua.win_epoch_to_datetime
_DataChangeNotification = ua.DataChangeNotification
_MonitoredItemNotification = ua.MonitoredItemNotification
_DataValue = ua.DataValue
_Variant = ua.Variant
_StatusCode = ua.StatusCode
_new_variant = object.__new__


def _variant(value, variant_type) -> ua.Variant:
    """What `ua.Variant(value, variant_type, None, is_array=False)` makes for a scalar of a fixed-size built-in
    type, without `__post_init__`'s type guessing and array checks (they cannot change anything here)."""
    variant = _new_variant(_Variant)
    variant.Value = value
    variant.VariantType = variant_type
    variant.Dimensions = None
    variant.is_array = False
    return variant


# --- encoding ---------------------------------------------------------------------------------------------------
def encode(notification: ua.DataChangeNotification) -> bytes:
    """The binary body of a DataChangeNotification, byte for byte as asyncua's `struct_to_binary` writes it."""
    items = notification.MonitoredItems
    if items is None:
        return _ORIGINAL_STRUCT_TO_BINARY(notification)
    parts = [_INT32.pack(len(items))]
    append = parts.append
    epochs: dict[datetime, int] = {}
    for item in items:
        packed = _encode_complete_item(item, epochs)
        append(packed if packed is not None else _generic_item_to_binary(item))
    append(ua_binary.list_to_binary(ua.DiagnosticInfo, notification.DiagnosticInfos))
    return b"".join(parts)


def _encode_complete_item(item, epochs: dict[datetime, int]) -> bytes | None:
    """The common shape in one struct call, or None for anything else (left to asyncua)."""
    if type(item) is not _MonitoredItemNotification:
        return None
    value = item.Value
    if type(value) is not _DataValue or value.SourcePicoseconds is not None or value.ServerPicoseconds is not None:
        return None
    variant, status, source_ts, server_ts = value.Value, value.StatusCode, value.SourceTimestamp, value.ServerTimestamp
    if variant is None or status is None or source_ts is None or server_ts is None or type(variant) is not _Variant:
        return None
    variant_type = variant.VariantType
    packer = _COMPLETE_ITEM.get(getattr(variant_type, "value", None))
    number = variant.Value
    if packer is None or variant.is_array or variant.Dimensions is not None or type(variant_type) is not ua.VariantType \
            or type(number) is not _PYTHON_TYPES.get(variant_type, int):
        return None
    source = epochs.get(source_ts)
    if source is None:
        source = epochs[source_ts] = _datetime_to_win_epoch(source_ts)
    server = epochs.get(server_ts)
    if server is None:
        server = epochs[server_ts] = _datetime_to_win_epoch(server_ts)
    try:
        return packer.pack(item.ClientHandle, _COMPLETE, variant_type.value, number, status.value, source, server)
    except struct.error:
        return None      # out of range for the declared type: asyncua raises its own, clearer error


def _generic_item_to_binary(item) -> bytes:
    return _ORIGINAL_STRUCT_TO_BINARY(item)


# --- decoding ---------------------------------------------------------------------------------------------------
def decode(data: Buffer) -> ua.DataChangeNotification:
    """A DataChangeNotification from its binary body (what `from_binary(DataChangeNotification, data)` returns)."""
    raw = data.read(len(data))
    count = _INT32.unpack_from(raw, 0)[0]
    position = 4
    items: list = []         # a null array (-1) decodes as an empty list, as asyncua does
    datetimes: dict[int, datetime] = {}
    for _ in range(count):
        position = _decode_item(raw, position, items, datetimes)
    diagnostics = _DIAGNOSTICS_FROM_BINARY(Buffer(raw, position))
    return _DataChangeNotification(MonitoredItems=items, DiagnosticInfos=diagnostics)


def _decode_item(raw, position: int, items: list, datetimes: dict[int, datetime]) -> int:
    handle, mask = _HANDLE_AND_MASK.unpack_from(raw, position)
    if mask == _COMPLETE:
        variant_code = raw[position + 5]
        unpacker = _COMPLETE_ITEM.get(variant_code)
        if unpacker is not None:
            _h, _m, _t, number, status, source, server = unpacker.unpack_from(raw, position)
            source_ts = datetimes.get(source)
            if source_ts is None:
                source_ts = datetimes[source] = _win_epoch_to_datetime(source)
            server_ts = datetimes.get(server)
            if server_ts is None:
                server_ts = datetimes[server] = _win_epoch_to_datetime(server)
            items.append(_MonitoredItemNotification(handle, _DataValue(
                _variant(number, _VARIANT_TYPES[variant_code]), _StatusCode(status), source_ts, server_ts)))
            return position + unpacker.size
    elif mask & ~_COMPLETE == 0 and (not mask & _HAS_VALUE or raw[position + 5] in _SCALARS):
        value, end = _decode_partial_value(raw, position + 5, mask, datetimes)
        items.append(_MonitoredItemNotification(handle, value))
        return end
    # Anything else (arrays, strings, extension objects, picoseconds, reserved bits): asyncua's own decoder.
    rest = Buffer(raw, position + 4)
    items.append(_MonitoredItemNotification(handle, _DATA_VALUE_FROM_BINARY(rest)))
    return rest.cur_pos


def _decode_partial_value(raw, position: int, mask: int, datetimes: dict[int, datetime]) -> tuple[ua.DataValue, int]:
    """A DataValue with some of value/status/timestamps left out (e.g. a bad status without a value), and the
    position after it."""
    fields = {}
    if mask & _HAS_VALUE:
        code = raw[position]
        unpacker = _SCALAR[code]
        fields["Value"] = _variant(unpacker.unpack_from(raw, position + 1)[0], _VARIANT_TYPES[code])
        position += 1 + unpacker.size
    if mask & _HAS_STATUS:
        fields["StatusCode"] = _StatusCode(_UINT32.unpack_from(raw, position)[0])
        position += 4
    for bit, name in ((_HAS_SOURCE_TS, "SourceTimestamp"), (_HAS_SERVER_TS, "ServerTimestamp")):
        if mask & bit:
            epoch = _INT64.unpack_from(raw, position)[0]
            stamp = datetimes.get(epoch)
            if stamp is None:
                stamp = datetimes[epoch] = _win_epoch_to_datetime(epoch)
            fields[name] = stamp
            position += 8
    return _DataValue(**fields), position


# --- wiring into asyncua ----------------------------------------------------------------------------------------
_ORIGINAL_STRUCT_TO_BINARY = ua_binary.struct_to_binary
_ORIGINAL_FROM_BINARY = ua_binary.from_binary
_DATA_VALUE_FROM_BINARY = ua_binary._create_dataclass_deserializer(ua.DataValue)
_DIAGNOSTICS_FROM_BINARY = ua_binary._create_list_deserializer(ua.DiagnosticInfo)


def _struct_to_binary(obj) -> bytes:
    if obj.__class__ is _DataChangeNotification:
        return encode(obj)
    return _ORIGINAL_STRUCT_TO_BINARY(obj)


def _from_binary(uatype, data):
    if uatype is _DataChangeNotification:
        return decode(data)
    return _ORIGINAL_FROM_BINARY(uatype, data)


def install_decoder() -> None:
    """asyncua decodes every ExtensionObject body through `ua_binary.from_binary`: DataChangeNotification comes here."""
    ua_binary.from_binary = _from_binary


def install_encoder() -> None:
    """asyncua encodes every ExtensionObject body through `ua_binary.struct_to_binary`: DataChangeNotification comes
    here (the simulator's server; a real connector never encodes notifications)."""
    ua_binary.struct_to_binary = _struct_to_binary
