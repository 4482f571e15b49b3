"""The live alarm page's websocket: /ws/alarms/?site=<code>&line=<code>&after=<event id>.

Nudges carry no data (channels_redis drops group messages over capacity, so nothing may depend on one arriving):
each one only makes the consumer read the events after its cursor from the database and send them as ONE message.
Sends are paced by a token bucket: up to SEND_BURST messages go out at once (a supervisor sees each of a few alarms
the moment it is raised), then at most SEND_RATE per second; while the bucket is empty further nudges only set a
flag, so a storm of raises costs the browser about SEND_RATE messages per second however many raises it has. A
periodic poll makes a lost nudge cost seconds, never an alarm.
"""
from __future__ import annotations

import asyncio
import logging
import time
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import translation
from django.utils.translation import trans_real

from qms.auth.scoping import allowed_site_ids
from qms.live import feed
from qms.models import Line, Site

logger = logging.getLogger(__name__)

FORBIDDEN, NOT_FOUND = 4403, 4404
SEND_BURST = 10
SEND_RATE = 10.0  # messages per second once the burst is spent
POLL_S = 5.0


def _query(scope) -> dict[str, str]:
    params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return {key: values[-1] for key, values in params.items() if values}


def language_of(scope) -> str:
    """The page's language, as LocaleMiddleware chose it for the page: the language cookie, else Accept-Language,
    else the site default."""
    cookie = (scope.get("cookies") or {}).get(settings.LANGUAGE_COOKIE_NAME)
    candidates = [cookie] if cookie else []
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    candidates += [code for code, _quality in trans_real.parse_accept_lang_header(accept) if code != "*"]
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def resolve_scope(user, site_code: str, line_code: str) -> tuple[int, int | None] | int:
    """(site id, line id) the user may watch, else the close code: no permission → 4403, a site or line that is not
    theirs or does not exist → 4404 (another site's looks like one that does not exist)."""
    if not user.has_perm("qms.view_alarm"):
        return FORBIDDEN
    site = Site.objects.filter(code=site_code, pk__in=allowed_site_ids(user)).first() if site_code else None
    if site is None:
        return NOT_FOUND
    if not line_code:
        return site.pk, None
    line = Line.objects.filter(code=line_code, area__site=site).first()
    return (site.pk, line.pk) if line is not None else NOT_FOUND


class AlarmFeedConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.group = self.reader = self.poller = None
        self.language = language_of(self.scope)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=FORBIDDEN)
            return
        params = _query(self.scope)
        resolved = await database_sync_to_async(resolve_scope)(user, params.get("site", ""), params.get("line", ""))
        if isinstance(resolved, int):
            await self.close(code=resolved)
            return
        site_id, line_id = resolved
        try:
            after = int(params["after"]) if params.get("after") else None
        except ValueError:
            after = None
        latest = await database_sync_to_async(feed.latest_event_id)(site_id)
        self.feed = feed.FeedCursor(site_id, line_id, cursor=latest if after is None else after)
        self.wanted = False
        self.tokens, self.refilled_at = float(SEND_BURST), time.monotonic()
        self.group = feed.alarm_group(site_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        if after is not None and await self._too_far_behind(after, latest):
            # The page reloads its active list and reconnects from the cursor it is given.
            self.feed.cursor = latest
            await self.send_json({"type": "resync", "cursor": latest})
        self.request_read()
        self.poller = asyncio.ensure_future(self._poll())

    async def _too_far_behind(self, after: int, latest: int) -> bool:
        if after > latest:  # a cursor from another database (restore, reset): nothing above it can be trusted
            return True
        return await database_sync_to_async(feed.pending_count)(self.feed) > feed.CATCH_UP_LIMIT

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        for task in (self.reader, self.poller):
            if task is not None:
                task.cancel()

    async def receive_json(self, content, **kwargs):
        """Acknowledging goes through the page's form (HTTP, CSRF); the socket only answers pings."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "cursor": self.feed.cursor})

    async def alarms_nudge(self, message):
        self.request_read()

    def request_read(self) -> None:
        self.wanted = True
        if self.reader is None or self.reader.done():
            self.reader = asyncio.ensure_future(self._drain())

    async def _drain(self):
        """Read until no nudge is pending, one token per message sent (see the module docstring)."""
        try:
            while self.wanted:
                self._refill()
                if self.tokens < 1:
                    await asyncio.sleep((1 - self.tokens) / SEND_RATE)  # nudges meanwhile: one read after it
                    continue
                self.wanted = False
                if await self._send_unsent():
                    self.tokens -= 1
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed read is retried by the next nudge or poll; the socket stays up
            logger.warning("live alarm read failed for %s", self.group, exc_info=True)

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(float(SEND_BURST), self.tokens + (now - self.refilled_at) * SEND_RATE)
        self.refilled_at = now

    async def _send_unsent(self) -> bool:
        sent = False
        while True:
            messages = await database_sync_to_async(self._read)()
            if not messages:
                return sent
            await self.send_json({"type": "alarm.events", "events": messages,
                                  "cursor": max(self.feed.cursor, messages[-1]["id"])})
            self.feed.mark_sent(m["id"] for m in messages)
            sent = True
            if len(messages) < feed.BATCH:
                return sent

    def _read(self) -> list[dict]:
        with translation.override(self.language):  # titles rendered for this reader
            return [feed.event_message(event) for event in feed.unsent_events(self.feed)]

    async def _poll(self):
        while True:
            await asyncio.sleep(POLL_S)
            self.request_read()
