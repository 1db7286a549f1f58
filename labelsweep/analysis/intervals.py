"""Intervals for paired differences that count the test set's own sampling error, Holm's correction, and the seeds
a difference needs (issue 29).

The intervals of labelsweep.summary are t-intervals over the seeds: they say where the mean over *seeds* would lie on
*this* test set. Every seed and cell scores the same test images, so the test set's own sampling error -- which
images happened to be drawn -- is shared by all seeds and is not in them. Two cells that disagree on 10-20 % of the
2,221 Roman test images carry about ±1.3-1.9 points of it.

**The method** (:func:`paired_difference`), analytic rather than a bootstrap: exact cases can be checked by hand, and
it is deterministic. From the per-image correctness of cells A and B, ``d[s, i] = A[s, i] - B[s, i]`` over S seeds
and N test images, in a two-way model ``d[s, i] = mu + a_s + b_i + e_si`` (a seed's effect, an image's effect,
their interaction), the estimate is the grand mean of d and its variance is estimated as

    se² = var_s(D_s) / S  +  var_i(m_i) / N

with ``D_s = mean_i d[s, i]`` the seed's difference in accuracy (sample variance, ddof 1: the seed-to-seed spread
the summary's t-interval uses) and ``m_i = mean_s d[s, i]`` the image's seed-averaged difference (ddof 0: with one
seed it is the textbook variance of a paired difference of proportions, ``(b + c - (b - c)² / N) / N²`` from the
discordant counts b (A right, B wrong) and c (A wrong, B right)). The first term has expectation
``sigma_a² / S + sigma_e² / (S N)``, the second ``sigma_b² / N + sigma_e² / (S N)``: the interaction is counted
twice, which makes the interval slightly conservative (by a term 1/N the size of the first). The interval is
``mean ± t(df) se`` with Welch-Satterthwaite degrees of freedom, the image term taken as normal (N is in the
thousands): ``df = se⁴ / ((var_s(D) / S)² / (S - 1))``, which is S - 1 when the images add nothing and infinite
(the normal interval) when the seeds do. With one seed the seed-to-seed spread is unknown and taken as 0: the interval
is then the test set's alone, the classic Wald interval for a paired difference of proportions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from labelsweep.analysis.summary import CONFIDENCE


@dataclass(frozen=True)
class PairedInterval:
    mean: float  # A's accuracy - B's, averaged over the seeds
    low: float
    high: float
    se: float
    df: float  # inf: the normal interval
    p: float  # two-sided p-value of mean = 0, the test the interval inverts
    seed_var: float  # var_s(D_s) / S
    image_var: float  # var_i(m_i) / N
    n_seeds: int
    n_images: int


def paired_difference(correct_a: np.ndarray, correct_b: np.ndarray, confidence: float = CONFIDENCE
                      ) -> PairedInterval:
    """Accuracy of A minus B from per-image correctness arrays (seeds x test images, or one seed's 1-D array),
    with the interval of the module doc: seed-to-seed spread plus the test set's sampling error."""
    a, b = np.atleast_2d(correct_a).astype(float), np.atleast_2d(correct_b).astype(float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"correct_a and correct_b must have the same non-empty shape, got {a.shape} and {b.shape}")
    d = a - b
    n_seeds, n_images = d.shape
    seed_var = d.mean(axis=1).var(ddof=1) / n_seeds if n_seeds > 1 else 0.0
    image_var = d.mean(axis=0).var(ddof=0) / n_images
    se = float(np.sqrt(seed_var + image_var))
    df = (seed_var + image_var) ** 2 / (seed_var**2 / (n_seeds - 1)) if seed_var > 0 else np.inf
    mean = float(d.mean())
    half = stats.t.ppf(0.5 + confidence / 2, df) * se
    if se > 0:
        p = float(2 * stats.t.sf(abs(mean) / se, df))
    else:
        p = 1.0 if mean == 0 else 0.0
    return PairedInterval(mean, mean - half, mean + half, se, float(df), p, float(seed_var), float(image_var),
                          n_seeds, n_images)


def holm(p: np.ndarray, alpha: float = 1 - CONFIDENCE) -> np.ndarray:
    """Holm's step-down rejections of a family of p-values at familywise error `alpha`."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    passed = p[order] <= alpha / (len(p) - np.arange(len(p)))
    rejected = np.zeros(len(p), dtype=bool)
    rejected[order[: len(p) if passed.all() else int(np.argmin(passed))]] = True
    return rejected


def holm_adjusted(p: np.ndarray) -> np.ndarray:
    """Holm's adjusted p-values (step-down, kept monotone, at most 1): a comparison is rejected at familywise error
    alpha exactly where its adjusted p-value is at most alpha (:func:`holm`), so a verdict can say by how much."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    stepped = np.minimum(np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]), 1.0)
    adjusted = np.empty(len(p))
    adjusted[order] = stepped
    return adjusted


def power(n_seeds: int, difference: float, sd: float, confidence: float = CONFIDENCE, image_se: float = 0.0
          ) -> float:
    """The chance that the interval over `n_seeds` seeds excludes 0 when the true paired difference is
    `difference`, the seed-to-seed sd of a paired difference is `sd` and the test set adds `image_se`: a two-sided
    t-test's power from the noncentral t, with the degrees of freedom of :func:`paired_difference`."""
    seed_var = sd**2 / n_seeds
    se = np.sqrt(seed_var + image_se**2)
    df = se**4 / (seed_var**2 / (n_seeds - 1)) if seed_var > 0 else np.inf
    if se == 0:
        return float(difference != 0)
    critical = stats.t.ppf(0.5 + confidence / 2, df)
    noncentrality = difference / se
    if np.isinf(df):
        return float(stats.norm.sf(critical - noncentrality) + stats.norm.cdf(-critical - noncentrality))
    return float(stats.nct.sf(critical, df, noncentrality) + stats.nct.cdf(-critical, df, noncentrality))


def seeds_needed(sd: float, difference: float = 0.01, confidence: float = CONFIDENCE, target: float = 0.8,
                 image_se: float = 0.0, max_seeds: int = 100_000) -> int | None:
    """The fewest seeds (at least 2) whose interval resolves a paired `difference` (default 1 point) with power
    `target`, from the measured seed-to-seed `sd` of a paired difference (:func:`power`). None where no number of
    seeds would: the test set's own `image_se` does not shrink with seeds, so a difference below about
    (z + z_power) · image_se is beyond this test set whatever the seeds."""
    critical = stats.norm.ppf(0.5 + confidence / 2)
    shift = difference / image_se if image_se > 0 else np.inf  # the normal test's, as the seeds grow without bound
    if stats.norm.sf(critical - shift) + stats.norm.cdf(-critical - shift) < target:
        return None
    high = 2  # power grows with the seeds: double past the target, then bisect for the smallest n that reaches it
    while power(high, difference, sd, confidence, image_se) < target:
        if high >= max_seeds:
            return None
        high = min(2 * high, max_seeds)
    low = max(2, high // 2)
    while low < high:
        middle = (low + high) // 2
        if power(middle, difference, sd, confidence, image_se) >= target:
            high = middle
        else:
            low = middle + 1
    return low
