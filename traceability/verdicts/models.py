"""What the verdict work keeps in the database (imported by traceability.models so Django registers them).

LotVerdict        the verdict last published for a lot (what MES was told): gives each change its `previous` and a
                  per-lot change number for the push's idempotency key. Written only by note_lots_changed.
PendingVerdictPublication
                  a big hold change (SITE_WIDE_FROM lots or more) whose LotVerdict bookkeeping and push to MES run
                  right after its commit instead of inside it (write_through.py): written in the hold's transaction,
                  so the publication survives a crash between the commit and the task.
VerdictCacheState one row: the epoch of the Redis verdict cache. A writer that could not mark its lots dirty in Redis
                  clears it (inside its transaction); readers compare it with the epoch in Redis and distrust the cache
                  until a rebuild sets a new one.
"""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class LotVerdict(models.Model):
    lot = models.OneToOneField("traceability.Lot", on_delete=models.CASCADE, primary_key=True,
                               related_name="published_verdict", verbose_name=_("lot"))
    site = models.ForeignKey("qms.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    verdict = models.CharField(_("verdict"), max_length=10, blank=True,
                               help_text=_("Empty until the lot's first hold change."))
    change = models.PositiveIntegerField(_("change number"), default=0)
    changed_at = models.DateTimeField(_("changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("published lot verdict")
        verbose_name_plural = _("published lot verdicts")

    def __str__(self):
        return f"{self.lot_id}: {self.verdict or '-'} (#{self.change})"


class PendingVerdictPublication(models.Model):
    site = models.ForeignKey("qms.Site", on_delete=models.CASCADE, related_name="+", verbose_name=_("site"))
    # The lot ids as packed little-endian int64 (write_through.pack_ids): 50,000 ids are 400 kB and cost microseconds
    # to write, where a JSON list or one row per lot would cost the freeze what deferring saves.
    packed_lot_ids = models.BinaryField(_("lot ids"))
    lot_count = models.PositiveIntegerField(_("lots"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("pending verdict publication")
        verbose_name_plural = _("pending verdict publications")

    def __str__(self):
        return f"{self.lot_count} lots of site {self.site_id} ({self.created_at:%Y-%m-%d %H:%M:%S})"


class VerdictCacheState(models.Model):
    SINGLETON_ID = 1

    epoch = models.CharField(_("cache epoch"), max_length=40, blank=True)
    rebuilt_at = models.DateTimeField(_("rebuilt at"), null=True, blank=True)
    invalidated_at = models.DateTimeField(_("invalidated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("verdict cache state")
        verbose_name_plural = _("verdict cache state")

    def __str__(self):
        return self.epoch or "-"
