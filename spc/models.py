"""SPC records: per characteristic its chart configuration, frozen limit revisions, the live evaluation state, the
points as they were plotted and judged, and the signals raised (docs/spc-live.md).

Configuration and limit revisions are quality records: versioned by django-simple-history, hence mirrored into
the hash-chained audit trail with who, when and why. The live state, chart points and signals are written by the
evaluation service only (never edited); a signal is a fact about data, like a measurement.
"""
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from qms.models import Characteristic, Site
from qms.models.dictionary import ActorStampedHistory

CHART_TYPE_CHOICES = [
    ("imr", _("Individuals and moving range (I-MR)")),
    ("xbar_r", _("X̄ and range (X̄-R)")),
    ("xbar_s", _("X̄ and standard deviation (X̄-S)")),
    ("p", _("Proportion nonconforming (p)")),
    ("np", _("Number nonconforming (np)")),
    ("c", _("Defects per unit, constant area (c)")),
    ("u", _("Defects per unit (u)")),
    ("ewma", _("Exponentially weighted moving average (EWMA)")),
    ("cusum", _("Tabular CUSUM")),
]
SUBGROUPED_CHARTS = ("xbar_r", "xbar_s")
ATTRIBUTE_CHARTS = ("p", "np", "c", "u")


class ChartConfig(models.Model):
    """How one characteristic is charted: chart type, how subgroups form, which rules run."""

    class Subgrouping(models.TextChoices):
        COUNT = "count", _("consecutive values, by count")
        TIME = "time", _("values within a time window")
        LOT = "lot", _("values of the same lot")

    # CASCADE: a dictionary entry deleted as a typo takes its (audited) chart set-up along; an entry with data is
    # protected by its measurements, chart points and signals (PROTECT below), so it can only be retired.
    characteristic = models.OneToOneField(
        Characteristic, on_delete=models.CASCADE, related_name="chart_config", verbose_name=_("characteristic")
    )
    chart_type = models.CharField(_("chart type"), max_length=8, choices=CHART_TYPE_CHOICES)
    subgroup_size = models.PositiveSmallIntegerField(
        _("subgroup size"), default=1, help_text=_("Values per subgroup (X̄ charts: 2–25; 1 for all other charts).")
    )
    subgrouping = models.CharField(_("subgroups form"), max_length=8, choices=Subgrouping.choices,
                                   default=Subgrouping.COUNT)
    time_window_s = models.PositiveIntegerField(
        _("time window (s)"), null=True, blank=True, help_text=_("Length of one subgroup's window (time subgrouping).")
    )
    sample_size = models.PositiveIntegerField(
        _("sample size"), null=True, blank=True,
        help_text=_("Units inspected per value, for p, np and u charts (each value is a count of that sample)."),
    )
    rules = models.JSONField(_("run rules"), default=list, help_text=_("Rules of the main chart, e.g. WE1–WE4."))
    dispersion_rules = models.JSONField(
        _("dispersion chart rules"), default=list, blank=True,
        help_text=_("Rules of the R, S or MR chart; empty: the beyond-limits rule among the main chart's rules."),
    )
    params = models.JSONField(_("chart parameters"), default=dict, blank=True,
                              help_text=_("EWMA λ and L, CUSUM k and h."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        verbose_name = _("chart configuration")
        verbose_name_plural = _("chart configurations")
        permissions = [("revise_limits", _("Can revise control limits"))]

    def __str__(self):
        return f"{self.characteristic.code} · {self.chart_type}"

    @property
    def is_subgrouped(self) -> bool:
        return self.chart_type in SUBGROUPED_CHARTS


class LimitRevision(models.Model):
    """Frozen control limits from a point in time on: the engine's Limits, where they came from, who and why."""

    class Method(models.TextChoices):
        BASELINE = "baseline", _("computed from a baseline period")
        SPECIFICATION = "spec", _("from nominal and specification (provisional)")
        MANUAL = "manual", _("entered by hand (known standard)")

    config = models.ForeignKey(ChartConfig, on_delete=models.CASCADE, related_name="revisions",
                               verbose_name=_("chart configuration"))
    number = models.PositiveIntegerField(_("revision"))
    limits = models.JSONField(_("limits"), help_text=_("The engine's frozen Limits (process parameters)."))
    method = models.CharField(_("method"), max_length=10, choices=Method.choices)
    baseline_start = models.DateTimeField(_("baseline from"), null=True, blank=True)
    baseline_end = models.DateTimeField(_("baseline until"), null=True, blank=True)
    baseline_count = models.PositiveIntegerField(_("baseline points"), default=0)
    excluded_count = models.PositiveIntegerField(_("points excluded"), default=0)
    excluded = models.JSONField(_("excluded points"), default=list, blank=True,
                                help_text=_("Measurement ids left out of the baseline (out of control)."))
    summary = models.JSONField(_("summary"), default=dict, blank=True,
                               help_text=_("Centre and limits of each chart at the configured subgroup size."))
    reason = models.TextField(_("reason"))
    created_by = models.CharField(_("created by"), max_length=150)
    created_at = models.DateTimeField(_("effective from"), auto_now_add=True)
    history = HistoricalRecords(bases=[ActorStampedHistory])

    class Meta:
        ordering = ["config", "-number"]
        constraints = [models.UniqueConstraint(fields=["config", "number"], name="spc_limit_revision_unique")]
        verbose_name = _("limit revision")
        verbose_name_plural = _("limit revisions")

    def __str__(self):
        return f"{self.config.characteristic.code} · {self.number}"

    @property
    def audit_site_id(self) -> int:
        return self.config.characteristic.site_id


class SpcState(models.Model):
    """The one row live evaluation locks per characteristic (select_for_update): the engine's LiveState as JSON,
    the partial subgroup waiting for more values, and what the overview page shows without touching history."""

    config = models.OneToOneField(ChartConfig, on_delete=models.CASCADE, related_name="live",
                                  verbose_name=_("chart configuration"))
    revision = models.ForeignKey(LimitRevision, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    engine_state = models.JSONField(null=True, blank=True)
    # [[id, ts, value, lot], ...]: the open subgroup — or, while there are no limits, the values waiting for them
    pending = models.JSONField(default=list, blank=True)
    recent = models.JSONField(default=list, blank=True)  # [[index, chart point id, ts], ...] of the last points
    deliveries = models.JSONField(default=list, blank=True)  # fingerprints of recently evaluated deliveries
    point_count = models.PositiveBigIntegerField(default=0)
    last_ts = models.DateTimeField(null=True, blank=True)
    last_signal_at = models.DateTimeField(null=True, blank=True)
    last_signal_rule = models.CharField(max_length=8, blank=True)
    cpk = models.FloatField(null=True, blank=True)
    ppk = models.FloatField(null=True, blank=True)
    capability_n = models.PositiveIntegerField(default=0)
    capability_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("live evaluation state")
        verbose_name_plural = _("live evaluation states")


class ChartPoint(models.Model):
    """A point as plotted and judged: one measurement (I-MR, EWMA, CUSUM, attribute charts) or one subgroup."""

    characteristic = models.ForeignKey(Characteristic, on_delete=models.PROTECT, related_name="+", db_index=False)
    revision = models.ForeignKey(LimitRevision, on_delete=models.PROTECT, related_name="points")
    index = models.PositiveBigIntegerField(_("index"), help_text=_("Position in the series judged by the revision."))
    ts = models.DateTimeField(_("time"), help_text=_("Time of the newest value in the point."))
    first_ts = models.DateTimeField(_("first value at"))
    # What the chart(s) plot: main chart (X̄, I, p, EWMA, C⁺ …) and second chart (R, S, MR, C⁻; null if none/undefined).
    value = models.FloatField(_("value"))
    value2 = models.FloatField(_("second chart value"), null=True, blank=True)
    size = models.PositiveSmallIntegerField(_("values"), default=1)
    measurement_ids = models.JSONField(_("measurements"))
    lot_code = models.CharField(_("lot"), max_length=64, blank=True, default="")
    late = models.BooleanField(_("arrived out of order"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["characteristic", "ts"]
        indexes = [
            models.Index(fields=["characteristic", "ts"], name="spc_chartpoint_series"),
            models.Index(fields=["characteristic", "lot_code"], name="spc_chartpoint_lot"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["revision", "index"], name="spc_chartpoint_unique_index"),
        ]
        verbose_name = _("chart point")
        verbose_name_plural = _("chart points")


class Signal(models.Model):
    """A run rule fired: the process changed (or something did). Consumed by alarms via spc.seams."""

    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    characteristic = models.ForeignKey(Characteristic, on_delete=models.PROTECT, related_name="spc_signals",
                                       verbose_name=_("characteristic"))
    revision = models.ForeignKey(LimitRevision, on_delete=models.PROTECT, related_name="signals",
                                 verbose_name=_("limit revision"))
    point = models.ForeignKey(ChartPoint, on_delete=models.PROTECT, related_name="signals",
                              verbose_name=_("completing point"))
    chart = models.CharField(_("chart"), max_length=12)
    rule = models.CharField(_("rule"), max_length=8)
    index = models.PositiveBigIntegerField(_("index"))
    point_indices = models.JSONField(_("points involved"))
    measurement_ids = models.JSONField(_("measurements involved"))
    first_ts = models.DateTimeField(_("first point at"))
    ts = models.DateTimeField(_("time"))
    value = models.FloatField(_("value"), null=True)
    created_at = models.DateTimeField(_("raised at"), auto_now_add=True)

    class Meta:
        ordering = ["-ts"]
        indexes = [
            models.Index(fields=["characteristic", "ts"], name="spc_signal_series"),
            models.Index(fields=["site", "created_at"], name="spc_signal_recent"),
        ]
        constraints = [
            # The database itself refuses a second firing of the same rule at the same point.
            models.UniqueConstraint(fields=["point", "chart", "rule"], name="spc_signal_once"),
        ]
        verbose_name = _("signal")
        verbose_name_plural = _("signals")

    def __str__(self):
        return f"{self.characteristic_id} {self.chart} {self.rule} @{self.index}"
