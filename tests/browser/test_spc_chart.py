"""The control chart page in a real browser (Debian's chromium via playwright): plotly draws the chart from the
JSON endpoint, signalled points are marked and their hover text names the rule, the capability panel shows the
histogram and indices. Screenshots go to QP_SCREENSHOT_DIR for a human to judge the look."""
from datetime import timedelta

import pytest
from django.utils import timezone

from qms.services.ingest import ingest_measurements
from spc.models import Signal
from spc.services.limits import limits_from_standard
from tests.browser.support import PASSWORD, SCREENSHOTS
from tests.factories import CharacteristicFactory, EquipmentFactory, SiteFactory, UserFactory
from tests.spc.live_support import chart_with_limits, eager_evaluation  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_evaluation")]





@pytest.fixture
def charted(transactional_db):
    """A part weight charted I-MR with known limits and 200 values through the real ingestion, two of them out."""
    site = SiteFactory(code="S1", name="Suzhou demo plant")
    machine = EquipmentFactory(code="IMM01", work_center__line__area__site=site, site=site)
    characteristic = CharacteristicFactory(site=site, code="IMM01.PART.WEIGHT", name_en="Part weight", unit="g",
                                           precision=2, nominal=48.5, lsl=48.2, usl=48.8, physical_max=1000.0,
                                           equipment=machine)
    chart_with_limits(characteristic, center=48.5, sigma=0.05, rules=["WE1", "WE2", "WE3", "WE4"])
    start = timezone.now() - timedelta(hours=4)
    values = [48.5 + 0.04 * (((i * 7919) % 11) - 5) / 5 for i in range(200)]
    values[120], values[170] = 48.71, 48.31
    items = [{"characteristic": characteristic.code, "value": round(v, 2), "ts": (start + timedelta(minutes=i)).isoformat(),
              "lot": f"L-{i // 50:03d}"} for i, v in enumerate(values)]
    ingest_measurements(site=site, items=items[:150], source="token:MES-1")
    limits_from_standard(characteristic.chart_config, center=48.5, sigma=0.045, reason="mould cleaned; sigma re-set")
    ingest_measurements(site=site, items=items[150:], source="token:MES-1")
    UserFactory(username="engineer", role="quality_engineer", sites=[site])
    return characteristic


def sign_in(page, base_url: str):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill("engineer")
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("form.card button[type=submit]").click()
    page.wait_for_url(f"{base_url}/")


def shoot(page, name: str):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_chart_page_draws_the_signals_with_the_rule_on_hover(live_server, browser, charted):
    assert set(Signal.objects.filter(chart="i").values_list("rule", flat=True)) >= {"WE1"}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/spc/characteristics/{charted.pk}/")
    page.wait_for_selector("#spc-chart[data-ready='true']", timeout=20000)
    traces = page.evaluate("""() => document.getElementById('spc-chart').data.map(t => ({
        name: t.name, type: t.type, meta: t.meta || null, count: (t.x || []).length, text: t.text || null}))""")
    points = next(t for t in traces if t["name"].startswith("Individual"))
    assert points["type"] == "scattergl" and points["count"] == 200
    marked = [t for t in traces if t["meta"] == "signals"]
    assert marked and marked[0]["count"] >= 2
    hover = " ".join(marked[0]["text"])
    assert "WE1: 1 point beyond the 3σ control limits" in hover
    assert any(t["name"] == "UCL" for t in traces) and any(t["name"] == "±2σ" for t in traces)
    assert page.locator("#spc-histogram .main-svg").count() > 0
    assert page.locator("#spc-capability").inner_text().count("Cpk") == 1
    marks = page.evaluate("document.getElementById('spc-chart').layout.annotations.map(a => a.text)")
    assert "Limits rev. 2" in marks  # where the second revision's limits start
    assert page.locator("#spc-signals tbody tr").count() == Signal.objects.count()
    first_x = page.evaluate("document.getElementById('spc-chart').data[0].x[0]")
    assert first_x.endswith("+08:00")  # drawn in the plant's time zone (Asia/Shanghai), like the rest of the UI
    shoot(page, "spc-chart-en-1280")

    page.locator("#spc-lot").fill("L-003")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_selector("#spc-chart[data-points='50']", timeout=10000)

    page.set_viewport_size({"width": 1024, "height": 768})
    page.wait_for_timeout(500)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    shoot(page, "spc-chart-en-1024")
    page.set_viewport_size({"width": 768, "height": 1024})
    page.wait_for_timeout(500)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    shoot(page, "spc-chart-en-768")

    page.goto(f"{live_server.url}/spc/")
    assert page.locator("table.spc-overview").inner_text().count("IMM01.PART.WEIGHT") == 1
    shoot(page, "spc-overview-en-1024")
