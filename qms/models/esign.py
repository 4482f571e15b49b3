"""Electronic signatures (21 CFR Part 11 style): who signed, what it meant, when, and a hash of what was signed.

Created only by `qms.services.esignature.sign(...)`, which re-checks the signer's password; never updated."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .plant import Site


class ESignature(models.Model):
    id = models.BigAutoField(primary_key=True)
    site = models.ForeignKey(Site, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("site"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("signed by"))
    signer_name = models.CharField(_("signer"), max_length=200,
                                   help_text=_("The signer's full name at the time of signing."))
    meaning = models.CharField(_("meaning"), max_length=300)
    record_model = models.CharField(_("record type"), max_length=100)
    record_pk = models.CharField(_("record"), max_length=64)
    content_hash = models.CharField(_("content hash"), max_length=64)
    signed_at = models.DateTimeField(_("signed at"))

    class Meta:
        ordering = ["-signed_at"]
        indexes = [models.Index(fields=["record_model", "record_pk"], name="esignature_record")]
        verbose_name = _("electronic signature")
        verbose_name_plural = _("electronic signatures")

    def __str__(self):
        return f"{self.signer_name}: {self.meaning} ({self.signed_at:%Y-%m-%d %H:%M})"
