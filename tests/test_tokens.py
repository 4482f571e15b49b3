"""Machine tokens: the commands, the Bearer authentication (revoked / expired / unknown → 401, missing scope → 403),
the admin tokens API and the issue/revoke services."""
import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import include, path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from qms.auth.permissions import ANY_TOKEN
from qms.auth.tokens import hash_token, issue_token, revoke_token
from qms.models import ApiToken, AuditEntry
from tests.factories import SiteFactory, UserFactory, make_token


class ScopedView(APIView):
    token_scopes = {"GET": "verdicts:read", "POST": "ingest", "PUT": ANY_TOKEN}
    user_perms = {"GET": [], "POST": [], "PUT": []}

    def get(self, request):
        return Response({"ok": True})

    post = put = get


urlpatterns = [path("api/v1/test-scoped/", ScopedView.as_view()), path("", include("qms.urls"))]
pytestmark = pytest.mark.urls(__name__)


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def run(command: str, **options) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(command, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


# --- create_api_token / revoke_api_token ---------------------------------------------------------------------------

def test_create_command_prints_the_token_once(site):
    out, err = run("create_api_token", name="MES-1", scopes="ingest,verdicts:read", site="S1")
    raw = out.strip()
    token = ApiToken.objects.get(name="MES-1")
    assert raw.startswith("qp_") and "\n" not in raw  # stdout carries the token alone: TOKEN=$(manage.py ...)
    assert token.token_hash == hash_token(raw)
    assert token.scopes == ["ingest", "verdicts:read"] and token.site == site
    assert "will not be shown again" in err
    assert raw not in err
    entry = AuditEntry.objects.get(model="qms.ApiToken", action="create")
    assert entry.actor.startswith("command:create_api_token@") and entry.site_id == site.pk


def test_create_command_token_authenticates(site):
    out, _err = run("create_api_token", name="MES-1", scopes="verdicts:read", site="S1")
    assert bearer(out.strip()).get("/api/v1/test-scoped/").status_code != 401


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scopes": "ingest,admin"}, "Unknown scope(s): admin"),
        ({"site": "S9"}, "Unknown site 'S9' (known sites: S1)"),
        ({"name": "  "}, "needs a name"),
    ],
)
def test_create_command_refuses_bad_input(site, options, message):
    arguments = {"name": "MES-1", "scopes": "ingest", "site": "S1", **options}
    with pytest.raises(CommandError) as failure:
        run("create_api_token", **arguments)
    assert message in str(failure.value)
    assert failure.value.returncode != 0
    assert not ApiToken.objects.exists()


def test_create_command_refuses_a_duplicate_live_name(site):
    run("create_api_token", name="MES-1", scopes="ingest", site="S1")
    with pytest.raises(CommandError, match="already has a live token named MES-1"):
        run("create_api_token", name="MES-1", scopes="ingest", site="S1")
    assert ApiToken.objects.count() == 1


def test_a_revoked_name_can_be_issued_again(site):
    run("create_api_token", name="MES-1", scopes="ingest", site="S1")
    run("revoke_api_token", name="MES-1", site="S1")
    run("create_api_token", name="MES-1", scopes="ingest", site="S1")
    assert ApiToken.objects.filter(name="MES-1").count() == 2
    assert ApiToken.objects.filter(name="MES-1", revoked_at__isnull=True).count() == 1


def test_create_command_with_expiry(site):
    run("create_api_token", name="MES-1", scopes="ingest", site="S1", expires_in_days=30)
    expires_at = ApiToken.objects.get().expires_at
    assert timezone.now() + dt.timedelta(days=29) < expires_at <= timezone.now() + dt.timedelta(days=30)


def test_revoke_command_revokes_and_audits(site):
    out, _err = run("create_api_token", name="MES-1", scopes="ingest", site="S1")
    run("revoke_api_token", name="MES-1", site="S1", reason="MES server replaced")
    token = ApiToken.objects.get()
    entry = AuditEntry.objects.filter(model="qms.ApiToken", action="transition").get()
    assert token.revoked_at is not None and token.revoke_reason == "MES server replaced"
    assert entry.reason == "MES server replaced"
    assert entry.actor.startswith("command:revoke_api_token@")
    assert entry.site_id == site.pk
    assert bearer(out.strip()).get("/api/v1/test-scoped/").status_code == 401


def test_revoke_command_names_what_it_cannot_find(site):
    with pytest.raises(CommandError, match="no live API token named 'MES-9'"):
        run("revoke_api_token", name="MES-9", site="S1")


def test_issue_is_audited_without_the_secret(site):
    token, raw = make_token(site, name="MES-1")
    entry = AuditEntry.objects.get(model="qms.ApiToken", action="create")
    assert entry.object_pk == str(token.pk) and entry.site_id == site.pk
    assert raw not in str(entry.changes) and token.token_hash not in str(entry.changes)


# --- Bearer authentication -----------------------------------------------------------------------------------------

def test_revoked_token_gets_401_with_a_clear_body(site):
    token, raw = make_token(site, scopes=("verdicts:read",))
    revoke_token(token.pk, user=None, reason="leaked")
    response = bearer(raw).get("/api/v1/test-scoped/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"
    assert "revoked" in response.json()["error"]["message"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_token_gets_401(site):
    token, raw = make_token(site, scopes=("verdicts:read",))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = bearer(raw).get("/api/v1/test-scoped/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


@pytest.mark.parametrize(
    ("header", "code"),
    [("Bearer qp_nope_nope", "unknown_token"), ("Bearer two parts", "malformed_token"), ("Bearer", "malformed_token")],
)
def test_bad_bearer_header_gets_401(db, header, code):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/test-scoped/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_token_without_the_scope_gets_403(site):
    _token, raw = make_token(site, scopes=("ingest",))
    response = bearer(raw).get("/api/v1/test-scoped/")
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "missing_scope", "message": "This token lacks the 'verdicts:read' scope."}


def test_token_with_the_scope_passes(site):
    _token, raw = make_token(site, scopes=("ingest",))
    assert bearer(raw).post("/api/v1/test-scoped/").status_code == 200


def test_any_token_endpoint_needs_no_scope(site):
    _token, raw = make_token(site, scopes=())
    assert bearer(raw).put("/api/v1/test-scoped/").status_code == 200


def test_method_not_declared_for_tokens_is_closed(site):
    _token, raw = make_token(site, scopes=("ingest", "verdicts:read", "dictionary:write"))
    response = bearer(raw).delete("/api/v1/test-scoped/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "token_not_allowed"


def test_use_touches_last_used_at(site):
    token, raw = make_token(site, scopes=("verdicts:read",))
    bearer(raw).get("/api/v1/test-scoped/")
    token.refresh_from_db()
    assert token.last_used_at is not None


# --- services --------------------------------------------------------------------------------------------------------

def test_revoke_service_requires_a_reason(site):
    token, _raw = make_token(site)
    with pytest.raises(ValidationError, match="why"):
        revoke_token(token.pk, user=None, reason="  ")


def test_revoke_service_refuses_to_revoke_twice(site):
    token, _raw = make_token(site)
    revoke_token(token.pk, user=None, reason="first")
    with pytest.raises(ValidationError, match="already revoked"):
        revoke_token(token.pk, user=None, reason="second")
    token.refresh_from_db()
    assert token.revoke_reason == "first"


def test_revoke_service_checks_the_users_site(site, other_site):
    token, _raw = make_token(site)
    admin_elsewhere = UserFactory(role="admin", sites=[other_site])
    with pytest.raises(PermissionDenied):
        revoke_token(token.pk, user=admin_elsewhere, reason="not mine")


def test_revoke_service_checks_the_users_role(site):
    token, _raw = make_token(site)
    operator = UserFactory(role="operator", sites=[site])
    with pytest.raises(PermissionDenied):
        revoke_token(token.pk, user=operator, reason="not allowed")


def test_issue_service_checks_the_users_site(site, other_site):
    admin_elsewhere = UserFactory(role="admin", sites=[other_site])
    with pytest.raises(PermissionDenied):
        issue_token(name="MES-1", site=site, scopes=["ingest"], created_by=admin_elsewhere)


def test_issue_service_refuses_a_past_expiry(site):
    with pytest.raises(ValidationError, match="future"):
        issue_token(name="MES-1", site=site, scopes=[], expires_at=timezone.now() - dt.timedelta(days=1))


# --- tokens API ------------------------------------------------------------------------------------------------------

@pytest.fixture
def admin(site):
    return UserFactory(username="admin1", role="admin", sites=[site])


@pytest.fixture
def admin_client(admin):
    client = APIClient()
    client.force_login(admin)
    return client


def test_api_lists_only_the_admins_sites(admin_client, site, other_site):
    make_token(site, name="MES-S1")
    make_token(other_site, name="MES-S2")
    response = admin_client.get("/api/v1/tokens/")
    assert response.status_code == 200
    assert [item["name"] for item in response.json()["results"]] == ["MES-S1"]
    assert "token_hash" not in response.json()["results"][0]


def test_api_issues_a_token_once(admin_client, admin, site):
    response = admin_client.post("/api/v1/tokens/", {"name": "MES-1", "scopes": ["ingest"]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("qp_") and body["site"] == "S1" and body["created_by"] == "admin1"
    assert response["Cache-Control"] == "no-store"
    detail = admin_client.get(f"/api/v1/tokens/{body['id']}/").json()
    assert "token" not in detail
    entry = AuditEntry.objects.get(model="qms.ApiToken", action="create")
    assert entry.actor == "admin1" and entry.actor_user_id == admin.pk


def test_api_refuses_unknown_scopes_and_duplicates(admin_client, site):
    make_token(site, name="MES-1")
    response = admin_client.post("/api/v1/tokens/", {"name": "MES-1", "scopes": ["root"]}, format="json")
    assert response.status_code == 400
    assert "scopes" in response.json()["error"]["details"]
    response = admin_client.post("/api/v1/tokens/", {"name": "MES-1", "scopes": ["ingest"]}, format="json")
    assert response.status_code == 400
    assert "already has a live token" in response.json()["error"]["details"]["name"][0]


def test_api_refuses_a_site_the_admin_does_not_belong_to(admin_client, other_site):
    response = admin_client.post("/api/v1/tokens/", {"name": "X", "site": "S2", "scopes": []}, format="json")
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


def test_api_revokes_with_a_reason(admin_client, admin, site):
    token, raw = make_token(site, scopes=("verdicts:read",))
    response = admin_client.post(f"/api/v1/tokens/{token.pk}/revoke/", {"reason": "leaked in a log"}, format="json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False and response.json()["revoked_by"] == "admin1"
    entry = AuditEntry.objects.get(model="qms.ApiToken", action="transition")
    assert (entry.actor, entry.reason) == ("admin1", "leaked in a log")
    assert bearer(raw).get("/api/v1/test-scoped/").status_code == 401


def test_api_revoke_needs_a_reason(admin_client, site):
    token, _raw = make_token(site)
    response = admin_client.post(f"/api/v1/tokens/{token.pk}/revoke/", {}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["details"]


def test_api_cannot_revoke_another_sites_token(admin_client, other_site):
    token, _raw = make_token(other_site)
    response = admin_client.post(f"/api/v1/tokens/{token.pk}/revoke/", {"reason": "x"}, format="json")
    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


@pytest.mark.parametrize("role", ["operator", "supervisor", "quality_engineer"])
def test_api_is_for_admins_only(site, role):
    client = APIClient()
    client.force_login(UserFactory(role=role, sites=[site]))
    assert client.get("/api/v1/tokens/").status_code == 403
    assert client.post("/api/v1/tokens/", {"name": "X", "scopes": []}, format="json").status_code == 403


def test_auditor_may_list_but_not_issue(site):
    client = APIClient()
    client.force_login(UserFactory(role="auditor", sites=[site]))
    assert client.get("/api/v1/tokens/").status_code == 200
    assert client.post("/api/v1/tokens/", {"name": "X", "scopes": []}, format="json").status_code == 403


def test_machine_tokens_can_never_manage_tokens(site):
    token, raw = make_token(site, scopes=("ingest", "verdicts:read", "dictionary:write"))
    client = bearer(raw)
    for response in (
        client.get("/api/v1/tokens/"),
        client.post("/api/v1/tokens/", {"name": "X", "scopes": ["ingest"]}, format="json"),
        client.post(f"/api/v1/tokens/{token.pk}/revoke/", {"reason": "x"}, format="json"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "token_not_allowed"
    assert ApiToken.objects.count() == 1


def test_superuser_sees_every_site(other_site):
    SiteFactory(code="S3")
    make_token(other_site, name="MES-S2")
    client = APIClient()
    client.force_login(UserFactory(username="root", is_superuser=True))
    assert [item["name"] for item in client.get("/api/v1/tokens/").json()["results"]] == ["MES-S2"]
