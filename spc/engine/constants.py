"""Control-chart constants computed from their definitions, not copied from a table.

For a sample of n independent N(0, 1) variables:

- d2(n) = E[W], W the sample range:      d2 = ∫ 1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ dx                  (Tippett 1925)
- d3(n) = sd[W]:                          E[W²] = 2 ∫₀^∞ ∫ 1 − Φ(x+w)ⁿ − (1−Φ(x))ⁿ + (Φ(x+w) − Φ(x))ⁿ dx dw
- c4(n) = E[S]/σ, S the sample sd:        c4 = √(2/(n−1)) · Γ(n/2) / Γ((n−1)/2)

and the chart factors derived from them exactly as Montgomery, *Introduction to Statistical Quality Control*,
Appendix VI defines them: A2 = 3/(d2√n), A3 = 3/(c4√n), D3 = max(0, 1 − 3d3/d2), D4 = 1 + 3d3/d2,
B3 = max(0, 1 − 3√(1−c4²)/c4), B4 = 1 + 3√(1−c4²)/c4.

The integrals use Gauss–Legendre quadrature on a finite box (the integrands vanish to double precision outside
|x| ≤ 10, w ≤ 15); agreement with adaptive quadrature is ~1e-12, far below the tables' 3–4 decimals.
"""
from functools import cache, lru_cache

import numpy as np
from scipy import special

MIN_SUBGROUP = 2
MAX_SUBGROUP = 25  # the range the textbook tables cover and the API accepts; the formulas work beyond it

_NODES = 300


@lru_cache(maxsize=1)
def _legendre():
    return np.polynomial.legendre.leggauss(_NODES)


@cache
def d2(n: int) -> float:
    """Expected range of n standard normal variables."""
    _require_n(n)
    nodes, weights = _legendre()
    x = 10.0 * nodes
    integrand = 1.0 - special.ndtr(x) ** n - special.ndtr(-x) ** n
    return float(np.dot(10.0 * weights, integrand))


@cache
def d3(n: int) -> float:
    """Standard deviation of the range of n standard normal variables."""
    _require_n(n)
    nodes, weights = _legendre()
    x = (10.0 * nodes)[:, None]
    w = (7.5 * (nodes + 1.0))[None, :]
    upper = special.ndtr(x + w)
    integrand = 1.0 - upper**n - special.ndtr(-x) ** n + (upper - special.ndtr(x)) ** n
    second_moment = 2.0 * float(np.einsum("i,ij,j->", 10.0 * weights, integrand, 7.5 * weights))
    return float(np.sqrt(second_moment - d2(n) ** 2))


@cache
def c4(n: int) -> float:
    """E[S]/σ for a sample of n normal variables (S with the n − 1 divisor)."""
    _require_n(n)
    return float(np.sqrt(2.0 / (n - 1)) * np.exp(special.gammaln(n / 2.0) - special.gammaln((n - 1) / 2.0)))


def A2(n: int) -> float:
    return 3.0 / (d2(n) * np.sqrt(n))


def A3(n: int) -> float:
    return 3.0 / (c4(n) * np.sqrt(n))


def D3(n: int) -> float:
    return max(0.0, 1.0 - 3.0 * d3(n) / d2(n))


def D4(n: int) -> float:
    return 1.0 + 3.0 * d3(n) / d2(n)


def B3(n: int) -> float:
    return max(0.0, 1.0 - 3.0 * np.sqrt(1.0 - c4(n) ** 2) / c4(n))


def B4(n: int) -> float:
    return 1.0 + 3.0 * np.sqrt(1.0 - c4(n) ** 2) / c4(n)


def constants_table(n: int) -> dict[str, float]:
    """Every factor for one subgroup size, as a table row."""
    return {
        "n": n, "A2": A2(n), "A3": A3(n), "c4": c4(n), "d2": d2(n), "d3": d3(n),
        "B3": B3(n), "B4": B4(n), "D3": D3(n), "D4": D4(n),
    }


def per_size(function, sizes: np.ndarray) -> np.ndarray:
    """Vectorise a constant over an array of subgroup sizes (each distinct size is computed once)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    distinct, inverse = np.unique(sizes, return_inverse=True)
    return np.array([function(int(n)) for n in distinct], dtype=np.float64)[inverse]


def _require_n(n: int) -> None:
    if int(n) != n or n < 2:
        raise ValueError(f"subgroup size must be an integer ≥ 2, got {n!r}")
