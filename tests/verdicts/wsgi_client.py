"""Driving the verdict WSGI applications as a WSGI server does (tests of the lane and of its fast path)."""
from __future__ import annotations

import re
from typing import NamedTuple

import orjson
from django.core import signals
from django.db import close_old_connections
from django.test import Client, RequestFactory

from tests.factories import UserFactory

ONE = "/api/v1/verdicts/lots/{}/"
QUERY = "/api/v1/verdicts/query/"
CSRF_SECRET = "a" * 32


class Answer(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    handler: type | None

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def error(self) -> dict:
        return orjson.loads(self.body)["error"]

    def comparable(self):
        """Everything but the answer's time stamp."""
        return self.status, sorted(self.headers), re.sub(rb'"checked_at":"[^"]*"', b'"checked_at":"-"', self.body)


def serve(app, method: str, path: str, *, body: bytes = b"", headers: dict | None = None, secure: bool = True):
    request = RequestFactory().generic(method, path, data=body, content_type="application/json", secure=secure,
                                       headers=headers or {})
    # PATH_INFO as a WSGI server gives it: the path's UTF-8 bytes as latin-1 characters (RequestFactory passes a
    # non-ASCII path decoded)
    request.environ["PATH_INFO"] = path.split("?")[0].encode().decode("latin-1")
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"], started["headers"] = int(status.split()[0]), list(response_headers)

    # As Django's test client does: the test's transaction must survive the request signals.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = app(request.environ, start_response)
        content = b"".join(result)
        if hasattr(result, "close"):  # as the WSGI spec asks: a plain list (the fast path's answer) has none
            result.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return Answer(started["status"], started["headers"], content, getattr(result, "_handler_class", None))


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in client.cookies.items())


def signed_in(world, role="operator", username="op") -> dict:
    user = UserFactory(username=username, role=role, sites=[world["site"]]) if role else UserFactory(
        username=username, sites=[world["site"]])
    return {"Cookie": session_cookie(user)}


def with_csrf(headers: dict) -> dict:
    return {**headers, "Cookie": f"{headers['Cookie']}; csrftoken={CSRF_SECRET}", "X-CSRFToken": CSRF_SECRET,
            "Origin": "https://testserver"}


def batch(*codes) -> bytes:
    return orjson.dumps({"lots": list(codes)})
