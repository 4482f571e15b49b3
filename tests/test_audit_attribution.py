"""Who and why: every audited change names the session user, the machine token or the command behind it, with the
reason given — including changes recorded by django-simple-history's receiver."""
import io

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import include, path
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from qms.audit.chain import record_audit
from qms.audit.context import SYSTEM, Actor, acting_as, because, current_actor
from qms.auth.permissions import ANY_TOKEN
from qms.models import AuditEntry, Site, SiteMembership
from tests.factories import UserFactory, make_token


class CreateSiteView(APIView):
    """Saves a versioned model (Site) inside a request, as any API write does."""

    token_scopes = {"POST": ANY_TOKEN}
    user_perms = {"POST": []}

    def post(self, request):
        site = Site(code=request.data["code"], name="Plant")
        site._change_reason = request.data.get("reason", "")
        site.save()
        return Response({"id": site.pk, "actor_after": current_actor().label})


class CreateSiteAsEngineView(CreateSiteView):
    def post(self, request):
        with acting_as(Actor(label="rules-engine")):
            return super().post(request)


urlpatterns = [
    path("api/v1/test-create-site/", CreateSiteView.as_view()),
    path("api/v1/test-create-site-as-engine/", CreateSiteAsEngineView.as_view()),
    path("", include("qms.urls")),
]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def _entry_for(code: str) -> AuditEntry:
    site = Site.objects.get(code=code)
    return AuditEntry.objects.get(model="qms.Site", object_pk=str(site.pk), action="create")


def test_session_user_is_attributed(site):
    user = UserFactory(username="qe.wang", role="quality_engineer", sites=[site])
    client = APIClient()
    client.force_login(user)  # a real session cookie, as the browser sends
    assert client.post("/api/v1/test-create-site/", {"code": "N1"}, format="json").status_code == 200
    entry = _entry_for("N1")
    assert (entry.actor, entry.actor_user_id, entry.actor_token_id) == ("qe.wang", user.pk, None)
    assert Site.history.get(code="N1").history_user == user


def test_drf_authenticated_user_is_attributed(site):
    user = UserFactory(username="qe.li", sites=[site])
    client = APIClient()
    client.force_authenticate(user)  # authenticated by DRF only, after the middleware ran
    client.post("/api/v1/test-create-site/", {"code": "N2"}, format="json")
    assert _entry_for("N2").actor == "qe.li"


def test_machine_token_is_attributed_and_history_does_not_crash(site):
    token, raw = make_token(site, name="MES-1")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = client.post("/api/v1/test-create-site/", {"code": "N3"}, format="json")
    assert response.status_code == 200
    entry = _entry_for("N3")
    assert (entry.actor, entry.actor_user_id, entry.actor_token_id) == ("token:MES-1", None, token.pk)
    assert Site.history.get(code="N3").history_user is None  # a token is not a Django user


def test_reason_given_with_the_change_is_recorded(site):
    client = APIClient()
    client.force_login(UserFactory(sites=[site]))
    client.post("/api/v1/test-create-site/", {"code": "N4", "reason": "new plant in Suzhou"}, format="json")
    assert _entry_for("N4").reason == "new plant in Suzhou"


def test_actor_does_not_leak_past_the_request(site):
    client = APIClient()
    client.force_login(UserFactory(username="someone", sites=[site]))
    client.post("/api/v1/test-create-site/", {"code": "N5"}, format="json")
    assert current_actor() == SYSTEM


def test_management_command_is_attributed(site):
    UserFactory(username="op.zhao")
    last_seq = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    call_command("grant_role", user="op.zhao", role="operator", sites="S1", reason="new hire", stdout=io.StringIO())
    entries = AuditEntry.objects.filter(seq__gt=last_seq).order_by("seq")
    assert entries.count() == 2  # role granted, site membership created
    assert [e.actor.split("@")[0] for e in entries] == ["command:grant_role"] * 2
    assert [e.reason for e in entries] == ["new hire"] * 2


def test_acting_as_and_because_attribute_service_changes(db):
    with acting_as(Actor(label="celery:nightly", user_id=None), reason="nightly reconciliation"):
        entry = record_audit(action="update", model="m", object_pk=1)
    assert (entry.actor, entry.reason) == ("celery:nightly", "nightly reconciliation")
    with because("typo in the name"):
        Site.objects.create(code="N6", name="x")
    assert _entry_for("N6").reason == "typo in the name"
    assert _entry_for("N6").actor == "system"


def test_explicit_actor_wins_over_the_request_user(site):
    client = APIClient()
    client.force_login(UserFactory(username="sup", sites=[site]))
    client.post("/api/v1/test-create-site-as-engine/", {"code": "N7"}, format="json")
    assert _entry_for("N7").actor == "rules-engine"


def test_role_and_membership_changes_are_audited(site, other_site):
    user = UserFactory(username="u1")
    with acting_as(Actor(label="admin-ui", user_id=None), reason="promotion"):
        user.groups.add(Group.objects.get(name="supervisor"))
        user.groups.remove(Group.objects.get(name="supervisor"))
        membership = SiteMembership.objects.create(user=user, site=other_site)
        membership.delete()
        user.is_active = False
        user.save()
    changes = list(AuditEntry.objects.filter(actor="admin-ui").order_by("seq").values_list("changes", "site_id"))
    assert changes == [
        ({"roles": [None, "supervisor"]}, None),
        ({"roles": ["supervisor", None]}, None),
        ({"user": [None, "u1"], "site": [None, "S2"]}, other_site.pk),
        ({"user": ["u1", None], "site": ["S2", None]}, other_site.pk),
        ({"is_active": [True, False]}, None),
    ]


def test_password_changes_are_audited_without_the_hash(db):
    user = UserFactory(username="u2")
    user.set_password("another-Secret-2027")
    user.save()
    entry = AuditEntry.objects.filter(object_repr="u2").order_by("-seq").first()
    assert entry.changes == {"password": ["********", "********"]}
    assert user.password not in str(AuditEntry.objects.values_list("changes", flat=True))


def test_login_is_not_an_audited_change(site):
    UserFactory(username="u3", sites=[site])
    before = AuditEntry.objects.count()
    assert APIClient().login(username="u3", password="pw-Quality-2026")
    assert AuditEntry.objects.count() == before
