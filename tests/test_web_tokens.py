"""API token pages: admins list the site's tokens, issue one (shown once), revoke with a reason."""
import pytest
from django.urls import reverse

from qms.auth.tokens import hash_token
from qms.models import ApiToken
from tests.factories import make_token
from tests.web_support import signed_in, user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(site):
    return signed_in(user_with_role("admin", site))


def test_list_shows_the_sites_tokens_only(admin_web, site, other_site):
    make_token(site, name="MES-1")
    make_token(other_site, name="MES-FOREIGN")
    html = admin_web.get(reverse("token-list")).content.decode()
    assert "MES-1" in html
    assert "MES-FOREIGN" not in html


def test_issuing_shows_the_raw_token_once(admin_web, site):
    response = admin_web.post(reverse("token-create"), {"name": "MES-2", "scopes": ["ingest", "verdicts:read"]})
    raw = response.context["raw"]
    token = ApiToken.objects.get(site=site, name="MES-2")
    assert token.token_hash == hash_token(raw)
    assert token.scopes == ["ingest", "verdicts:read"]
    assert raw in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert raw not in admin_web.get(reverse("token-list")).content.decode()


def test_issuing_a_duplicate_live_name_is_refused(admin_web, site):
    make_token(site, name="MES-1")
    response = admin_web.post(reverse("token-create"), {"name": "MES-1", "scopes": ["ingest"]})
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    assert ApiToken.objects.filter(site=site, name="MES-1").count() == 1


def test_quality_engineer_cannot_manage_tokens(engineer):
    client = signed_in(engineer)
    assert client.get(reverse("token-list")).status_code == 403
    assert client.post(reverse("token-create"), {"name": "X", "scopes": ["ingest"]}).status_code == 403


def test_revoking_needs_a_reason(admin_web, site):
    token, _raw = make_token(site, name="MES-1")
    response = admin_web.post(reverse("token-revoke", args=[token.pk]), {"reason": ""})
    assert response.status_code == 400
    token.refresh_from_db()
    assert token.revoked_at is None


def test_revoking_with_a_reason_closes_the_api_to_the_token(admin_web, site, api_client):
    token, raw = make_token(site, name="MES-1")
    admin_web.post(reverse("token-revoke", args=[token.pk]), {"reason": "MES server replaced"})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert token.revoke_reason == "MES server replaced"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/v1/characteristics/").status_code == 401


def test_revoking_another_sites_token_is_not_found(admin_web, other_site):
    token, _raw = make_token(other_site, name="MES-FOREIGN")
    assert admin_web.post(reverse("token-revoke", args=[token.pk]), {"reason": "x"}).status_code == 404
