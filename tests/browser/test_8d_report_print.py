"""The 8D report printed by a real browser (chromium's print to PDF, A4): one page per step, no button bar."""
import re

import pytest

from tests.browser.support import PASSWORD, SCREENSHOTS
from tests.factories_reports import ReportPlant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_8d_report_prints_a_page_per_step(live_server, browser, transactional_db):
    plant = ReportPlant()
    capa = plant.capa(days_ago=12, approved=3)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("engineer")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/")

    page.goto(f"{live_server.url}/capas/{capa.pk}/report/")
    assert page.locator(".toolbar").is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".toolbar").is_visible()  # the buttons stay off the paper
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    pdf = page.pdf(format="A4", path=str(SCREENSHOTS / "8d-report.pdf"))
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 10  # header + D0 on the first page, D1…D8 and the closure each on their own
