"""Site membership of users and hashed machine tokens (MES clients)."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .plant import Site


class SiteMembership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="site_memberships")
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "site"], name="membership_unique")]
        verbose_name = _("site membership")
        verbose_name_plural = _("site memberships")

    def __str__(self):
        return f"{self.user} @ {self.site}"


class ApiToken(models.Model):
    """A machine client's bearer token. Only the SHA-256 of the token is stored; the token is shown once."""

    class Scope(models.TextChoices):
        INGEST = "ingest", _("push measurements, lots and events")
        VERDICTS_READ = "verdicts:read", _("read lot verdicts")
        DICTIONARY_WRITE = "dictionary:write", _("change the data dictionary")
        METRICS_READ = "metrics:read", _("read operational metrics (Prometheus scraper)")
        HOLDS_WRITE = "holds:write", _("read and place holds, close hold windows (never sign)")
        ALARMS_READ = "alarms:read", _("read alarms and their event log")
        INSTRUCTIONS_READ = "instructions:read", _("read open MES instructions (containment/corrective actions)")

    name = models.CharField(_("name"), max_length=100)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="api_tokens")
    scopes = models.JSONField(_("scopes"), default=list)
    prefix = models.CharField(_("prefix"), max_length=16, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(_("reason for revocation"), blank=True)

    class Meta:
        ordering = ["site__code", "name"]
        constraints = [
            # Only live tokens need distinct names: a revoked MES-1 must not block issuing its replacement MES-1.
            models.UniqueConstraint(
                fields=["site", "name"], name="token_name_unique_per_site", condition=models.Q(revoked_at__isnull=True)
            ),
        ]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.site.code})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
