"""The report queries: which records count, read per site, handed to the pure arithmetic in qms.reports.

Definitions (docs/reports.md):
- Counted NCs: the site's nonconformances created in the date range (site time zone, both days inclusive), except
  drafts (unconfirmed, raised by a rule) and cancelled ones.
- Pareto by count: each counted NC adds 1 to each of its defect codes.
- Pareto by cost: each counted NC adds (its quantity × unit cost) to each of its defect codes. An NC's quantity is
  `quantity_affected` when set, else the sum of its lots' nonconforming quantities, else 0. A code without a unit
  cost takes its nearest ancestor's; a code with none anywhere adds 0 and is listed as "not costed".
- Level "category" rolls each code up to the top of its hierarchy.
- CAPA aging: open CAPAs by days since opened (0–29, 30–59, 60–89, ≥ 90) and by current step (the first of D0–D8
  not approved; "ready to close" when all are). Overdue actions: open actions whose due date lies before today.
"""
from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Prefetch, Q, Sum
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from qms.models import Action, Capa, CapaStep, DefectCode, Nonconformance
from qms.reports import aging, periods
from qms.reports.pareto import ParetoRow, pareto

MEASURES = ("count", "cost")
LEVELS = ("code", "category")
GROUPS = ("line", "product")
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366  # a report over more than three years is a data export, not a report
NOT_COUNTED_STATES = (Nonconformance.State.DRAFT, Nonconformance.State.CANCELLED)
STEP_ORDER = [choice.value for choice in CapaStep.Step]
READY_TO_CLOSE = "ready"


class ReportError(Exception):
    """Bad report parameters; `field` names the parameter at fault."""

    def __init__(self, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


# --- parameters -------------------------------------------------------------------------------------------------

def site_zone(site) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(site.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        return dt.UTC


def site_today(site, now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(site_zone(site)).date()


def _parse_date(value, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ReportError("invalid_date", _("%(name)s: not a date (use YYYY-MM-DD): %(value)s")
                          % {"name": name, "value": value}, field=name) from None


@dataclass(frozen=True)
class DateRange:
    first: dt.date
    last: dt.date


def date_range(site, date_from=None, date_to=None, *, now: dt.datetime | None = None) -> DateRange:
    """The report's days (inclusive), defaulting to the last 90 days up to today in the site's time zone."""
    last = _parse_date(date_to, "to") or site_today(site, now)
    first = _parse_date(date_from, "from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ReportError("invalid_range", _("The start date lies after the end date."), field="from")
    if (last - first).days >= MAX_DAYS:
        raise ReportError("range_too_long", _("Choose at most %(days)d days.") % {"days": MAX_DAYS}, field="from")
    return DateRange(first, last)


def _choice(value, allowed: tuple[str, ...], name: str, default: str) -> str:
    value = value or default
    if value not in allowed:
        raise ReportError("invalid_choice", _("%(name)s must be one of %(allowed)s.")
                          % {"name": name, "allowed": ", ".join(allowed)}, field=name)
    return value


# --- nonconformances --------------------------------------------------------------------------------------------

def counted_ncs(site, days: DateRange):
    zone = site_zone(site)
    start = dt.datetime.combine(days.first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(days.last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return (Nonconformance.objects.filter(site=site, created_at__gte=start, created_at__lt=end)
            .exclude(state__in=NOT_COUNTED_STATES))


def nc_quantity(quantity_affected: float | None, lot_total: float | None) -> float:
    if quantity_affected is not None:
        return float(quantity_affected)
    return float(lot_total or 0.0)


def defect_label(code: DefectCode | None) -> str:
    if code is None:
        return _("(no defect code)")
    name = code.name_zh if (get_language() or "").lower().startswith("zh") and code.name_zh else code.name_en
    return f"{code.code} {name}"


@dataclass
class ParetoReport:
    measure: str
    level: str
    days: DateRange
    rows: list[ParetoRow]
    codes: dict[int, DefectCode]
    nc_count: int
    not_costed: list[DefectCode] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(row.value for row in self.rows)

    def label(self, row: ParetoRow) -> str:
        return defect_label(self.codes.get(row.key))


def _unit_cost(code: DefectCode, by_id: dict[int, DefectCode]):
    seen = set()
    while code is not None and code.pk not in seen:
        if code.unit_cost is not None:
            return code.unit_cost
        seen.add(code.pk)
        code = by_id.get(code.parent_id)
    return None


def _category(code: DefectCode, by_id: dict[int, DefectCode]) -> DefectCode:
    seen = {code.pk}
    while code.parent_id is not None and code.parent_id in by_id and code.parent_id not in seen:
        code = by_id[code.parent_id]
        seen.add(code.pk)
    return code


def defect_pareto(site, *, date_from=None, date_to=None, measure: str | None = None, level: str | None = None,
                  now: dt.datetime | None = None) -> ParetoReport:
    measure = _choice(measure, MEASURES, "measure", "count")
    level = _choice(level, LEVELS, "level", "code")
    days = date_range(site, date_from, date_to, now=now)
    ncs = (counted_ncs(site, days).annotate(lot_total=Sum("lots__quantity"))
           .prefetch_related(Prefetch("defect_codes", queryset=DefectCode.objects.only("pk")))
           .only("pk", "quantity_affected"))
    # The whole catalogue visible to the site (shared + own) is small; ancestors are walked in memory.
    by_id = {code.pk: code for code in DefectCode.objects.filter(Q(site=site) | Q(site__isnull=True))}
    weights: list[tuple[int, float]] = []
    not_costed: dict[int, DefectCode] = {}
    nc_count = 0
    for nc in ncs:
        nc_count += 1
        quantity = nc_quantity(nc.quantity_affected, nc.lot_total)
        counted_keys = set()  # an NC counts once per row: two FILL codes of one NC are one FILL NC
        for linked in nc.defect_codes.all():
            code = by_id.get(linked.pk)
            if code is None:
                continue
            key = _category(code, by_id).pk if level == "category" else code.pk
            if measure == "count":
                if key not in counted_keys:
                    counted_keys.add(key)
                    weights.append((key, 1.0))
                continue
            cost = _unit_cost(code, by_id)
            if cost is None:
                not_costed[code.pk] = code
                weights.append((key, 0.0))
            else:
                weights.append((key, quantity * float(cost)))
    rows = pareto(weights, tie_order=lambda key: by_id[key].code)
    return ParetoReport(measure=measure, level=level, days=days, rows=rows, codes=by_id, nc_count=nc_count,
                        not_costed=sorted(not_costed.values(), key=lambda c: c.code))


@dataclass
class TrendReport:
    group: str
    period: str
    days: DateRange
    trend: periods.Trend
    nc_count: int

    def period_label(self, start: dt.date) -> str:
        if self.period == "month":
            return start.strftime("%Y-%m")
        year, week, _weekday = start.isocalendar()
        return f"{year}-W{week:02d}"


def nc_trend(site, *, date_from=None, date_to=None, period: str | None = None, group: str | None = None,
             now: dt.datetime | None = None) -> TrendReport:
    period = _choice(period, periods.PERIODS, "period", "week")
    group = _choice(group, GROUPS, "group", "line")
    days = date_range(site, date_from, date_to, now=now)
    zone = site_zone(site)
    label_field = "line__code" if group == "line" else "product__part_number"
    none_label = _("(no line)") if group == "line" else _("(no product)")
    rows = counted_ncs(site, days).values_list("created_at", label_field)
    events = [(created.astimezone(zone).date(), label or none_label) for created, label in rows]
    return TrendReport(group=group, period=period, days=days, trend=periods.trend(events, days.first, days.last,
                                                                                   period), nc_count=len(events))


# --- CAPA aging -------------------------------------------------------------------------------------------------

@dataclass
class OpenCapa:
    capa: Capa
    age_days: int
    bucket: int
    current_step: str  # "D0".."D8" or READY_TO_CLOSE
    overdue_actions: int
    step_label: str = ""


@dataclass
class AgingReport:
    today: dt.date
    buckets: list[aging.Bucket]
    capas: list[OpenCapa]
    by_bucket: list[int]
    by_step: dict[str, int]
    matrix: dict[str, list[int]]  # step → counts per bucket
    overdue: list[Action]

    def step_label(self, step: str) -> str:
        return _step_label(step)


def _step_label(step: str) -> str:
    return str(_("ready to close")) if step == READY_TO_CLOSE else str(CapaStep.Step(step).label)


def current_step(step_states: dict[str, str]) -> str:
    for step in STEP_ORDER:
        if step_states.get(step) != CapaStep.State.APPROVED:
            return step
    return READY_TO_CLOSE


def overdue_actions(site, today: dt.date):
    return (Action.objects.filter(site=site, state=Action.State.OPEN, due_date__lt=today)
            .select_related("owner", "nc", "capa").order_by("due_date", "id"))


def capa_aging(site, *, now: dt.datetime | None = None) -> AgingReport:
    now = now or timezone.now()
    today = site_today(site, now)
    capas = list(Capa.objects.filter(site=site, state=Capa.State.OPEN).select_related("champion")
                 .prefetch_related(Prefetch("steps", queryset=CapaStep.objects.only("capa_id", "step", "state")))
                 .order_by("created_at"))
    overdue = list(overdue_actions(site, today))
    for action in overdue:
        action.days_overdue = (today - action.due_date).days
    overdue_per_capa: dict[int, int] = defaultdict(int)
    for action in overdue:
        if action.capa_id:
            overdue_per_capa[action.capa_id] += 1
    rows = []
    for capa in capas:
        age = max(0, (now - capa.created_at).days)
        step = current_step({s.step: s.state for s in capa.steps.all()})
        rows.append(OpenCapa(capa=capa, age_days=age, bucket=aging.bucket_index(age), current_step=step,
                             overdue_actions=overdue_per_capa.get(capa.pk, 0)))
    rows.sort(key=lambda row: -row.age_days)
    for row in rows:
        row.step_label = _step_label(row.current_step)
    bucket_list = aging.buckets()
    step_keys = [*STEP_ORDER, READY_TO_CLOSE]
    matrix = {step: [0] * len(bucket_list) for step in step_keys}
    for row in rows:
        matrix[row.current_step][row.bucket] += 1
    return AgingReport(
        today=today, buckets=bucket_list, capas=rows,
        by_bucket=aging.count_by_bucket(row.age_days for row in rows),
        by_step={step: sum(matrix[step]) for step in step_keys}, matrix=matrix, overdue=overdue,
    )



# --- tables (the same rows for the pages, their CSV and the API) -------------------------------------------------

@dataclass
class Table:
    name: str  # file name stem of the CSV
    header: list[str]
    rows: list[list]


def pareto_table(report: ParetoReport) -> Table:
    value_name = _("Count") if report.measure == "count" else _("Cost")
    return Table(f"pareto-{report.measure}-{report.days.first}-{report.days.last}",
                 [_("Code"), _("Defect"), value_name, _("Share %"), _("Cumulative %"), _("Vital few")],
                 [[report.codes[row.key].code, report.label(row).split(" ", 1)[-1], round(row.value, 2),
                   round(row.share_pct, 2), round(row.cumulative_pct, 2), row.vital_few] for row in report.rows])


def trend_table(report: TrendReport) -> Table:
    group_name = _("Line") if report.group == "line" else _("Product")
    periods_shown = [report.period_label(start) for start in report.trend.periods]
    rows = [[str(name), *counts, sum(counts)] for name, counts in report.trend.series.items()]
    rows.append([_("Total"), *report.trend.totals, sum(report.trend.totals)])
    return Table(f"nc-trend-{report.group}-{report.period}-{report.days.first}-{report.days.last}",
                 [group_name, *periods_shown, _("Total")], rows)


def aging_table(report: AgingReport) -> Table:
    rows = [[report.step_label(step), *counts, sum(counts)] for step, counts in report.matrix.items() if sum(counts)]
    rows.append([_("Total"), *report.by_bucket, sum(report.by_bucket)])
    return Table(f"capa-aging-{report.today}", [_("Current step"), *[_("%(range)s days") % {"range": b.label}
                                                                       for b in report.buckets], _("Total")], rows)


def open_capas_table(report: AgingReport) -> Table:
    return Table(f"open-capas-{report.today}",
                 [_("Number"), _("Title"), _("Champion"), _("Opened"), _("Age (days)"), _("Current step"),
                  _("Overdue actions")],
                 [[row.capa.number, row.capa.title, row.capa.champion.get_username() if row.capa.champion else "",
                   row.capa.created_at.astimezone(dt.UTC).isoformat(), row.age_days,
                   report.step_label(row.current_step), row.overdue_actions] for row in report.capas])


def overdue_table(report: AgingReport) -> Table:
    return Table(f"overdue-actions-{report.today}",
                 [_("Action"), _("Owner"), _("Due"), _("Days overdue"), _("NC"), _("CAPA"), _("8D step")],
                 [[action.title, action.owner.get_username(), action.due_date.isoformat(),
                   action.days_overdue, action.nc.number if action.nc else "",
                   action.capa.number if action.capa else "", action.capa_step] for action in report.overdue])
