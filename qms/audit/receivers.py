"""Bridge from django-simple-history (versions of every audited model) to the hash-chained audit trail."""
from __future__ import annotations

from django.dispatch import receiver
from simple_history.signals import post_create_historical_record

from qms.audit.chain import record_audit
from qms.audit.context import current_reason

_ACTIONS = {"+": "create", "~": "update", "-": "delete"}


_SITE_PATHS = (
    "site_id", "area.site_id", "line.area.site_id", "work_center.line.area.site_id", "product.site_id",
    "lot.site_id", "child.site_id", "characteristic.site_id", "equipment.site_id", "connector.site_id",
)


def site_id_of(instance) -> int | None:
    """The site a record belongs to, following the plant hierarchy where the model has no site of its own.

    A model whose site lies elsewhere defines an `audit_site_id` property; entries with no site are global.
    """
    explicit = getattr(instance, "audit_site_id", None)
    if explicit is not None:
        return explicit
    for path in _SITE_PATHS:
        obj = instance
        try:
            for attr in path.split("."):
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        if obj is not None:
            return obj
    if instance.__class__.__name__ == "Site":
        return instance.pk
    return None


def _field_values(historical) -> dict:
    values = {}
    for field in historical.instance_type._meta.concrete_fields:
        values[field.attname] = getattr(historical, field.attname, None)
    return values


@receiver(post_create_historical_record)
def audit_historical_record(sender, instance, history_instance, **kwargs):
    action = _ACTIONS.get(history_instance.history_type, "update")
    after = _field_values(history_instance)
    previous = history_instance.prev_record if action != "create" else None
    before = _field_values(previous) if previous is not None else {}
    if action == "create":
        changes = {k: [None, v] for k, v in after.items() if v not in (None, "")}
    elif action == "delete":
        changes = {k: [v, None] for k, v in after.items() if v not in (None, "")}
    else:
        changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
        changes.pop("updated_at", None)
    reason = history_instance.history_change_reason or current_reason()
    record_audit(
        action=action,
        model=instance._meta.label,
        object_pk=instance.pk,
        object_repr=str(instance),
        site_id=site_id_of(instance),
        changes=changes,
        reason=reason or "",
    )


from qms.audit import access  # noqa: E402,F401  (connects the access-control receivers: users, roles, memberships)
