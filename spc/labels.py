"""Translatable names of rules and charts (the engine is Django-free; its descriptions are English only)."""
from django.utils.translation import gettext_lazy as _

RULE_DESCRIPTIONS = {
    "WE1": _("1 point beyond the 3σ control limits"),
    "WE2": _("2 of 3 consecutive points beyond 2σ, same side"),
    "WE3": _("4 of 5 consecutive points beyond 1σ, same side"),
    "WE4": _("8 consecutive points on the same side of the centre line"),
    "N1": _("1 point beyond the 3σ control limits"),
    "N2": _("9 consecutive points on the same side of the centre line"),
    "N3": _("6 consecutive points steadily increasing or decreasing"),
    "N4": _("14 consecutive points alternating up and down"),
    "N5": _("2 of 3 consecutive points beyond 2σ, same side"),
    "N6": _("4 of 5 consecutive points beyond 1σ, same side"),
    "N7": _("15 consecutive points within 1σ of the centre line"),
    "N8": _("8 consecutive points beyond 1σ, either side"),
    "EWMA": _("EWMA statistic beyond its L·σ limits"),
    "CUSUM": _("CUSUM sum above the decision interval H"),
}

CHART_LABELS = {
    "xbar": _("Subgroup mean (X̄)"), "r": _("Range (R)"), "s": _("Standard deviation (S)"),
    "i": _("Individual value (I)"), "mr": _("Moving range (MR)"), "p": _("Proportion nonconforming (p)"),
    "np": _("Number nonconforming (np)"), "c": _("Defects (c)"), "u": _("Defects per unit (u)"),
    "ewma": _("EWMA"), "cusum_pos": _("Upper CUSUM (C⁺)"), "cusum_neg": _("Lower CUSUM (C⁻)"),
}


def rule_description(rule: str) -> str:
    return str(RULE_DESCRIPTIONS.get(rule, rule))


def chart_label(name: str) -> str:
    return str(CHART_LABELS.get(name, name))
