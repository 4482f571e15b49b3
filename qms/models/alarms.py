"""Alarms raised by reaction rules, and the append-only event log the live pages replay from.

State changes go through `qms.services.alarms` only (one function per transition, row-locked, audited).
An alarm is keyed by (site, source_key, alarm_type): while one is open (not closed) a repeating trigger updates it
instead of raising another — the partial unique constraint makes that hold under concurrent raises too.
"""
from django.conf import settings
from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from .dictionary import Characteristic
from .plant import Equipment, Line, Site


class Alarm(models.Model):
    class Severity(models.TextChoices):
        CRITICAL = "critical", _("critical")
        MAJOR = "major", _("major")
        MINOR = "minor", _("minor")
        WARNING = "warning", _("warning")

    class State(models.TextChoices):
        ACTIVE_UNACKNOWLEDGED = "active_unacknowledged", _("active, unacknowledged")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        CLEARED = "cleared", _("cleared")
        CLOSED = "closed", _("closed")

    class Type(models.TextChoices):
        DEVIATION = "deviation", _("deviation from nominal")
        SPEC = "spec", _("outside specification")
        SPC = "spc", _("SPC signal")
        STALE = "stale", _("data stale")
        EQUIPMENT_STATE = "equipment_state", _("equipment alarm state")

    OPEN_STATES = (State.ACTIVE_UNACKNOWLEDGED, State.ACKNOWLEDGED, State.CLEARED)

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="alarms", verbose_name=_("site"))
    line = models.ForeignKey(Line, on_delete=models.PROTECT, null=True, blank=True, related_name="alarms",
                             verbose_name=_("line"))
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, null=True, blank=True, related_name="alarms",
                                  verbose_name=_("equipment"))
    characteristic = models.ForeignKey(Characteristic, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="alarms", verbose_name=_("characteristic"))
    rule = models.ForeignKey("qms.ReactionRule", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="alarms", verbose_name=_("reaction rule"))
    # What raised it, e.g. "characteristic:42" or "equipment:7"; with alarm_type the key of the open alarm.
    source_key = models.CharField(_("source"), max_length=120)
    alarm_type = models.CharField(_("type"), max_length=20, choices=Type.choices)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    state = models.CharField(_("state"), max_length=24, choices=State.choices,
                             default=State.ACTIVE_UNACKNOWLEDGED)
    title = models.CharField(_("title"), max_length=200)
    message = models.TextField(_("message"), blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    trigger_ts = models.DateTimeField(_("trigger time"), help_text=_("Source time of the value that raised it."))
    trigger_value = models.FloatField(_("trigger value"), null=True, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    last_triggered_at = models.DateTimeField(_("last triggered at"))
    occurrences = models.PositiveIntegerField(_("occurrences"), default=1)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="+", verbose_name=_("acknowledged by"))
    ack_comment = models.CharField(_("acknowledgement comment"), max_length=500, blank=True)
    contained_at = models.DateTimeField(_("contained at"), null=True, blank=True,
                                        help_text=_("When the suspect product was frozen."))
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name=_("closed by"))
    shelved_until = models.DateTimeField(_("shelved until"), null=True, blank=True)
    shelved_reason = models.CharField(_("shelving reason"), max_length=500, blank=True)
    shelved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("shelved by"))
    escalation_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    # The newest AlarmEvent of this alarm: repeats are announced at most once per interval after it, and a repeat
    # that is only counted answers with this event's id.
    latest_event_id = models.BigIntegerField(_("latest event"), null=True, blank=True, editable=False)
    latest_event_at = models.DateTimeField(_("latest event at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            models.UniqueConstraint(fields=["site", "source_key", "alarm_type"],
                                    condition=~models.Q(state="closed"), name="alarm_one_open_per_source_type"),
        ]
        indexes = [
            models.Index(fields=["site", "state", "raised_at"], name="alarm_site_state"),
            models.Index(fields=["equipment", "raised_at"], name="alarm_equipment"),
        ]
        verbose_name = _("alarm")
        verbose_name_plural = _("alarms")

    def __str__(self):
        return f"{self.get_severity_display()}: {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state != self.State.CLOSED


class AlarmEvent(models.Model):
    """One per alarm transition (raised, repeated, acknowledged, ...), never updated. Its id is the cursor a live
    page resumes from after a reconnect; `snapshot` is the alarm as the page shows it after the transition."""

    class Kind(models.TextChoices):
        RAISED = "raised", _("raised")
        REPEATED = "repeated", _("repeated")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        CONTAINED = "contained", _("contained")
        CLEARED = "cleared", _("cleared")
        CLOSED = "closed", _("closed")
        SHELVED = "shelved", _("shelved")
        UNSHELVED = "unshelved", _("unshelved")
        ESCALATED = "escalated", _("escalated")

    id = models.BigAutoField(primary_key=True)
    alarm = models.ForeignKey(Alarm, on_delete=models.CASCADE, related_name="events", verbose_name=_("alarm"))
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    line = models.ForeignKey(Line, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("line"))
    kind = models.CharField(_("event"), max_length=16, choices=Kind.choices)
    at = models.DateTimeField(_("time"))
    actor = models.CharField(_("by"), max_length=150)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    snapshot = models.JSONField(_("snapshot"), default=dict)
    # When the row was written, by the database's clock — unlike `at`, the moment of the transition, which for a
    # rule's clear is the source timestamp of the good value. The live feed's late-commit overlap keys on this.
    created_at = models.DateTimeField(_("written at"), db_default=Now(), editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["site", "id"], name="alarm_event_site_cursor")]
        verbose_name = _("alarm event")
        verbose_name_plural = _("alarm events")

    def __str__(self):
        return f"{self.alarm_id} {self.kind} @ {self.at.isoformat()}"
