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


def field_values(obj, model) -> dict:
    """`obj`'s value of each concrete field of `model` (by attname): a model instance or one of its history records."""
    return {field.attname: getattr(obj, field.attname, None) for field in model._meta.concrete_fields}


def audited_changes(action: str, after: dict, before: dict | None = None) -> dict:
    """The `changes` of an audit entry: every set field for a create or delete, the differing ones for an update."""
    if action == "create":
        return {k: [None, v] for k, v in after.items() if v not in (None, "")}
    if action == "delete":
        return {k: [v, None] for k, v in after.items() if v not in (None, "")}
    before = before or {}
    changes = {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
    changes.pop("updated_at", None)
    return changes


def record_model_change(action: str, instance, *, after: dict, before: dict | None = None, reason: str = ""):
    """Append the audit entry of one saved model change — for writers that bypass simple-history's signals (bulk)."""
    return record_audit(
        action=action,
        model=instance._meta.label,
        object_pk=instance.pk,
        object_repr=str(instance),
        site_id=site_id_of(instance),
        changes=audited_changes(action, after, before),
        reason=reason or current_reason() or "",
    )


@receiver(post_create_historical_record)
def audit_historical_record(sender, instance, history_instance, **kwargs):
    action = _ACTIONS.get(history_instance.history_type, "update")
    model = history_instance.instance_type
    previous = history_instance.prev_record if action == "update" else None
    record_model_change(
        action, instance,
        after=field_values(history_instance, model),
        before=field_values(previous, model) if previous is not None else {},
        reason=history_instance.history_change_reason or "",
    )


from qms.audit import access  # noqa: E402,F401  (connects the access-control receivers: users, roles, memberships)
