"""The supervisor's live alarm page in a real browser, served by a real ASGI server (daphne, forked): alarms raised
through the alarm service in the test process appear without a reload (nudge over the Redis channel layer), the
unacknowledged count rises and falls, acknowledge works from the list, and a page that lost its connection shows
everything raised meanwhile once it is back. Needs PostgreSQL (shared with the server) and Redis."""
import threading

import pytest
from django.db import connections

from tests.browser.support import PASSWORD, SCREENSHOTS
from tests.live.support import Plant, raise_one

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def plant(transactional_db):
    return Plant()


def raise_in_thread(site, numbers, **kwargs):
    """Raise from another thread: this one runs playwright's event loop, where async_to_sync (the nudge) may not."""
    raised = []

    def work():
        try:
            raised.extend(raise_one(site, n, **kwargs) for n in numbers)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=60)
    return raised


def open_live_page(browser, base_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill("supervisor")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")
    page.goto(f"{base_url}/alarms/")
    page.wait_for_selector("#alarm-live-status.badge-good", timeout=15000)
    return context, page


def unacknowledged(page) -> int:
    return int(page.locator("#alarm-unack-count").inner_text())


def test_a_raised_alarm_appears_without_reload_and_is_acknowledged_from_the_list(asgi_server, browser, plant):
    context, page = open_live_page(browser, asgi_server)
    assert unacknowledged(page) == 0
    [raised] = raise_in_thread(plant.site, [1], equipment=plant.machine)

    row = page.locator(f"tr[data-alarm-id='{raised.alarm.pk}']")
    row.wait_for(timeout=10000)
    assert "Barrel zone 2 deviation #1" in row.inner_text()
    assert unacknowledged(page) == 1
    assert page.title().startswith("(1) ")
    assert page.locator("#alarm-rows").get_attribute("data-sounds") == "1"  # a critical alarm calls for sound
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "alarms-live-en-1280.png"), full_page=True)

    row.locator("button.alarm-ack").click()
    page.wait_for_selector(f"tr[data-alarm-id='{raised.alarm.pk}'][data-state='acknowledged']", timeout=10000)
    assert unacknowledged(page) == 0
    assert not page.title().startswith("(")
    assert "supervisor" in page.locator(f"tr[data-alarm-id='{raised.alarm.pk}']").inner_text()

    page.locator(f"tr[data-alarm-id='{raised.alarm.pk}'] a").click()
    page.wait_for_url(f"{asgi_server}/alarms/{raised.alarm.pk}/")
    assert page.locator("#alarm-events li").evaluate_all("items => items.map(i => i.dataset.kind)") == [
        "raised", "acknowledged"]
    page.screenshot(path=str(SCREENSHOTS / "alarm-detail-en-1280.png"), full_page=True)
    context.close()


def test_a_page_that_lost_its_connection_shows_every_alarm_raised_meanwhile(asgi_server, browser, plant):
    context, page = open_live_page(browser, asgi_server)
    context.set_offline(True)
    page.wait_for_function("document.body.dataset.alarmLive === 'down'", timeout=15000)

    raised = raise_in_thread(plant.site, range(1, 6))

    context.set_offline(False)
    page.wait_for_selector("#alarm-live-status.badge-good", timeout=20000)
    for r in raised:
        page.locator(f"tr[data-alarm-id='{r.alarm.pk}']").wait_for(timeout=10000)
    assert unacknowledged(page) == 5
    context.close()


def test_the_sound_choice_is_remembered_across_reloads(asgi_server, browser, plant):
    context, page = open_live_page(browser, asgi_server)
    toggle = page.locator("#alarm-sound-toggle")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    page.reload()
    page.wait_for_selector("#alarm-live-status.badge-good", timeout=15000)
    assert page.locator("#alarm-sound-toggle").get_attribute("aria-pressed") == "true"
    context.close()
