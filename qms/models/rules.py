"""Reaction rules: a trigger scoped to characteristics/equipment/lines, and what to do when it fires.

Configured by quality engineers (UI and API), versioned and audited. Evaluation is pure (`qms.rules`), the
actions are dispatched by `qms.services.reactions`.
"""
from django.contrib.auth.models import Group
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .alarms import Alarm
from .dictionary import ActorStampedHistory, Characteristic
from .plant import Equipment, Line, Site


class ReactionRule(models.Model):
    class Trigger(models.TextChoices):
        DEVIATION = "deviation", _("value deviates from nominal by more than ±X")
        SPEC = "spec", _("value outside specification limits")
        SPC = "spc", _("SPC signal")
        STALE = "stale", _("data stale")
        EQUIPMENT_STATE = "equipment_state", _("equipment in an alarm state")

    class FreezeFrom(models.TextChoices):
        LAST_GOOD = "last_good", _("the last good value (capped by the look-back)")
        LOOKBACK = "lookback", _("a fixed look-back before the trigger")

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="reaction_rules", verbose_name=_("site"))
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    # deviation: |value − nominal| > threshold (in the characteristic's unit)
    threshold = models.FloatField(_("threshold ±X"), null=True, blank=True)
    # spc: the run rules that fire (e.g. ["WE1", "N2"]); empty = any rule
    spc_rules = models.JSONField(_("SPC rules"), default=list, blank=True)
    # equipment_state: states that fire (e.g. ["alarm", "down"])
    equipment_states = models.JSONField(_("equipment states"), default=list, blank=True)
    # Scope: a rule applies to the union of these; all empty = every characteristic/equipment of the site.
    characteristics = models.ManyToManyField(Characteristic, blank=True, related_name="reaction_rules",
                                             verbose_name=_("characteristics"))
    characteristic_pattern = models.CharField(
        _("characteristic code pattern"), max_length=120, blank=True,
        help_text=_("Shell-style pattern on the characteristic code, e.g. *.BARREL_Z*.TEMP"))
    equipment = models.ManyToManyField(Equipment, blank=True, related_name="reaction_rules",
                                       verbose_name=_("equipment"))
    lines = models.ManyToManyField(Line, blank=True, related_name="reaction_rules", verbose_name=_("lines"))
    # Actions
    severity = models.CharField(_("alarm severity"), max_length=10, choices=Alarm.Severity.choices,
                                default=Alarm.Severity.MAJOR)
    freeze = models.BooleanField(_("freeze the equipment's time window"), default=False)
    freeze_from = models.CharField(_("freeze from"), max_length=12, choices=FreezeFrom.choices,
                                   default=FreezeFrom.LAST_GOOD)
    freeze_lookback_s = models.PositiveIntegerField(_("look-back (s)"), default=3600)
    freeze_propagate_forward = models.BooleanField(_("also freeze lots made from them"), default=True)
    open_nc_draft = models.BooleanField(_("open a nonconformance draft"), default=False)
    notify_groups = models.ManyToManyField(Group, blank=True, related_name="+", verbose_name=_("notify groups"))
    hold_command = models.BooleanField(_("send a hold command to MES"), default=False)
    writeback_connector = models.ForeignKey("connectors.Connector", on_delete=models.PROTECT, null=True,
                                            blank=True, related_name="+", verbose_name=_("write-back connector"))
    writeback_target = models.CharField(_("write-back target"), max_length=300, blank=True)
    writeback_value = models.JSONField(_("write-back value"), null=True, blank=True)
    escalate_after_min = models.PositiveIntegerField(_("escalate when unacknowledged after (min)"), null=True,
                                                     blank=True)
    escalation_groups = models.ManyToManyField(Group, blank=True, related_name="+",
                                               verbose_name=_("escalation groups"))
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["site", "name"]
        constraints = [models.UniqueConstraint(fields=["site", "name"], name="reaction_rule_name_unique_per_site")]
        verbose_name = _("reaction rule")
        verbose_name_plural = _("reaction rules")

    def __str__(self):
        return self.name
