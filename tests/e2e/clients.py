"""Clients of the running stack as its users have them: a signed-in browser session (cookie + CSRF), the MES with its
bearer token, and a supervisor's websocket on the live alarm feed. Standard library + websockets only, no Django
import (bench/alarm_latency.py uses them too)."""
from __future__ import annotations

import asyncio
import http.cookiejar
import json
import queue
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    body: object

    def __str__(self) -> str:
        return f"HTTP {self.status}: {json.dumps(self.body, ensure_ascii=False)[:2000]}"


class HttpClient:
    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))
        self.headers = dict(headers or {})

    def request(self, method: str, path: str, payload=None, *, form: dict | None = None,
                headers: dict[str, str] | None = None, timeout_s: float = 15.0) -> Response:
        data, all_headers = None, {"Accept": "application/json", **self.headers, **(headers or {})}
        if payload is not None:
            data = json.dumps(payload).encode()
            all_headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=all_headers)
        try:
            with self.opener.open(request, timeout=timeout_s) as response:
                return Response(response.status, _decode(response.read()))
        except urllib.error.HTTPError as error:
            return Response(error.code, _decode(error.read()))

    def get(self, path: str, **kwargs) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, payload=None, **kwargs) -> Response:
        return self.request("POST", path, payload, **kwargs)

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)


class BrowserSession(HttpClient):
    """A user signed in through the login form: session cookie, and the CSRF token sent back on unsafe requests
    (as the pages' JavaScript does)."""

    def login(self, username: str, password: str) -> BrowserSession:
        page = self.request("GET", "/accounts/login/", headers={"Accept": "text/html"})
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', str(page.body))
        if page.status != 200 or not token:
            raise AssertionError(f"login page: {page}")
        answer = self.request("POST", "/accounts/login/", form={
            "username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
            headers={"Accept": "text/html", "Referer": f"{self.base_url}/accounts/login/"})
        if not self.cookie("sessionid"):
            raise AssertionError(f"{username} could not sign in (HTTP {answer.status})")
        return self

    def request(self, method, path, payload=None, **kwargs):
        if method not in ("GET", "HEAD", "OPTIONS") and self.cookie("csrftoken"):
            kwargs["headers"] = {"X-CSRFToken": self.cookie("csrftoken"), "Referer": self.base_url + "/",
                                 **(kwargs.get("headers") or {})}
        return super().request(method, path, payload, **kwargs)


class MesClient(HttpClient):
    def __init__(self, base_url: str, token: str):
        super().__init__(base_url, headers={"Authorization": f"Bearer {token}"})


def _decode(raw: bytes):
    text = raw.decode(errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class AlarmFeed:
    """The supervisor's websocket on the live alarm feed (/ws/alarms/?site=<code>&after=<id>), read in a thread of
    its own: every alarm event received is queued with the host clock's time of receipt (time.time())."""

    def __init__(self, web_url: str, site_code: str, session_cookie: str, *, after: int = 0):
        self.url = web_url.replace("http://", "ws://", 1) + f"/ws/alarms/?site={site_code}&after={after}"
        self.origin = web_url
        self.cookie = session_cookie
        self.events: queue.Queue = queue.Queue()
        self.received: list[dict] = []
        self.connected = threading.Event()
        self.error: BaseException | None = None
        self.closed: str | None = None       # why the server ended the socket (code and reason), once it did
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="alarm-feed", daemon=True)

    def __enter__(self) -> AlarmFeed:
        self._thread.start()
        if not self.connected.wait(15) or self.error:
            raise AssertionError(f"the alarm websocket {self.url} did not open: {self.error!r}")
        return self

    def __exit__(self, *exc) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.run(self._listen())

    async def _listen(self) -> None:
        import websockets

        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with websockets.connect(self.url, origin=self.origin, max_size=None,
                                          additional_headers={"Cookie": f"sessionid={self.cookie}"}) as socket:
                self.connected.set()
                reader = asyncio.create_task(self._read(socket))
                await self._stop.wait()
                reader.cancel()
        except BaseException as error:
            self.error = error
            self.connected.set()

    async def _read(self, socket) -> None:
        try:
            async for raw in socket:
                at = time.time()
                message = json.loads(raw)
                if message.get("type") == "alarm.events":
                    for event in message.get("events", []):
                        self.events.put((at, event))
        except Exception as error:
            self.error = error
        finally:
            self.closed = f"code {socket.close_code}, reason {socket.close_reason!r}"

    def wait_for(self, matches: Callable[[dict], bool], timeout_s: float, what: str, *,
                 include_seen: bool = True) -> tuple[float, dict]:
        """The first event for which `matches(event)` — among those already taken by an earlier wait too unless
        `include_seen` is False; returns (receipt time, event)."""
        for at, event in self.received if include_seen else ():
            if matches(event):
                return at, event
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if self.closed and self.events.empty():
                raise AssertionError(f"no {what}: the server closed the alarm websocket ({self.closed})"
                                     + (f"; socket error: {self.error!r}" if self.error else ""))
            if remaining <= 0:
                seen = [(e.get("kind"), (e.get("snapshot") or {}).get("title")) for _at, e in self.received]
                raise AssertionError(f"no {what} on the alarm websocket within {timeout_s:.0f} s; received: {seen}"
                                     + (f"; socket error: {self.error!r}" if self.error else ""))
            try:
                at, event = self.events.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            self.received.append((at, event))
            if matches(event):
                return at, event
