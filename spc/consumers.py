"""Live chart pages: a websocket per chart page, joined to the characteristic's group. The evaluation service sends
one nudge per evaluated delivery; the consumer forwards at most one per COALESCE_S seconds (the page then fetches
the new data over HTTP), so a burst of a thousand deliveries costs the browser one redraw."""
from __future__ import annotations

import asyncio

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from qms.auth.scoping import allowed_site_ids
from qms.models import Characteristic
from spc.services.live import chart_group

COALESCE_S = 1.0
FORBIDDEN, NOT_FOUND = 4403, 4404


class ChartConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=FORBIDDEN)
            return
        characteristic_id = int(self.scope["url_route"]["kwargs"]["pk"])
        allowed = await database_sync_to_async(self._allowed)(user, characteristic_id)
        if allowed is None:
            await self.close(code=FORBIDDEN)
            return
        if not allowed:
            await self.close(code=NOT_FOUND)  # another site's characteristic looks like one that does not exist
            return
        self.group = chart_group(characteristic_id)
        self.summary = None
        self.flusher = None
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    @staticmethod
    def _allowed(user, characteristic_id: int):
        if not user.has_perm("spc.view_chartconfig"):
            return None
        return Characteristic.objects.filter(pk=characteristic_id, site_id__in=allowed_site_ids(user)).exists()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if getattr(self, "flusher", None):
            self.flusher.cancel()

    async def receive_json(self, content, **kwargs):
        """The page sends nothing that matters; answer pings so proxies keep the connection."""
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def chart_update(self, event):
        if self.summary is None:
            self.summary = {"type": "chart.update", "points": 0, "signals": 0, "newest": None}
        self.summary["points"] += event.get("points", 0)
        self.summary["signals"] += event.get("signals", 0)
        self.summary["newest"] = max(filter(None, (self.summary["newest"], event.get("newest"))), default=None)
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.ensure_future(self._flush())

    async def _flush(self):
        while self.summary is not None:  # whatever arrives during the pause is summed and sent after it
            summary, self.summary = self.summary, None
            await self.send_json(summary)
            await asyncio.sleep(COALESCE_S)
