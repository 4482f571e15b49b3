"""Chart data endpoint (decimation keeps every signalled point, site scoping), the chart and overview pages, the
overview tile, and limit revisions made from the page (audited with their reason)."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from qms.models import AuditEntry
from spc.models import ChartPoint, LimitRevision, Signal
from spc.services.capability import refresh_capability
from spc.tasks import evaluate_points
from tests.factories import CharacteristicFactory, UserFactory, make_token, user_client
from tests.spc.live_support import BASE, chart_with_limits, eager_evaluation, post_values, ts  # noqa: F401 (fixture)
from tests.web_support import signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_evaluation")]

OUTLIERS = {250: 234.0, 1000: 226.0, 1750: 234.5}


def seed(characteristic, count=2000):
    """`count` judged I-MR points around 230 with three beyond the limits (fake measurement ids: the chart reads
    only chart points)."""
    chart_with_limits(characteristic, center=230.0, sigma=1.0, rules=["WE1"], dispersion_rules=[])
    rows = [[10_000 + i, ts(i), OUTLIERS.get(i, 230.0 + 0.3 * ((i * 7) % 5 - 2)), "L-A" if i < 1000 else "L-B"]
            for i in range(count)]
    evaluate_points(characteristic.site_id, {str(characteristic.pk): rows})


def chart_url(characteristic, query=""):
    return f"/api/v1/spc/characteristics/{characteristic.pk}/chart/{query}"


def test_the_chart_endpoint_decimates_but_keeps_every_signalled_point(characteristic, engineer_client):
    seed(characteristic)
    body = engineer_client.get(chart_url(characteristic, "?max_points=120")).json()
    main = body["charts"][0]
    assert body["total_points"] == 2000 and body["decimated"]
    assert body["returned_points"] <= 120 + len(OUTLIERS)
    assert len(main["x"]) == len(main["y"]) == len(main["ucl"]) == body["returned_points"]
    signalled = {s["value"] for s in body["signals"] if s["chart"] == "i"}
    assert signalled == set(OUTLIERS.values())
    assert signalled <= set(main["y"])
    assert max(main["y"]) == 234.5 and min(main["y"]) == 226.0
    assert main["ucl"][0] == pytest.approx(233.0) and main["sigma"][0] == pytest.approx(1.0)
    assert {s["rule"] for s in body["signals"]} == {"WE1"}
    assert "beyond" in body["signals"][0]["description"]


def test_the_chart_endpoint_without_decimation_returns_every_point(characteristic, engineer_client):
    seed(characteristic, count=300)
    body = engineer_client.get(chart_url(characteristic)).json()
    assert (body["total_points"], body["returned_points"], body["decimated"]) == (300, 300, False)
    assert body["charts"][1]["y"][0] is None  # the first moving range is undefined


def test_the_chart_endpoint_filters_by_time_and_lot(characteristic, engineer_client):
    seed(characteristic, count=300)
    since = (BASE + timedelta(seconds=100)).isoformat().replace("+", "%2B")
    assert engineer_client.get(chart_url(characteristic, f"?since={since}")).json()["total_points"] == 200
    assert engineer_client.get(chart_url(characteristic, "?lot=L-B")).json()["total_points"] == 0
    assert engineer_client.get(chart_url(characteristic, "?lot=L-A")).json()["total_points"] == 300


def test_the_chart_endpoint_refuses_a_bad_range(characteristic, engineer_client):
    seed(characteristic, count=10)
    response = engineer_client.get(chart_url(characteristic, "?since=yesterday"))
    assert response.status_code == 400 and "since" in response.json()["error"]["details"]
    assert engineer_client.get(chart_url(characteristic, "?max_points=5")).status_code == 400


def test_another_sites_chart_answers_404_to_users_and_tokens(characteristic, other_site):
    seed(characteristic, count=10)
    stranger = UserFactory(username="s2-engineer", role="quality_engineer", sites=[other_site])
    assert user_client(stranger).get(chart_url(characteristic)).status_code == 404
    _token, raw = make_token(other_site, scopes=("ingest",), name="S2-MES")
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(chart_url(characteristic)).status_code == 404
    assert client.get("/api/v1/spc/signals/").json()["results"] == []


def test_signals_are_listed_for_the_own_site(characteristic, mes_client):
    seed(characteristic, count=300)
    body = mes_client.get("/api/v1/spc/signals/?rule=WE1").json()
    assert [s["value"] for s in body["results"]] == [234.0]
    assert body["results"][0]["characteristic"] == characteristic.code


def test_capability_endpoint_reports_indices_with_intervals(characteristic, engineer_client, mes_client):
    chart_with_limits(characteristic, center=230.0, sigma=1.0)
    post_values(mes_client, characteristic.code, [230.0 + 0.5 * ((i * 7) % 9 - 4) for i in range(60)])
    body = engineer_client.get(f"/api/v1/spc/characteristics/{characteristic.pk}/capability/").json()["capability"]
    assert body["n"] == 60
    within = body["indices"]["within"]
    assert within["Cpk"] > 0 and within["Cpk_ci"][0] < within["Cpk"] < within["Cpk_ci"][1]
    assert sum(body["histogram"]["counts"]) == 60 and len(body["curve"]["y"]) == len(body["curve"]["x"])


def test_the_chart_page_renders_with_the_local_plotly_bundle(characteristic, engineer):
    seed(characteristic, count=50)
    response = signed_in(engineer).get(f"/spc/characteristics/{characteristic.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/vendor/plotly/plotly.min.js" in html and "cdn" not in html.lower()
    assert f"/ws/spc/characteristics/{characteristic.pk}/" in html
    assert "known standard for the test" in html  # the revision list with its reason


def test_the_chart_page_of_another_site_is_404(characteristic, other_site):
    stranger = UserFactory(username="s2-viewer", role="operator", sites=[other_site])
    assert signed_in(stranger).get(f"/spc/characteristics/{characteristic.pk}/").status_code == 404


def test_overview_lists_cpk_and_last_signal_sortable(site, characteristic, engineer, mes_client):
    seed(characteristic, count=300)
    capable = CharacteristicFactory(site=site, code="IMM01.PART.WEIGHT", lsl=48.0, usl=49.0, nominal=48.5,
                                    physical_max=100.0, precision=2)
    chart_with_limits(capable, center=48.5, sigma=0.05)
    post_values(mes_client, capable.code, [48.5 + 0.02 * ((i * 7) % 5 - 2) for i in range(40)])
    post_values(mes_client, characteristic.code, [230.0 + 1.5 * ((i * 7) % 5 - 2) for i in range(40)], start=5000)
    for c in (capable, characteristic):
        refresh_capability(c.chart_config, force=True)
    page = signed_in(engineer).get("/spc/?o=-cpk").content.decode()
    assert page.index("IMM01.PART.WEIGHT") < page.index(characteristic.code)
    page = signed_in(engineer).get("/spc/?o=cpk").content.decode()
    assert page.index(characteristic.code) < page.index("IMM01.PART.WEIGHT")
    assert "WE1" in page


def test_the_overview_tile_counts_signals_of_the_last_24_hours(characteristic, engineer):
    seed(characteristic, count=300)
    Signal.objects.update(created_at=Signal.objects.first().created_at)
    home = signed_in(engineer).get("/").content.decode()
    assert "SPC signals, last 24 h" in home and "/spc/" in home


def test_limits_from_a_baseline_period_via_the_page_are_audited(characteristic, engineer, mes_client):
    chart_with_limits(characteristic, center=230.0, sigma=1.0)
    post_values(mes_client, characteristic.code, [230.0 + 0.4 * ((i * 7) % 5 - 2) for i in range(30)] + [240.0])
    client = signed_in(engineer)
    local = BASE.astimezone(ZoneInfo(characteristic.site.timezone))  # the page reads times in the site's zone
    form = {"method": "baseline", "start": (local - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
            "end": (local + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"), "exclude_out_of_control": "on"}
    refused = client.post(f"/spc/characteristics/{characteristic.pk}/limits/", form)
    assert refused.status_code == 400 and LimitRevision.objects.count() == 1
    response = client.post(f"/spc/characteristics/{characteristic.pk}/limits/", {**form, "reason": "PPAP run 12"})
    assert response.status_code == 302
    revision = LimitRevision.objects.get(number=2)
    assert revision.method == "baseline" and revision.baseline_count == 31 and revision.excluded_count >= 1
    assert revision.created_by == engineer.username
    assert abs(revision.limits["center"] - 230.0) < 0.2
    entry = AuditEntry.objects.filter(model="spc.LimitRevision", object_pk=str(revision.pk)).get()
    assert entry.reason == "PPAP run 12" and entry.site_id == characteristic.site_id


def test_an_operator_cannot_revise_limits(characteristic, site):
    chart_with_limits(characteristic)
    operator = UserFactory(username="op", role="operator", sites=[site])
    response = signed_in(operator).post(f"/spc/characteristics/{characteristic.pk}/limits/",
                                        {"method": "spec", "reason": "x"})
    assert response.status_code == 403


def test_changing_the_chart_type_via_the_page_waits_for_new_limits(characteristic, engineer):
    chart_with_limits(characteristic)
    response = signed_in(engineer).post(f"/spc/characteristics/{characteristic.pk}/configure/", {
        "chart_type": "xbar_r", "subgroup_size": 5, "subgrouping": "count", "rules": ["WE1", "N2"],
        "reason": "five parts per shot now measured"})
    assert response.status_code == 302
    config = characteristic.chart_config
    config.refresh_from_db()
    assert (config.chart_type, config.subgroup_size, config.rules, config.dispersion_rules) == (
        "xbar_r", 5, ["WE1", "N2"], ["WE1"])
    assert config.live.revision is None
    assert ChartPoint.objects.count() == 0


def test_ewma_limits_widen_point_by_point_and_cusum_draws_both_sums(site, engineer_client, mes_client,
                                                                   django_capture_on_commit_callbacks):
    ewma = CharacteristicFactory(site=site, code="IMM01.EWMA.TEMP")
    chart_with_limits(ewma, chart_type="ewma", rules=["EWMA"], params={"lambda": 0.2, "L": 3.0})
    with django_capture_on_commit_callbacks(execute=True):
        post_values(mes_client, ewma.code, [230.0 + 0.2 * (i % 3) for i in range(20)])
    (chart,) = engineer_client.get(chart_url(ewma)).json()["charts"]
    widths = [u - c for u, c in zip(chart["ucl"], chart["center"], strict=True)]
    assert chart["name"] == "ewma" and widths == sorted(widths) and widths[0] == pytest.approx(3 * 0.2)
    assert widths[-1] == pytest.approx(3 * (0.2 / 1.8) ** 0.5, rel=1e-3)  # → Lσ√(λ/(2−λ))

    cusum = CharacteristicFactory(site=site, code="IMM01.CUSUM.TEMP")
    chart_with_limits(cusum, chart_type="cusum", rules=["CUSUM"], params={"k": 0.5, "h": 5.0})
    with django_capture_on_commit_callbacks(execute=True):  # a 1σ shift: C⁺ grows by 0.5σ per point
        post_values(mes_client, cusum.code, [231.0] * 12)
    body = engineer_client.get(chart_url(cusum)).json()
    assert [c["name"] for c in body["charts"]] == ["cusum_pos", "cusum_neg"]
    assert body["charts"][0]["y"][:3] == pytest.approx([0.5, 1.0, 1.5]) and body["charts"][0]["ucl"][0] == 5.0
    assert {s["rule"] for s in body["signals"]} == {"CUSUM"}
    assert body["signals"][0]["points"][0] == 0  # dated back to where the sum left zero


def test_after_a_chart_type_change_the_chart_shows_the_new_series_only(characteristic, engineer_client):
    from spc.services.config import configure_chart
    from spc.services.limits import limits_from_standard

    seed(characteristic, count=30)
    config = configure_chart(characteristic, chart_type="xbar_r", subgroup_size=5, reason="now 5 parts per shot")
    assert engineer_client.get(chart_url(characteristic)).json()["total_points"] == 0
    limits_from_standard(config, center=230.0, sigma=1.0, reason="new chart")
    rows = [[20_000 + i, ts(100 + i), 230.0, ""] for i in range(10)]
    evaluate_points(characteristic.site_id, {str(characteristic.pk): rows})
    body = engineer_client.get(chart_url(characteristic)).json()
    assert [c["name"] for c in body["charts"]] == ["xbar", "r"] and body["total_points"] == 2
    assert [r["number"] for r in body["revisions"]] == [2]
