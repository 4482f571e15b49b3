"""Access-control changes go into the audit trail too: user accounts, role (group) grants and site memberships.

Whoever grants a role or a site changes what someone may do to quality records, so it is recorded whichever way
it happens (grant_role command, Django admin, web UI). Passwords are never recorded, only that one changed.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from qms.audit.chain import record_audit
from qms.models import SiteMembership

User = get_user_model()
_TRACKED_USER_FIELDS = ("username", "email", "first_name", "last_name", "is_active", "is_staff", "is_superuser")
_MASK = "********"


@receiver(pre_save, sender=User, dispatch_uid="qms.audit.user_pre_save")
def _remember_user_before(sender, instance, update_fields=None, **kwargs):
    if instance.pk is None or (update_fields is not None and set(update_fields) <= {"last_login"}):
        instance._qp_audit_before = None
        return
    instance._qp_audit_before = sender.objects.filter(pk=instance.pk).values(*_TRACKED_USER_FIELDS, "password").first()


@receiver(post_save, sender=User, dispatch_uid="qms.audit.user_post_save")
def _audit_user(sender, instance, created, update_fields=None, **kwargs):
    if created:
        changes = {name: [None, getattr(instance, name)] for name in _TRACKED_USER_FIELDS if getattr(instance, name)}
        action = "create"
    else:
        before = getattr(instance, "_qp_audit_before", None)
        if before is None:
            return
        changes = {name: [before[name], getattr(instance, name)] for name in _TRACKED_USER_FIELDS
                   if before[name] != getattr(instance, name)}
        if before["password"] != instance.password:
            changes["password"] = [_MASK, _MASK]
        if not changes:
            return
        action = "update"
    record_audit(action=action, model=User._meta.label, object_pk=instance.pk, object_repr=instance.get_username(),
                 changes=changes)


@receiver(post_delete, sender=User, dispatch_uid="qms.audit.user_post_delete")
def _audit_user_deleted(sender, instance, **kwargs):
    record_audit(action="delete", model=User._meta.label, object_pk=instance.pk, object_repr=instance.get_username(),
                 changes={"username": [instance.get_username(), None]})


@receiver(m2m_changed, sender=User.groups.through, dispatch_uid="qms.audit.user_groups")
def _audit_roles(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action == "pre_clear":
        # The cleared set is only knowable before it is cleared.
        instance._qp_cleared = set(
            instance.user_set.values_list("pk", flat=True) if reverse else instance.groups.values_list("pk", flat=True)
        )
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    pks = getattr(instance, "_qp_cleared", set()) if action == "post_clear" else set(pk_set or ())
    if not pks:
        return
    granted = action == "post_add"
    if reverse:  # group.user_set.add(users...)
        pairs = [(user, instance) for user in User.objects.filter(pk__in=pks)]
    else:  # user.groups.add(groups...)
        pairs = [(instance, group) for group in Group.objects.filter(pk__in=pks)]
    for user, group in pairs:
        record_audit(
            action="update", model=User._meta.label, object_pk=user.pk, object_repr=user.get_username(),
            changes={"roles": [None, group.name] if granted else [group.name, None]},
        )


@receiver(post_save, sender=SiteMembership, dispatch_uid="qms.audit.membership_saved")
def _audit_membership(sender, instance, created, **kwargs):
    if created:
        record_audit(action="create", model=SiteMembership._meta.label, object_pk=instance.pk,
                     object_repr=str(instance), site_id=instance.site_id,
                     changes={"user": [None, instance.user.get_username()], "site": [None, instance.site.code]})


@receiver(post_delete, sender=SiteMembership, dispatch_uid="qms.audit.membership_deleted")
def _audit_membership_removed(sender, instance, **kwargs):
    record_audit(action="delete", model=SiteMembership._meta.label, object_pk=instance.pk,
                 object_repr=str(instance), site_id=instance.site_id,
                 changes={"user": [instance.user.get_username(), None], "site": [instance.site.code, None]})
