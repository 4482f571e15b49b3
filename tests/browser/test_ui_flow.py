"""The web UI in a real browser (Debian's chromium driven by playwright) against pytest-django's live server.

One walk through what a quality engineer does on a tablet: sign in, switch to Chinese, open the data dictionary,
import a file with a bad row and see the problem, then correct and replay a dead letter. Screenshots of the pages
are written to QP_SCREENSHOT_DIR (default /tmp/qualitypulse-screenshots) for a human to judge the look.
"""
from datetime import timedelta

import pytest
from django.utils import timezone

from qms.models import DeadLetter, Measurement
from tests.browser.support import PASSWORD, SCREENSHOTS
from tests.factories import CharacteristicFactory, EquipmentFactory, SiteFactory, UserFactory
from tests.web_support import reject_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]





@pytest.fixture
def plant(transactional_db):
    site = SiteFactory(code="S1", name="Suzhou demo plant")
    equipment = EquipmentFactory(code="IMM01", work_center__line__area__site=site, site=site)
    characteristic = CharacteristicFactory(site=site, code="IMM01.BARREL_Z2.TEMP", equipment=equipment)
    CharacteristicFactory(site=site, code="IMM01.PART.WEIGHT", name_en="Part weight", name_zh="产品重量", unit="g",
                          precision=2, nominal=48.5, lsl=48.2, usl=48.8, physical_max=1000.0, criticality="ctq",
                          equipment=equipment)
    UserFactory(username="engineer", role="quality_engineer", sites=[site])
    UserFactory(username="admin", role="admin", sites=[site])
    return site, characteristic


def sign_in(page, base_url: str, username: str = "engineer"):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")


def shoot(page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_engineer_walks_through_the_ui_in_chinese(live_server, browser, plant):
    site, characteristic = plant
    ts = (timezone.now() - timedelta(minutes=3)).isoformat()
    (letter_id,) = reject_items(site, [{"characteristic": characteristic.code, "value": 999.0, "ts": ts}])
    page = browser.new_page(viewport={"width": 1024, "height": 768})

    sign_in(page, live_server.url)
    assert page.locator("h1").inner_text().startswith("Suzhou demo plant")
    shoot(page, "landing-en-1024")

    page.locator(".lang-switch button[value='zh-hans']").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "zh-Hans"
    assert "数据字典" in page.locator("nav.mainnav").inner_text()
    shoot(page, "landing-zh-1024")

    page.locator("nav.mainnav a", has_text="数据字典").click()
    page.wait_for_url(f"{live_server.url}/dictionary/")
    assert "IMM01.PART.WEIGHT" in page.locator("table").inner_text()
    assert "产品重量" in page.locator("table").inner_text()
    shoot(page, "dictionary-zh-1024")

    page.locator("a[href='/dictionary/import/']").click()
    page.set_input_files("input[type=file]", files=[{
        "name": "dictionary.csv", "mimeType": "text/csv",
        "buffer": "code,name_en,name_zh,unit,precision,lsl,nominal,usl\n"
                  "IMM01.MOULD.TEMP,Mould temperature,模具温度,°C,1,55,60,65\n"
                  "IMM01.SCREW.CUSHION,Cushion,余料量,mm,2,6,5,4\n".encode(),
    }])
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/dictionary/import/*/")
    bad_row = page.locator("tr.row-problem")
    assert bad_row.count() == 1
    assert "IMM01.SCREW.CUSHION" in bad_row.inner_text()
    assert bad_row.locator(".errorlist li").count() >= 1
    shoot(page, "import-preview-zh-1024")

    page.locator("nav.mainnav a[href='/dead-letters/']").click()
    page.wait_for_url(f"{live_server.url}/dead-letters/")
    assert characteristic.code in page.locator("table").inner_text()
    shoot(page, "dead-letters-zh-1024")
    page.locator(f"a[href='/dead-letters/{letter_id}/']").first.click()
    page.locator("textarea[name=payload]").fill(
        f'{{"characteristic": "{characteristic.code}", "value": 231.4, "ts": "{ts}"}}')
    shoot(page, "dead-letter-detail-zh-1024")
    page.locator(f"form[action='/dead-letters/{letter_id}/replay/'] button[type=submit]").click()
    page.wait_for_url(f"{live_server.url}/dead-letters/")
    assert page.locator(".message-success").count() == 1

    assert DeadLetter.objects.get(pk=letter_id).status == "replayed"
    assert Measurement.objects.get(characteristic=characteristic).value == 231.4


@pytest.mark.parametrize(("username", "pages"), [
    ("engineer", (("/", "landing"), ("/dictionary/", "dictionary"), ("/dictionary/new/", "dictionary-form"),
                  ("/dead-letters/", "dead-letters"))),
    ("admin", (("/audit/", "audit"), ("/tokens/", "tokens"))),
])
@pytest.mark.parametrize("width", [1024, 768])
def test_pages_fit_a_tablet(live_server, browser, plant, username, pages, width):
    """Nothing may force the page to scroll sideways (wide tables scroll inside their own box)."""
    page = browser.new_page(viewport={"width": width, "height": 768 if width > 800 else 1024})
    sign_in(page, live_server.url, username)
    for path, name in pages:
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        shoot(page, f"{name}-en-{width}")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width}px"
