"""Speed-ups of asyncua's server for the simulator process (installed when an OpcUaFace starts). No Django import.

The wire stays standard OPC UA, byte for byte what asyncua would send (tests/connectors/test_opcua_codec.py):

- `MonitoredItemValues.set_current_datavalue` deep-copies every written DataValue (to guard against callers that
  mutate a list value after writing it): over half of the simulator's CPU at 10,000 values/s. A DataValue whose
  Variant holds an immutable scalar is kept as it is; anything else is still deep-copied.
- `MonitoredItemService.datachange_callback` builds a default MonitoredItemNotification (with a default DataValue
  and Variant, whose type is guessed) for every written value before it knows whether the value passes the filter:
  ~40 % of the simulator's CPU after the deep copy was gone. The replacement builds the notification once, from
  the value, only when it is sent; same filter and queue logic.
- DataChangeNotification bodies are encoded by connectors.opcua.datachange_codec (one struct call per item instead
  of asyncua's field-by-field generic encoder).
"""
from __future__ import annotations

import uuid
from datetime import datetime

from asyncua import ua
from asyncua.server.monitored_item_service import MonitoredItemService, MonitoredItemValues

from connectors.opcua import datachange_codec

_IMMUTABLE_SCALARS = frozenset({float, int, bool, str, bytes, datetime, uuid.UUID, type(None)})
_DataValue = ua.DataValue
_Variant = ua.Variant
_ORIGINAL_SET_CURRENT = MonitoredItemValues.set_current_datavalue
_ORIGINAL_DATACHANGE_CALLBACK = MonitoredItemService.datachange_callback
_DISABLED = ua.MonitoringMode.Disabled
_STATUS_VALUE = ua.DataChangeTrigger.StatusValue
_MonitoredItemNotification = ua.MonitoredItemNotification


def _is_immutable(value: object) -> bool:
    if type(value) is not _DataValue:
        return False
    variant = value.Value
    return variant is None or (type(variant) is _Variant and type(variant.Value) in _IMMUTABLE_SCALARS)


def set_current_datavalue(self: MonitoredItemValues, cur_val: ua.DataValue) -> None:
    if not _is_immutable(cur_val):
        _ORIGINAL_SET_CURRENT(self, cur_val)
        return
    # The simulator never mutates a DataValue it has written (every write is a new one), and a scalar Variant's
    # value cannot be changed in place: keeping the reference is what the deep copy guards against, for free.
    self.old_dvalue = self.current_dvalue
    self.current_dvalue = cur_val


async def datachange_callback(self: MonitoredItemService, handle: int, value: ua.DataValue,
                              error: ua.StatusCode | None = None) -> None:
    if error:
        await _ORIGINAL_DATACHANGE_CALLBACK(self, handle, value, error)
        return
    mid = self._monitored_datachange[handle]
    mdata = self._monitored_items[mid]
    if mdata.mode == _DISABLED:
        return
    values = mdata.mvalue
    values.set_current_datavalue(value)
    if mdata.filter:
        passes = self._is_data_changed(values, mdata.filter.Trigger) and self._is_deadband_exceeded(values, mdata.filter)
    else:
        passes = self._is_data_changed(values, _STATUS_VALUE)
    if passes:
        await self.isub.enqueue_datachange_event(mid, _MonitoredItemNotification(mdata.client_handle, value),
                                                 mdata.queue_size)


def install() -> None:
    MonitoredItemValues.set_current_datavalue = set_current_datavalue
    MonitoredItemService.datachange_callback = datachange_callback
    datachange_codec.install_encoder()

