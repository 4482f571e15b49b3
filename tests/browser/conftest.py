"""The browser every browser test drives (Debian's chromium through playwright), and a real ASGI server for pages
with websockets."""
from functools import partial

import pytest
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.db import connections


@pytest.fixture
def browser(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's ORM calls stay synchronous. Set only for
    # these tests: in the process environment it would leak into subprocesses (and fail `check --deploy`).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def _application():
    from channels.routing import get_default_application

    return ASGIStaticFilesHandler(get_default_application())


def _fresh_after_fork():
    """In the forked server: thread pools created by earlier async tests lost their threads in the fork."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)


@pytest.fixture
def asgi_server(transactional_db, settings):
    """daphne in a child process serving HTTP and websockets; needs PostgreSQL (shared with the child) and Redis
    (the channel layer between the test process, which raises/ingests, and the server)."""
    from daphne.testing import DaphneProcess

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost", "127.0.0.1"]
    connections.close_all()  # the forked server opens its own connections to the same (test) database
    # Nor may it inherit channel layers whose Redis pools belong to an event loop of an earlier (async) test.
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    process = DaphneProcess("127.0.0.1", partial(_application), setup=_fresh_after_fork)
    process.start()
    assert process.ready.wait(timeout=30), "daphne did not start"
    yield f"http://127.0.0.1:{process.port.value}"
    process.terminate()
    process.join(timeout=10)
