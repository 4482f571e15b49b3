"""Gauge R&R by the ANOVA method, crossed design (parts × operators × trials), per AIAG MSA 4th edition.

Two-way ANOVA with interaction. When the part × operator interaction is not significant (p > 0.25, AIAG/Minitab
default), it is pooled with the error term and the reduced model is used. Variance components (negative → 0):
    with interaction: σ²_EV = MS_E, σ²_PO = (MS_PO − MS_E)/r, σ²_O = (MS_O − MS_PO)/(p·r), σ²_P = (MS_P − MS_PO)/(o·r)
    pooled:           σ²_EV = MS_pooled, σ²_O = (MS_O − MS_pooled)/(p·r), σ²_P = (MS_P − MS_pooled)/(o·r)
σ²_AV = σ²_O + σ²_PO, σ²_GRR = σ²_EV + σ²_AV, σ²_TV = σ²_GRR + σ²_P (or from a given process sigma).
%EV, %AV, %GRR, %PV of study variation are ratios of standard deviations (100·σ_x/σ_TV); of tolerance
100·k·σ_x/(USL − LSL) with k = 6 (the 4th edition's multiplier; 5.15 in older editions); % contribution is the
variance ratio; ndc = floor(1.41·σ_P/σ_GRR).
"""
import math

import numpy as np
from scipy import stats

from spc.engine.errors import EngineInputError

INTERACTION_ALPHA = 0.25


def gauge_rr(measurements, *, tolerance=None, study_multiplier=6.0, alpha_interaction=INTERACTION_ALPHA,
             process_sigma=None) -> dict:
    """`measurements[part][operator][trial]`, balanced. Returns the ANOVA table, components and percentages."""
    data = _validate(measurements)
    parts, operators, trials = data.shape
    grand = data.mean()
    part_means = data.mean(axis=(1, 2))
    operator_means = data.mean(axis=(0, 2))
    cell_means = data.mean(axis=2)
    ss_part = operators * trials * float(np.sum((part_means - grand) ** 2))
    ss_operator = parts * trials * float(np.sum((operator_means - grand) ** 2))
    interaction = cell_means - part_means[:, None] - operator_means[None, :] + grand
    ss_interaction = trials * float(np.sum(interaction**2))
    ss_error = float(np.sum((data - cell_means[:, :, None]) ** 2))
    ss_total = float(np.sum((data - grand) ** 2))
    df_part, df_operator = parts - 1, operators - 1
    df_interaction, df_error = df_part * df_operator, parts * operators * (trials - 1)
    ms_part, ms_operator = ss_part / df_part, ss_operator / df_operator
    ms_interaction, ms_error = ss_interaction / df_interaction, ss_error / df_error
    p_interaction = _p_value(ms_interaction, ms_error, df_interaction, df_error)
    pooled = p_interaction is None or p_interaction > alpha_interaction
    table = [
        _row("part", df_part, ss_part, ms_part),
        _row("operator", df_operator, ss_operator, ms_operator),
    ]
    if pooled:
        df_pooled = df_interaction + df_error
        ms_pooled = (ss_interaction + ss_error) / df_pooled
        table[0].update(_f(ms_part, ms_pooled, df_part, df_pooled))
        table[1].update(_f(ms_operator, ms_pooled, df_operator, df_pooled))
        table.append(_row("repeatability", df_pooled, ss_interaction + ss_error, ms_pooled))
        var_repeat = ms_pooled
        var_interaction = 0.0
        var_operator = max(0.0, (ms_operator - ms_pooled) / (parts * trials))
        var_part = max(0.0, (ms_part - ms_pooled) / (operators * trials))
    else:
        table[0].update(_f(ms_part, ms_interaction, df_part, df_interaction))
        table[1].update(_f(ms_operator, ms_interaction, df_operator, df_interaction))
        table.append(_row("part*operator", df_interaction, ss_interaction, ms_interaction)
                     | {"F": ms_interaction / ms_error if ms_error > 0 else None, "p": p_interaction})
        table.append(_row("repeatability", df_error, ss_error, ms_error))
        var_repeat = ms_error
        var_interaction = max(0.0, (ms_interaction - ms_error) / trials)
        var_operator = max(0.0, (ms_operator - ms_interaction) / (parts * trials))
        var_part = max(0.0, (ms_part - ms_interaction) / (operators * trials))
    table.append({"source": "total", "df": parts * operators * trials - 1, "ss": ss_total})
    var_reproducibility = var_operator + var_interaction
    var_grr = var_repeat + var_reproducibility
    var_total = var_grr + var_part
    if process_sigma is not None:
        var_total = float(process_sigma) ** 2
        var_part = max(0.0, var_total - var_grr)
    components = {
        "repeatability": var_repeat, "reproducibility": var_reproducibility, "operator": var_operator,
        "part_operator": var_interaction, "gauge_rr": var_grr, "part_to_part": var_part, "total": var_total,
    }
    sd_total = math.sqrt(var_total)
    result_components = {}
    for name, variance in components.items():
        sd = math.sqrt(variance)
        result_components[name] = {
            "variance": variance,
            "sd": sd,
            "study_var": study_multiplier * sd,
            "pct_contribution": 100.0 * variance / var_total if var_total > 0 else None,
            "pct_study_var": 100.0 * sd / sd_total if sd_total > 0 else None,
            "pct_tolerance": 100.0 * study_multiplier * sd / tolerance if tolerance else None,
        }
    sd_grr, sd_part = math.sqrt(var_grr), math.sqrt(var_part)
    ndc = math.floor(1.41 * sd_part / sd_grr) if sd_grr > 0 else None
    return {
        "design": {"parts": parts, "operators": operators, "trials": trials},
        "anova": table,
        "interaction_p_value": p_interaction,
        "interaction_pooled": pooled,
        "alpha_interaction": alpha_interaction,
        "components": result_components,
        "EV": result_components["repeatability"]["pct_study_var"],
        "AV": result_components["reproducibility"]["pct_study_var"],
        "GRR": result_components["gauge_rr"]["pct_study_var"],
        "PV": result_components["part_to_part"]["pct_study_var"],
        "ndc": ndc,
        "study_multiplier": study_multiplier,
        "tolerance": tolerance,
    }


def _validate(measurements) -> np.ndarray:
    try:
        data = np.asarray(measurements, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise EngineInputError("measurements must be a balanced [part][operator][trial] array of numbers.",
                               field="measurements", code="unbalanced") from exc
    if data.ndim != 3:
        raise EngineInputError("measurements must be a balanced [part][operator][trial] array of numbers.",
                               field="measurements", code="unbalanced")
    parts, operators, trials = data.shape
    if parts < 2 or operators < 2 or trials < 2:
        raise EngineInputError("A crossed gauge study needs ≥ 2 parts, ≥ 2 operators and ≥ 2 trials.",
                               field="measurements", code="too_small")
    if not np.all(np.isfinite(data)):
        raise EngineInputError("measurements contain a non-finite number.", field="measurements", code="non_finite")
    return data


def _row(source, df, ss, ms):
    return {"source": source, "df": df, "ss": ss, "ms": ms}


def _f(ms, ms_denominator, df, df_denominator):
    if ms_denominator <= 0:
        return {"F": None, "p": None}
    f = ms / ms_denominator
    return {"F": f, "p": float(stats.f.sf(f, df, df_denominator))}


def _p_value(ms, ms_denominator, df, df_denominator):
    if ms_denominator <= 0:
        return None
    return float(stats.f.sf(ms / ms_denominator, df, df_denominator))
