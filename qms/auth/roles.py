"""The five roles as Django groups with their permissions. Installed after every migrate (idempotent).

Later issues extend ROLE_PERMISSIONS with their own models' permissions.
"""
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

QUALITY_ENGINEER = "quality_engineer"
SUPERVISOR = "supervisor"
OPERATOR = "operator"
AUDITOR = "auditor"
ADMIN = "admin"
ROLES = (QUALITY_ENGINEER, SUPERVISOR, OPERATOR, AUDITOR, ADMIN)

_VIEW_ALL = [
    "qms.view_site", "qms.view_area", "qms.view_line", "qms.view_workcenter", "qms.view_equipment",
    "qms.view_product", "qms.view_operation", "qms.view_characteristic", "qms.view_measurement",
    "qms.view_equipmentstateevent", "qms.view_cycletimerecord", "qms.view_deadletter",
    "traceability.view_lot", "traceability.view_lotrun", "traceability.view_genealogyedge",
]
_PRODUCTION_WRITE = [
    "qms.add_measurement", "qms.add_equipmentstateevent", "qms.add_cycletimerecord",
    "traceability.add_lot", "traceability.change_lot", "traceability.add_lotrun", "traceability.change_lotrun",
    "traceability.add_genealogyedge",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    OPERATOR: _VIEW_ALL + _PRODUCTION_WRITE,
    SUPERVISOR: _VIEW_ALL + _PRODUCTION_WRITE,
    QUALITY_ENGINEER: _VIEW_ALL + _PRODUCTION_WRITE + [
        "qms.add_characteristic", "qms.change_characteristic", "qms.delete_characteristic",
        "qms.change_deadletter", "qms.add_product", "qms.change_product", "qms.add_operation", "qms.change_operation",
    ],
    AUDITOR: _VIEW_ALL + ["qms.view_auditentry"],
    ADMIN: _VIEW_ALL + _PRODUCTION_WRITE + [
        "qms.add_characteristic", "qms.change_characteristic", "qms.delete_characteristic", "qms.change_deadletter",
        "qms.view_auditentry", "qms.view_apitoken", "qms.add_apitoken", "qms.change_apitoken",
        "qms.add_site", "qms.change_site", "qms.add_area", "qms.change_area", "qms.add_line", "qms.change_line",
        "qms.add_workcenter", "qms.change_workcenter", "qms.add_equipment", "qms.change_equipment",
        "qms.add_product", "qms.change_product", "qms.add_operation", "qms.change_operation",
        "qms.add_sitemembership", "qms.change_sitemembership", "qms.delete_sitemembership",
    ],
}


def ensure_roles(**_kwargs) -> None:
    for role, perm_names in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        query = Q()
        for name in perm_names:
            app_label, codename = name.split(".", 1)
            query |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(query))
