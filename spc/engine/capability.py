"""Process capability and performance, with the formulas and sources stated in the result.

Normal route (Montgomery, *Introduction to SQC*, ch. 8; Minitab "Methods and formulas: normal capability"):
    Cp = (USL − LSL)/(6σ_w), Cpk = min(USL − x̄, x̄ − LSL)/(3σ_w); Pp, Ppk the same with σ_overall (sample sd).
    Cpm = min(T − LSL, USL − T) / (3·√(Σ(xᵢ − T)²/(N − 1)))  (Chan, Cheng & Spiring 1988, Minitab's form).
    CI(Cp), CI(Pp): chi-square, Cp·√(χ²_{α/2,ν}/ν) … Cp·√(χ²_{1−α/2,ν}/ν)  (Montgomery eq. 8.19); ν is the
        degrees of freedom of the sigma estimate (N − 1 overall; Minitab's ν for R̄, S̄, pooled, MR̄ within).
    CI(Cpk), CI(Ppk): Bissell (1990), Cpk ± z_{1−α/2}·√(1/(9N) + Cpk²/(2ν)).
    CI(Cpm): Boyles (1991), chi-square with ν = N(1 + a²)²/(1 + 2a²), a = (x̄ − T)/s.
    Expected ppm: 10⁶·[Φ((LSL − x̄)/σ) + Φ((x̄ − USL)/σ)], within and overall; observed ppm from the data.
Normality: Anderson–Darling A² from scipy.stats.anderson; p-value from D'Agostino & Stephens (1986), the
    approximation R's nortest::ad.test and Minitab use (scipy only interpolates inside [0.01, 0.15]).
Non-normal data (transform "auto" when the AD p-value < 0.05): Box-Cox (scipy.stats.boxcox, λ by maximum
    likelihood) when all data are positive — data, spec limits and target transformed, indices computed on the
    transformed scale with the chart's within-sigma estimator; otherwise a Johnson SU fit (scipy.stats.johnsonsu,
    maximum likelihood) with the ISO 22514-2 percentile method: Pp = (USL − LSL)/(X₀.₉₉₈₆₅ − X₀.₀₀₁₃₅), Ppk from
    the median, ppm from the fitted distribution (no within indices on that route).
"""
import math

import numpy as np
from scipy import special, stats

NORMALITY_ALPHA = 0.05
_LOW, _HIGH = stats.norm.cdf(-3.0), stats.norm.cdf(3.0)  # 0.00135, 0.99865


def anderson_darling(values: np.ndarray) -> dict:
    """A² (scipy) and its p-value (D'Agostino & Stephens 1986, Table 4.9, with A*² = A²(1 + 0.75/n + 2.25/n²))."""
    n = values.size
    if n < 3 or np.ptp(values) == 0:
        return {"statistic": None, "p_value": None, "n": int(n), "note": "needs ≥ 3 values that are not all equal"}
    statistic = float(stats.anderson(values, method="interpolate").statistic)
    return {"statistic": statistic, "p_value": ad_p_value(statistic, n), "n": int(n),
            "method": "Anderson-Darling; p-value per D'Agostino & Stephens (1986)"}


def ad_p_value(statistic: float, n: int) -> float:
    a = statistic * (1.0 + 0.75 / n + 2.25 / n**2)
    if a >= 0.6:
        p = math.exp(1.2937 - 5.709 * a + 0.0186 * a * a)
    elif a >= 0.34:
        p = math.exp(0.9177 - 4.279 * a - 1.38 * a * a)
    elif a >= 0.2:
        p = 1.0 - math.exp(-8.318 + 42.796 * a - 59.938 * a * a)
    else:
        p = 1.0 - math.exp(-13.436 + 101.14 * a - 223.73 * a * a)
    return min(max(p, 0.0), 1.0)


def capability(observations, *, lsl=None, usl=None, target=None, sigma_within=None, within_df=None,
               within_sigma_of=None, confidence=0.95, transform="auto") -> dict:
    x = np.asarray(observations, dtype=np.float64)
    if target is None and lsl is not None and usl is not None:
        target = (lsl + usl) / 2.0
    normality = anderson_darling(x)
    route = "normal"
    if transform in ("box-cox", "johnson"):
        route = transform
    elif transform == "auto" and normality["p_value"] is not None and normality["p_value"] < NORMALITY_ALPHA:
        route = "box-cox" if np.all(x > 0) else "johnson"
    if route == "box-cox" and not np.all(x > 0):
        route = "johnson"  # Box-Cox is undefined for data ≤ 0; say so below
    result = {"spec": {"lsl": lsl, "usl": usl, "target": target}, "n": int(x.size), "confidence": confidence,
              "normality": normality}
    if route == "normal":
        result.update(_normal_indices(x, lsl, usl, target, sigma_within, within_df, confidence))
        result["method"] = {"route": "normal"}
    elif route == "box-cox":
        result.update(_box_cox(x, lsl, usl, target, within_sigma_of, within_df, confidence))
    else:
        result.update(_johnson(x, lsl, usl, confidence))
    result["method"]["requested_transform"] = transform
    return _finite(result)


def _normal_indices(x, lsl, usl, target, sigma_within, within_df, confidence) -> dict:
    n = x.size
    mean = float(x[0] + np.mean(x - x[0]))
    sigma_overall = float(np.std(x, ddof=1)) if n > 1 else float("nan")
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    out = {"mean": mean, "sigma_within": sigma_within, "sigma_overall": sigma_overall, "within": None}
    if sigma_within is not None:
        out["within"] = _indices(mean, sigma_within, lsl, usl, within_df, n, z, confidence, "C")
        out["within"]["expected_ppm"] = _ppm(mean, sigma_within, lsl, usl)
    out["overall"] = _indices(mean, sigma_overall, lsl, usl, n - 1, n, z, confidence, "P")
    out["overall"]["expected_ppm"] = _ppm(mean, sigma_overall, lsl, usl)
    out["observed_ppm"] = {
        "below_lsl": 1e6 * float(np.mean(x < lsl)) if lsl is not None else None,
        "above_usl": 1e6 * float(np.mean(x > usl)) if usl is not None else None,
    }
    out["observed_ppm"]["total"] = sum(v for v in out["observed_ppm"].values() if v is not None)
    out["cpm"] = _cpm(x, mean, lsl, usl, target, confidence)
    return out


def _indices(mean, sigma, lsl, usl, dof, n, z, confidence, letter) -> dict:
    name_p, name_k = f"{letter}p", f"{letter}pk"
    sigma = np.float64(sigma)  # zero sigma gives inf (reported as null), not ZeroDivisionError
    with np.errstate(divide="ignore", invalid="ignore"):
        upper = (usl - mean) / (3.0 * sigma) if usl is not None else None
        lower = (mean - lsl) / (3.0 * sigma) if lsl is not None else None
        potential = (usl - lsl) / (6.0 * sigma) if usl is not None and lsl is not None else None
    sides = [v for v in (upper, lower) if v is not None]
    k_index = min(sides) if sides else None
    out = {name_p: potential, f"{letter}pu": upper, f"{letter}pl": lower, name_k: k_index, "dof": dof}
    alpha = 1.0 - confidence
    if potential is not None and dof and dof > 0 and math.isfinite(potential):
        out[f"{name_p}_ci"] = [potential * math.sqrt(stats.chi2.ppf(alpha / 2, dof) / dof),
                               potential * math.sqrt(stats.chi2.ppf(1 - alpha / 2, dof) / dof)]
    if k_index is not None and dof and dof > 0 and math.isfinite(k_index):
        half = z * math.sqrt(1.0 / (9.0 * n) + k_index**2 / (2.0 * dof))
        out[f"{name_k}_ci"] = [k_index - half, k_index + half]
    return out


def _ppm(mean, sigma, lsl, usl) -> dict:
    sigma = np.float64(sigma)
    with np.errstate(divide="ignore", invalid="ignore"):
        below = 1e6 * float(stats.norm.cdf((lsl - mean) / sigma)) if lsl is not None else None
        above = 1e6 * float(stats.norm.sf((usl - mean) / sigma)) if usl is not None else None
    return {"below_lsl": below, "above_usl": above, "total": sum(v for v in (below, above) if v is not None)}


def _cpm(x, mean, lsl, usl, target, confidence):
    if target is None or x.size < 2:
        return None
    sides = [v for v in ((target - lsl) if lsl is not None else None, (usl - target) if usl is not None else None)
             if v is not None]
    tau = math.sqrt(float(np.sum((x - target) ** 2)) / (x.size - 1))
    if not sides or tau == 0:
        return {"Cpm": None}
    value = min(sides) / (3.0 * tau)
    s = float(np.std(x, ddof=1))
    a = (mean - target) / s if s > 0 else 0.0
    dof = x.size * (1 + a * a) ** 2 / (1 + 2 * a * a)
    alpha = 1.0 - confidence
    return {"Cpm": value, "Cpm_ci": [value * math.sqrt(stats.chi2.ppf(alpha / 2, dof) / dof),
                                     value * math.sqrt(stats.chi2.ppf(1 - alpha / 2, dof) / dof)], "dof": dof}


def _box_cox(x, lsl, usl, target, within_sigma_of, within_df, confidence) -> dict:
    transformed, lam = stats.boxcox(x)
    lam = float(lam)

    def bc(value):
        # A spec limit ≤ 0 lies below every possible (positive) value: that side has no limit on this scale.
        return float(special.boxcox(value, lam)) if value is not None and value > 0 else None

    sigma_within = within_sigma_of(lambda a: special.boxcox(a, lam)) if within_sigma_of is not None else None
    out = _normal_indices(transformed, bc(lsl), bc(usl), bc(target), sigma_within, within_df, confidence)
    # ppm observed on the original scale (identical, the transform is monotone)
    out["method"] = {
        "route": "box-cox", "lambda": lam, "transformed_spec": {"lsl": bc(lsl), "usl": bc(usl), "target": bc(target)},
        "normality_after": anderson_darling(transformed),
        "note": "indices computed on the Box-Cox transformed scale (y = (x^λ − 1)/λ)",
    }
    return out


def _johnson(x, lsl, usl, confidence) -> dict:
    params = stats.johnsonsu.fit(x)
    dist = stats.johnsonsu(*params)
    low, median, high = (float(v) for v in dist.ppf([_LOW, 0.5, _HIGH]))
    upper = (usl - median) / (high - median) if usl is not None else None
    lower = (median - lsl) / (median - low) if lsl is not None else None
    sides = [v for v in (upper, lower) if v is not None]
    below = 1e6 * float(dist.cdf(lsl)) if lsl is not None else None
    above = 1e6 * float(dist.sf(usl)) if usl is not None else None
    return {
        "mean": float(np.mean(x)), "sigma_within": None, "sigma_overall": float(np.std(x, ddof=1)), "within": None,
        "overall": {
            "Pp": (usl - lsl) / (high - low) if usl is not None and lsl is not None else None,
            "Ppu": upper, "Ppl": lower, "Ppk": min(sides) if sides else None,
            "expected_ppm": {"below_lsl": below, "above_usl": above,
                             "total": sum(v for v in (below, above) if v is not None)},
        },
        "observed_ppm": {
            "below_lsl": 1e6 * float(np.mean(x < lsl)) if lsl is not None else None,
            "above_usl": 1e6 * float(np.mean(x > usl)) if usl is not None else None,
        },
        "cpm": None,
        "method": {
            "route": "johnson", "family": "SU", "parameters": [float(p) for p in params],
            "percentiles": {"0.135%": low, "50%": median, "99.865%": high},
            "note": "Johnson SU fitted by maximum likelihood; percentile method (ISO 22514-2); no within indices",
        },
    }


def attribute_capability(limits, counts, sizes, confidence=0.95) -> dict:
    """Binomial (p, np) or Poisson (c, u) capability: the average rate with an exact confidence interval."""
    alpha = 1.0 - confidence
    total = float(np.sum(counts))
    if limits.chart in ("p", "np"):
        inspected = float(np.sum(sizes))
        low = stats.beta.ppf(alpha / 2, total, inspected - total + 1) if total > 0 else 0.0
        high = stats.beta.ppf(1 - alpha / 2, total + 1, inspected - total) if total < inspected else 1.0
        p = total / inspected
        return _finite({
            "route": "binomial", "proportion": p, "proportion_ci": [float(low), float(high)], "ppm": 1e6 * p,
            "process_z": float(stats.norm.isf(p)) if 0 < p < 1 else None, "confidence": confidence,
            "method": "Clopper-Pearson exact interval; process Z = Φ⁻¹(1 − p̄)",
        })
    units = float(np.sum(sizes)) if sizes is not None else float(np.size(counts))
    low = stats.chi2.ppf(alpha / 2, 2 * total) / 2 if total > 0 else 0.0
    high = stats.chi2.ppf(1 - alpha / 2, 2 * total + 2) / 2
    return _finite({
        "route": "poisson", "defects_per_unit": total / units, "defects_per_unit_ci": [low / units, high / units],
        "confidence": confidence, "method": "exact Poisson interval (chi-square)",
    })


def _finite(value):
    """JSON has no inf/NaN: a non-finite index (zero sigma) becomes null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
