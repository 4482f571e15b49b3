"""The append-only, hash-chained audit trail (21 CFR Part 11 style). Written only by qms.audit.chain."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", _("create")
        UPDATE = "update", _("update")
        DELETE = "delete", _("delete")
        TRANSITION = "transition", _("state change")
        SIGN = "sign", _("electronic signature")

    seq = models.BigAutoField(primary_key=True)
    ts = models.DateTimeField(_("time"))
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    actor_token = models.ForeignKey("qms.ApiToken", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.CharField(_("who"), max_length=150)
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    model = models.CharField(_("record type"), max_length=100)
    object_pk = models.CharField(_("record id"), max_length=64)
    object_repr = models.CharField(_("record"), max_length=200)
    site = models.ForeignKey("qms.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    changes = models.JSONField(_("changes"), default=dict)
    reason = models.TextField(_("why"), blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["model", "object_pk"], name="audit_record"),
            models.Index(fields=["site", "ts"], name="audit_site_ts"),
        ]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit entries are append-only.")


class AuditChainHead(models.Model):
    """A single row locked while appending, so concurrent writers extend the chain one at a time."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_hash = models.CharField(max_length=64)
    last_seq = models.BigIntegerField(default=0)
