"""Actions (tasks) with owners and due dates across NCs and CAPAs. An action tied to equipment or an operation and
flagged for MES is an instruction MES can read (GET /api/v1/instructions/) and is pushed through the write-back."""
from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from .capa import Capa, CapaStep, RootCause
from .dictionary import ActorStampedHistory, stamp_history_actor
from .nc import Nonconformance
from .plant import Equipment, Operation, Site


class Action(models.Model):
    class Kind(models.TextChoices):
        CONTAINMENT = "containment", _("containment")
        CORRECTIVE = "corrective", _("corrective")
        PREVENTIVE = "preventive", _("preventive")
        VERIFICATION = "verification", _("verification")
        OTHER = "other", _("other")

    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("done")
        CANCELLED = "cancelled", _("cancelled")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="actions", verbose_name=_("site"))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.CORRECTIVE)
    nc = models.ForeignKey(Nonconformance, on_delete=models.PROTECT, null=True, blank=True, related_name="actions",
                           verbose_name=_("NC"))
    capa = models.ForeignKey(Capa, on_delete=models.PROTECT, null=True, blank=True, related_name="actions",
                             verbose_name=_("CAPA"))
    capa_step = models.CharField(_("8D step"), max_length=2, blank=True)
    root_cause = models.ForeignKey(RootCause, on_delete=models.PROTECT, null=True, blank=True, related_name="actions",
                                   verbose_name=_("root cause addressed"))
    verification = models.TextField(_("verification"), blank=True,
                                    help_text=_("How we check that this action works."))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="qp_actions",
                              verbose_name=_("owner"))
    due_date = models.DateField(_("due date"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("completed by"))
    completion_note = models.TextField(_("completion note"), blank=True)
    # MES feedback: an open instruction for this equipment/operation.
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("equipment"))
    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                  verbose_name=_("operation"))
    mes_instruction = models.BooleanField(_("instruction for MES"), default=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["owner", "state", "due_date"], name="action_my_tasks"),
            models.Index(fields=["equipment", "state"], name="action_instructions"),
        ]
        verbose_name = _("action")
        verbose_name_plural = _("actions")

    def __str__(self):
        return self.title


# Who changed a CAPA, step, cause or action (also a machine token) — shown by the stale-version message.
for _model in (Capa, CapaStep, RootCause, Action):
    pre_create_historical_record.connect(stamp_history_actor, sender=_model.history.model,
                                         dispatch_uid=f"stamp-actor-{_model._meta.label_lower}")
