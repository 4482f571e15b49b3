"""Equipment state changes and cycle times as reported by MES or machines."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from .plant import Equipment


class EquipmentStateEvent(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", _("running")
        IDLE = "idle", _("idle")
        SETUP = "setup", _("setup")
        DOWN = "down", _("down")
        ALARM = "alarm", _("alarm")
        MAINTENANCE = "maintenance", _("maintenance")
        OFFLINE = "offline", _("offline")

    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="state_events")
    ts = models.DateTimeField(_("time"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=100)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-ts"]
        constraints = [
            models.UniqueConstraint(fields=["equipment", "ts", "source"], name="state_event_unique_per_source"),
        ]
        verbose_name = _("equipment state change")
        verbose_name_plural = _("equipment state changes")


class CycleTimeRecord(models.Model):
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="cycles")
    ts = models.DateTimeField(_("time"))
    cycle_time_s = models.FloatField(_("cycle time (s)"))
    lot_code = models.CharField(_("lot"), max_length=64, blank=True, db_index=True)
    shot_counter = models.BigIntegerField(_("shot counter"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=100)
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        ordering = ["-ts"]
        constraints = [
            models.UniqueConstraint(fields=["equipment", "ts", "source"], name="cycle_unique_per_source"),
        ]
        verbose_name = _("cycle time")
        verbose_name_plural = _("cycle times")
