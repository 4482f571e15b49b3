"""Guards against two known asyncua 2.x pitfalls, installed once when the OPC UA adapter is imported.

1. Republish spin after session reactivation. After a reconnect that reactivates the old session, asyncua's
   `Subscription._republish_gaps` asks the server to republish sequence numbers one after another until the server
   answers BadMessageNotAvailable. Servers that answer an unknown sequence number with an *empty* notification
   message instead (asyncua's own server does: `return ua.NotificationMessage()`) never send that status, so the
   loop runs forever, one request per round trip: 100 % CPU and no live data.
   Guard: republish only the sequence numbers the server reported as available (TransferSubscriptions'
   AvailableSequenceNumbers, up to the highest), stop at the first empty message, and fall back to recreating the
   subscription when gaps remain — bounded by construction.

2. A deadband item crashing on a bad-quality (None) value. With an absolute deadband the change test computes
   `abs(new - old)`; a bad-quality value carries a Variant whose value is None, and `None - float` raises.
   asyncua 2.1's server checks `DataValue.Value is None` but not the Variant's value, so the datachange callback
   raises TypeError: the bad-quality notification is lost and so is the next good one (old value None).
   Guards: `install_server_guard()` (used by our simulator) replaces the server's deadband test with a None-safe
   one; on the client side, a tag may use `client_deadband` instead of the server filter for servers with this
   bug — `values.passes_deadband` lets a None through by design (a change of quality is news).
"""
from __future__ import annotations

import logging

from asyncua import ua
from asyncua.common import subscription as _subscription
from asyncua.ua.uaerrors import BadMessageNotAvailable

log = logging.getLogger("connectors.opcua.guards")

_ORIGINAL_REPUBLISH_GAPS = _subscription.Subscription._republish_gaps
MAX_REPUBLISH = 10_000


async def bounded_republish_gaps(self, available: list[int]) -> bool:
    """Republish the missing notification messages the server still holds; never loop past them."""
    if not isinstance(self.server, _subscription.UaSession) or self.subscription_id is None:
        return True
    last = int(self.last_sequence_number or 0)
    wanted = sorted(int(seq) for seq in (available or []) if int(seq) > last)[:MAX_REPUBLISH]
    self._replaying = True
    try:
        for seq in wanted:
            try:
                message = await self.server.republish(self.subscription_id, seq)
            except BadMessageNotAvailable:
                continue
            except Exception:
                log.warning("republish of %s/%s failed", self.subscription_id, seq, exc_info=True)
                return False
            if not message or not message.NotificationData or int(message.SequenceNumber or 0) != seq:
                log.info("server answered republish %s/%s with an empty message; stopping", self.subscription_id, seq)
                return False
            await self.publish_callback(ua.PublishResult(self.subscription_id, NotificationMessage=message))
    finally:
        self._replaying = False
    return True


def install() -> None:
    _subscription.Subscription._republish_gaps = bounded_republish_gaps


def uninstall() -> None:
    """Tests only: show that the unguarded library spins."""
    _subscription.Subscription._republish_gaps = _ORIGINAL_REPUBLISH_GAPS


# --- server side (our simulator runs asyncua's server) ------------------------------------------------------------
def _variant_value(data_value):
    if data_value is None or data_value.Value is None:
        return None
    return data_value.Value.Value


def none_safe_deadband_exceeded(self, values, flt) -> bool:
    """OPC UA Part 4 §7.22.2 absolute deadband; a missing value on either side always reports (quality changed)."""
    if flt.DeadbandType == ua.DeadbandType.None_:
        return True
    old, current = _variant_value(values.get_old_datavalue()), _variant_value(values.get_current_datavalue())
    if old is None or current is None or isinstance(old, bool | str) or isinstance(current, bool | str):
        return True
    if flt.DeadbandType == ua.DeadbandType.Absolute:
        try:
            return abs(current - old) > flt.DeadbandValue
        except TypeError:
            return True
    return True


def install_server_guard() -> None:
    from asyncua.server.monitored_item_service import MonitoredItemService

    MonitoredItemService._is_deadband_exceeded = none_safe_deadband_exceeded


def uninstall_server_guard() -> None:
    """Tests only: show that the unguarded server loses values."""
    from asyncua.server.monitored_item_service import MonitoredItemService

    MonitoredItemService._is_deadband_exceeded = _ORIGINAL_SERVER_DEADBAND


def _original_server_deadband():
    from asyncua.server.monitored_item_service import MonitoredItemService

    return MonitoredItemService._is_deadband_exceeded


_ORIGINAL_SERVER_DEADBAND = _original_server_deadband()
