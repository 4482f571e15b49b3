"""The five roles: installed idempotently as groups, every named permission exists, duties are separated, and
`grant_role` gives users a role and sites."""
import io

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command

from qms.auth import roles
from qms.models import SiteMembership
from tests.factories import SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


def _perms(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {f"{app}.{code}" for app, code in group.permissions.values_list("content_type__app_label", "codename")}


def test_every_role_exists_as_a_group():
    assert set(Group.objects.filter(name__in=roles.ROLES).values_list("name", flat=True)) == set(roles.ROLES)


def test_every_permission_named_in_a_role_exists():
    assert roles.missing_role_permissions() == {}


def test_groups_hold_exactly_the_declared_permissions():
    for role, declared in roles.ROLE_PERMISSIONS.items():
        assert _perms(role) == set(declared), role


def test_ensure_roles_is_idempotent_and_repairs_hand_edits():
    group = Group.objects.get(name=roles.OPERATOR)
    group.permissions.add(Permission.objects.get(codename="delete_characteristic"))
    roles.ensure_roles()
    roles.ensure_roles()
    assert _perms(roles.OPERATOR) == set(roles.ROLE_PERMISSIONS[roles.OPERATOR])
    assert Group.objects.filter(name=roles.OPERATOR).count() == 1


@pytest.mark.parametrize(
    ("role", "allowed", "refused"),
    [
        (roles.OPERATOR, ["qms.add_measurement", "traceability.add_lot", "qms.view_characteristic"],
         ["qms.change_characteristic", "qms.view_auditentry", "qms.add_apitoken"]),
        (roles.SUPERVISOR, ["qms.add_measurement", "qms.view_deadletter"],
         ["qms.change_characteristic", "qms.add_apitoken"]),
        (roles.QUALITY_ENGINEER, ["qms.change_characteristic", "qms.change_deadletter", "qms.add_product"],
         ["qms.add_apitoken", "qms.view_auditentry", "auth.change_user"]),
        (roles.AUDITOR, ["qms.view_auditentry", "qms.view_apitoken", "qms.view_characteristic"],
         ["qms.add_measurement", "qms.change_characteristic", "qms.add_apitoken", "auth.change_user"]),
        (roles.ADMIN, ["qms.add_apitoken", "qms.change_apitoken", "qms.add_sitemembership", "auth.change_user",
                       "qms.add_equipment", "qms.view_auditentry"],
         ["qms.change_characteristic", "qms.add_measurement", "qms.change_deadletter", "traceability.change_lot"]),
    ],
)
def test_role_matrix(role, allowed, refused):
    user = UserFactory(role=role)
    assert all(user.has_perm(perm) for perm in allowed), [p for p in allowed if not user.has_perm(p)]
    assert not any(user.has_perm(perm) for perm in refused), [p for p in refused if user.has_perm(p)]


def test_no_role_may_change_or_delete_audit_entries():
    for role in roles.ROLES:
        assert not ({"qms.change_auditentry", "qms.delete_auditentry", "qms.add_auditentry"} & _perms(role)), role


def test_extend_roles_adds_permissions_without_duplicates(monkeypatch):
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, roles.SUPERVISOR, list(roles.ROLE_PERMISSIONS[roles.SUPERVISOR]))
    roles.extend_roles({roles.SUPERVISOR: ["qms.change_deadletter", "qms.change_deadletter"]})
    roles.ensure_roles()
    assert "qms.change_deadletter" in _perms(roles.SUPERVISOR)
    assert roles.ROLE_PERMISSIONS[roles.SUPERVISOR].count("qms.change_deadletter") == 1


def test_extend_roles_refuses_unknown_roles():
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        roles.extend_roles({"boss": ["qms.view_site"]})


# --- grant_role ----------------------------------------------------------------------------------------------------

def _grant(**options) -> str:
    out = io.StringIO()
    call_command("grant_role", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def test_grant_role_gives_role_and_sites():
    SiteFactory(code="S1"), SiteFactory(code="S2")
    user = UserFactory(username="li")
    out = _grant(user="li", role="supervisor", sites="S1,S2")
    assert list(user.groups.values_list("name", flat=True)) == ["supervisor"]
    assert set(SiteMembership.objects.filter(user=user).values_list("site__code", flat=True)) == {"S1", "S2"}
    assert "li: roles supervisor; sites S1, S2." in out


def test_grant_role_is_idempotent():
    SiteFactory(code="S1")
    user = UserFactory(username="li")
    _grant(user="li", role="operator", sites="S1")
    _grant(user="li", role="operator", sites="S1")
    assert user.groups.count() == 1 and SiteMembership.objects.filter(user=user).count() == 1


def test_grant_role_revokes_and_removes_sites():
    SiteFactory(code="S1"), SiteFactory(code="S2")
    user = UserFactory(username="li", role="auditor", sites=[])
    _grant(user="li", role="operator", sites="S1,S2")
    _grant(user="li", role="operator", revoke=True, remove_sites="S2")
    assert list(user.groups.values_list("name", flat=True)) == ["auditor"]
    assert list(SiteMembership.objects.filter(user=user).values_list("site__code", flat=True)) == ["S1"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"user": "nobody", "role": "operator"}, "Unknown user 'nobody'"),
        ({"user": "li", "sites": "S9"}, "Unknown site 'S9'"),
        ({"user": "li"}, "Nothing to do"),
        ({"user": "li", "revoke": True, "sites": "S1"}, "--revoke needs --role"),
    ],
)
def test_grant_role_refuses_bad_input(options, message):
    SiteFactory(code="S1")
    UserFactory(username="li")
    with pytest.raises(CommandError, match=message.replace("(", r"\(")):
        _grant(**options)


def test_grant_role_refuses_unknown_roles():
    UserFactory(username="li")
    with pytest.raises(CommandError, match="Unknown role 'boss'; roles are quality_engineer"):
        _grant(user="li", role="boss")
