"""The chart page updates live: a real ASGI server (daphne, in a child process) serves the page and its websocket;
values ingested in the test process are judged, the nudge crosses the Redis channel layer, and the page redraws
with the new points and signal without a reload. Needs PostgreSQL (shared with the child) and Redis."""
import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from qms.services.ingest import ingest_measurements
from tests.browser import test_spc_chart as chart_page
from tests.spc import live_support

charted = chart_page.charted
eager_evaluation = live_support.eager_evaluation

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("eager_evaluation")]


def ingest_in_thread(characteristic, values, start):
    """Ingest from another thread: this one runs playwright's event loop, where async_to_sync (the websocket
    push) may not run."""
    items = [{"characteristic": characteristic.code, "value": v, "ts": (start + timedelta(seconds=i)).isoformat()}
             for i, v in enumerate(values)]
    thread = threading.Thread(target=lambda: (ingest_measurements(site=characteristic.site, items=items,
                                                                 source="token:MES-2"), connections.close_all()))
    thread.start()
    thread.join(timeout=30)


def test_the_chart_redraws_when_new_points_arrive(asgi_server, browser, charted):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    chart_page.sign_in(page, asgi_server)
    page.goto(f"{asgi_server}/spc/characteristics/{charted.pk}/")
    page.wait_for_selector("#spc-chart[data-points='200']", timeout=20000)
    page.wait_for_selector("#spc-live-status.badge-good", timeout=10000)
    signals_before = int(page.locator("#spc-chart").get_attribute("data-signals"))

    ingest_in_thread(charted, [48.5, 48.52, 48.9], timezone.now() - timedelta(seconds=30))

    page.wait_for_selector("#spc-chart[data-points='203']", timeout=10000)
    assert int(page.locator("#spc-chart").get_attribute("data-signals")) > signals_before
    chart_page.shoot(page, "spc-chart-live-en-1280")
