"""The frame of the web UI: sign-in, navigation by role, site switcher, language switcher, landing page."""
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from qms.auth.scoping import SESSION_SITE_KEY
from qms.models import Measurement
from tests.factories import CharacteristicFactory, LotRunFactory, UserFactory
from tests.web_support import reject_items, signed_in, user_with_role

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_sign_in_with_password_lands_on_overview(client, site):
    UserFactory(username="qe", role="quality_engineer", sites=[site])
    response = client.post(reverse("login"), {"username": "qe", "password": "pw-Quality-2026"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Demo plant" in response.content.decode()


def test_sign_in_page_labels_its_fields(client, db):
    html = client.get(reverse("login")).content.decode()
    assert '<label for="id_username"' in html
    assert '<label for="id_password"' in html


def test_sign_out_ends_the_session(engineer):
    client = signed_in(engineer)
    client.post(reverse("logout"))
    assert client.get(reverse("home")).status_code == 302


def test_site_switcher_offers_only_the_users_sites(engineer, other_site):
    html = signed_in(engineer).get(reverse("home")).content.decode()
    assert "Demo plant" in html
    assert "Other plant" not in html


def test_switching_to_a_site_of_the_user_changes_the_current_site(site, other_site):
    user = user_with_role("quality_engineer", site, other_site)
    client = signed_in(user)
    response = client.post(reverse("switch-site"), {"site": other_site.pk, "next": "/dictionary/"})
    assert response["Location"] == "/dictionary/"
    assert client.session[SESSION_SITE_KEY] == other_site.pk
    assert "Other plant (S2)" in client.get(reverse("home")).content.decode()


def test_switching_to_a_foreign_site_is_refused(engineer, other_site):
    client = signed_in(engineer)
    response = client.post(reverse("switch-site"), {"site": other_site.pk})
    assert response.status_code == 400
    assert SESSION_SITE_KEY not in client.session


def test_site_switch_never_redirects_off_site(engineer, site):
    response = signed_in(engineer).post(reverse("switch-site"), {"site": site.pk, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_user_without_site_is_told_to_ask_an_administrator(db):
    user = UserFactory(username="lonely", role="quality_engineer")
    response = signed_in(user).get(reverse("home"))
    assert response.status_code == 403
    assert "do not belong to any site" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "visible", "hidden"),
    [
        ("operator", ["Data dictionary", "Dead letters"], ["Audit trail", "API tokens"]),
        ("auditor", ["Audit trail"], ["API tokens"]),
        ("admin", ["Data dictionary", "Dead letters", "Audit trail", "API tokens"], []),
    ],
)
def test_navigation_shows_what_the_role_may_open(site, role, visible, hidden):
    html = signed_in(user_with_role(role, site)).get(reverse("home")).content.decode()
    nav = html.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    for label in visible:
        assert label in nav
    for label in hidden:
        assert label not in nav


def test_navigation_marks_the_current_page(engineer):
    html = signed_in(engineer).get(reverse("dictionary-list")).content.decode()
    assert f'href="{reverse("dictionary-list")}" aria-current="page"' in html


def test_every_page_links_the_api_docs(engineer):
    assert 'href="/api/docs/"' in signed_in(engineer).get(reverse("home")).content.decode()


def test_language_switch_is_offered_in_both_languages(engineer):
    html = signed_in(engineer).get(reverse("home")).content.decode()
    assert 'name="language" value="zh-hans"' in html
    assert 'name="language" value="en"' in html


def test_overview_counts_the_sites_morning_figures(site, other_site, equipment, characteristic):
    CharacteristicFactory(site=site, code="IMM01.MOULD.TEMP", status="draft")
    CharacteristicFactory(site=other_site, code="IMM09.MOULD.TEMP")
    now = timezone.now()
    Measurement.objects.create(characteristic=characteristic, ts=now - timedelta(hours=1), value=230.0,
                               source="t", received_at=now)
    Measurement.objects.create(characteristic=characteristic, ts=now - timedelta(hours=30), value=230.0,
                               source="t", received_at=now)
    reject_items(site, [{"characteristic": "NOPE.X.Y", "value": 1, "ts": now.isoformat()}])
    LotRunFactory(lot__site=site, lot__code="L-RUN", equipment=equipment, started_at=now - timedelta(hours=2))
    LotRunFactory(lot__site=site, lot__code="L-DONE", equipment=equipment, started_at=now - timedelta(hours=9),
                  ended_at=now - timedelta(hours=5))
    admin = user_with_role("admin", site)

    response = signed_in(admin).get(reverse("home"))

    tiles = {str(tile.label): tile.value for tile in response.context["tiles"]}
    assert tiles["Characteristics"] == 1  # released; the draft is counted in the hint
    assert tiles["Measurements, last 24 h"] == 1
    assert tiles["Open dead letters"] == 1
    assert tiles["Lots running now"] == 1
    assert [run.lot.code for run in response.context["running_runs"]] == ["L-RUN"]


def test_overview_lists_recent_changes_for_auditors(site, characteristic):
    response = signed_in(user_with_role("auditor", site)).get(reverse("home"))
    assert characteristic.code in [entry.object_repr for entry in response.context["audit_entries"]]


def test_overview_names_characteristics_gone_silent(site, characteristic):
    characteristic.update_period_s = 1.0
    characteristic.save()
    response = signed_in(user_with_role("quality_engineer", site)).get(reverse("home"))
    assert [c.code for c in response.context["silent"]] == [characteristic.code]


def test_times_are_shown_in_the_sites_time_zone(site, engineer):
    site.timezone = "Asia/Shanghai"
    site.save()
    assert "Asia/Shanghai" in signed_in(engineer).get(reverse("home")).content.decode()


def test_one_local_stylesheet_and_no_external_assets(engineer):
    html = signed_in(engineer).get(reverse("home")).content.decode()
    assert html.count('rel="stylesheet"') == 1
    assert "/static/css/qp.css" in html
    assert "http://" not in html and "https://" not in html
