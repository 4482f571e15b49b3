"""alarm_changed (after commit) → a tiny nudge to the site's live pages; they read the events themselves."""
from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.dispatch import receiver

from qms.live.feed import alarm_group
from qms.seams import alarm_changed

logger = logging.getLogger(__name__)


@receiver(alarm_changed, dispatch_uid="qms-live-alarm-nudge")
def nudge_live_pages(sender, site_id: int, event_id: int, **kwargs) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(alarm_group(site_id), {"type": "alarms.nudge", "upto": event_id})
    except Exception:  # a lost nudge costs the pages at most one poll interval; the event itself is stored
        logger.warning("could not nudge the live alarm pages of site %s", site_id, exc_info=True)
