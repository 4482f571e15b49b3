"""The supervisor's part of closing the loop in a real browser (headless chromium) against the real stack: signed
in on /alarms/, the critical alarm of IMM02's drift appears without a reload, the supervisor clicks "Acknowledge"
and sees it acknowledged — and the alarm is acknowledged in the database, by them."""
import threading

import pytest
from django.db import connections

from tests.e2e import scenario
from tests.e2e.conftest import PASSWORDS

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.browser, pytest.mark.slow,
              pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = scenario.ALARM_TIMEOUT_S * 1000


def drift_in_thread(endpoint: str) -> None:
    """The simulator's control is asyncio: run it off this thread, which runs playwright's event loop."""
    failures = []

    def call():
        try:
            scenario.drift(endpoint)
        except Exception as error:  # reported below, in the test's thread
            failures.append(error)

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and not failures, f"the drift could not be triggered: {failures}"


def test_the_supervisor_sees_the_drift_alarm_arrive_and_acknowledges_it(plant, stack, browser):
    from qms.models import Alarm

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{stack.web_url}/accounts/login/")
    page.get_by_label("Username").fill("supervisor")
    page.get_by_label("Password").fill(PASSWORDS["supervisor"])
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{stack.web_url}/", timeout=TIMEOUT_MS)
    page.goto(f"{stack.web_url}/alarms/")
    page.wait_for_selector("body[data-alarm-live='live']", timeout=TIMEOUT_MS)
    assert page.locator("tr.alarm-row").count() == 0
    assert page.locator("#alarm-unack-count").inner_text() == "0"
    page.evaluate("window.__notReloaded = true")

    drift_in_thread(stack.opcua_endpoint)

    row = page.locator("tr.alarm-row.sev-critical.state-active_unacknowledged", has_text="IMM02.BARREL_Z2.TEMP")
    row.wait_for(timeout=TIMEOUT_MS)
    assert page.evaluate("window.__notReloaded") is True, "the alarm must arrive without a reload"
    assert page.locator("#alarm-unack-count").inner_text() == "1"
    alarm_id = int(row.get_attribute("data-alarm-id"))

    row.get_by_role("button", name="Acknowledge").click()
    acknowledged = page.locator(f"tr.alarm-row.state-acknowledged[data-alarm-id='{alarm_id}']")
    acknowledged.wait_for(timeout=TIMEOUT_MS)
    assert "supervisor" in acknowledged.inner_text()
    assert page.locator("#alarm-unack-count").inner_text() == "0"
    assert acknowledged.get_by_role("button", name="Acknowledge").count() == 0

    try:
        alarm = Alarm.objects.select_related("acknowledged_by").get(pk=alarm_id)
    finally:
        connections.close_all()   # opened under playwright's loop: pytest-django's teardown would not close it
    assert (alarm.state, alarm.acknowledged_by.username) == ("acknowledged", "supervisor")
