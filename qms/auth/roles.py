"""The five roles as Django groups with their permissions. Installed after every migrate (idempotent).

The groups are defined here, in code: `ensure_roles` resets each role group to exactly these permissions, so a
permission added to a role group by hand is removed at the next migrate. Site-specific needs get an extra group.

Roles separate duties (21 CFR Part 11 / ISO 9001 practice): the admin runs the system (plant structure, users,
site memberships, machine tokens) but does not change quality records; someone who needs both holds both roles.
Which sites a user sees is not a role: it is the user's SiteMembership rows (see qms.auth.scoping).

Other apps add their models' permissions from their AppConfig.ready():
    from qms.auth.roles import SUPERVISOR, extend_roles
    extend_roles({SUPERVISOR: ["spc.change_alarm"]})
"""
from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

QUALITY_ENGINEER = "quality_engineer"
SUPERVISOR = "supervisor"
OPERATOR = "operator"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (QUALITY_ENGINEER, SUPERVISOR, OPERATOR, AUDITOR, ADMIN)


def _perms(app: str, actions: str, *models: str) -> list[str]:
    return [f"{app}.{action}_{model}" for model in models for action in actions.split()]


# Read access to the operational records of the user's sites.
VIEW_OPERATIONS = (
    _perms("qms", "view", "site", "area", "line", "workcenter", "equipment", "product", "operation", "characteristic",
           "measurement", "equipmentstateevent", "cycletimerecord", "deadletter", "ingestbatch")
    + _perms("traceability", "view", "lot", "lotrun", "genealogyedge")
)
# What the shop floor records (also what an MES pushes with the `ingest` scope).
RECORD_PRODUCTION = (
    _perms("qms", "add", "measurement", "equipmentstateevent", "cycletimerecord")
    + _perms("traceability", "add change", "lot", "lotrun")
    + _perms("traceability", "add", "genealogyedge")
)
# The data dictionary and the correction of rejected data: quality engineering.
MAINTAIN_QUALITY_DATA = (
    _perms("qms", "add change delete", "characteristic")
    + _perms("qms", "change", "deadletter")
    + _perms("qms", "add change", "product", "operation")
)
# Reviewing the trail and who may access what (read-only).
REVIEW_TRAIL = (
    _perms("qms", "view", "auditentry", "apitoken", "sitemembership")
    + _perms("auth", "view", "user", "group")
)
# Running the system: plant structure, users and their sites, machine tokens.
ADMINISTER = (
    _perms("qms", "add change", "site", "area", "line", "workcenter", "equipment")
    + _perms("qms", "view add change", "apitoken")
    + _perms("qms", "view add change delete", "sitemembership")
    + _perms("auth", "view add change", "user")
    + _perms("auth", "view", "group")
    + _perms("qms", "view", "auditentry")
)

# Closing the loop: everyone on the floor sees alarms, rules, holds and signatures; supervisors respond to alarms and
# place holds; releasing held lots (e-signed) and configuring reaction rules is quality engineering.
VIEW_REACTIONS = (
    _perms("qms", "view", "alarm", "alarmevent", "reactionrule", "esignature")
    + _perms("traceability", "view", "hold", "holdlot", "serialnumber")
)
RESPOND_TO_ALARMS = _perms("qms", "change", "alarm") + _perms("traceability", "add change", "hold")
RECORD_SERIALS = _perms("traceability", "add", "serialnumber")
ENGINEER_REACTIONS = (
    _perms("qms", "add change delete", "reactionrule") + ["traceability.release_hold"]
)

# Nonconformance and 8D CAPA: everyone reads; the floor reports NCs, attaches evidence and completes its tasks;
# quality engineering runs the NC/CAPA records; the MRB (engineers and supervisors) approves dispositions.
VIEW_IMPROVEMENT = _perms("qms", "view", "nonconformance", "nclot", "disposition", "dispositionapproval",
                          "defectcode", "attachment", "capa", "capastep", "rootcause", "action")
REPORT_NONCONFORMANCE = _perms("qms", "add", "nonconformance", "attachment") + _perms("qms", "change", "action")
RUN_IMPROVEMENT = (
    _perms("qms", "add change", "nonconformance", "nclot", "disposition", "capa", "capastep", "rootcause", "action",
           "defectcode", "attachment")
    + ["qms.approve_capastep"]
)
MRB_MEMBER = ["qms.approve_disposition"]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATOR: VIEW_OPERATIONS + RECORD_PRODUCTION + VIEW_REACTIONS + RECORD_SERIALS + VIEW_IMPROVEMENT
    + REPORT_NONCONFORMANCE,
    SUPERVISOR: VIEW_OPERATIONS + RECORD_PRODUCTION + VIEW_REACTIONS + RECORD_SERIALS + RESPOND_TO_ALARMS
    + VIEW_IMPROVEMENT + REPORT_NONCONFORMANCE + MRB_MEMBER,
    QUALITY_ENGINEER: VIEW_OPERATIONS + RECORD_PRODUCTION + MAINTAIN_QUALITY_DATA + VIEW_REACTIONS + RECORD_SERIALS
    + RESPOND_TO_ALARMS + ENGINEER_REACTIONS + VIEW_IMPROVEMENT + REPORT_NONCONFORMANCE + RUN_IMPROVEMENT + MRB_MEMBER,
    AUDITOR: VIEW_OPERATIONS + REVIEW_TRAIL + VIEW_REACTIONS + VIEW_IMPROVEMENT,
    ADMIN: VIEW_OPERATIONS + ADMINISTER,
}


def extend_roles(grants: dict[str, list[str]]) -> None:
    """Add permissions ("app_label.codename") to roles; call from an AppConfig.ready(). Idempotent."""
    for role, perm_names in grants.items():
        if role not in ROLE_PERMISSIONS:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        for name in perm_names:
            if name not in ROLE_PERMISSIONS[role]:
                ROLE_PERMISSIONS[role].append(name)


def role_permission_query(perm_names) -> Q:
    query = Q(pk__in=[])
    for name in perm_names:
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    return query


def ensure_roles(**_kwargs) -> None:
    """Create the role groups and set their permissions (post_migrate; runs once per migrated app, so a permission
    of an app migrated later is picked up by that app's run)."""
    for role, perm_names in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set(Permission.objects.filter(role_permission_query(perm_names)))


def missing_role_permissions() -> dict[str, list[str]]:
    """Permissions named in a role that do not exist in the database (a typo or a removed model)."""
    existing = {f"{app}.{code}" for app, code in Permission.objects.values_list("content_type__app_label", "codename")}
    missing = {role: sorted(set(perms) - existing) for role, perms in ROLE_PERMISSIONS.items()}
    return {role: perms for role, perms in missing.items() if perms}
