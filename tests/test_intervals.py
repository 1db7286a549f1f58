"""Paired intervals with the test set's sampling error (labelsweep.intervals), against cases computable by hand: one
seed (the Wald interval of a paired difference of proportions from the discordant counts), all seeds identical (the
same), images that add nothing (the summary's t-interval over the seeds); its coverage in a simulation where the
seeds-only interval falls short; Holm's correction; and the seeds a 1-point difference needs (published t-test sample
sizes, and None where the test set alone forbids it)."""

import numpy as np
import pytest
from scipy import stats

from labelsweep.analysis import multiplicity
from labelsweep.analysis.intervals import holm, paired_difference, power, seeds_needed
from labelsweep.analysis.summary import t_interval


def one_seed(b, c, same_right, same_wrong):
    """Correctness of A and B on N images: b with A right and B wrong, c the reverse, then the concordant ones."""
    a = np.array([1] * b + [0] * c + [1] * same_right + [0] * same_wrong, dtype=bool)
    bb = np.array([0] * b + [1] * c + [1] * same_right + [0] * same_wrong, dtype=bool)
    return a, bb


def test_one_seed_is_the_paired_proportions_wald_interval_from_discordant_counts():
    b, c, n = 130, 90, 2221  # 220 discordant of 2,221: about 10 %
    a, bb = one_seed(b, c, 1700, n - 1700 - b - c)
    result = paired_difference(a, bb)
    se = np.sqrt(b + c - (b - c) ** 2 / n) / n  # by hand
    assert result.mean == pytest.approx((b - c) / n)
    assert result.se == pytest.approx(se)
    assert (result.low, result.high) == pytest.approx(((b - c) / n - 1.959964 * se, (b - c) / n + 1.959964 * se))
    assert result.df == np.inf and result.seed_var == 0
    assert result.high - result.low == pytest.approx(0.0262, abs=5e-4)  # ±1.3 points, as issue 29 says


def test_identical_seeds_give_the_one_seed_interval():
    a, bb = one_seed(40, 25, 300, 35)
    single = paired_difference(a, bb)
    repeated = paired_difference(np.tile(a, (5, 1)), np.tile(bb, (5, 1)))
    assert (repeated.mean, repeated.low, repeated.high) == pytest.approx((single.mean, single.low, single.high))


def test_images_that_add_nothing_give_the_t_interval_over_the_seeds():
    # d[s, i] = a_s: every image of a seed differs alike, so the seed-averaged image differences are all equal
    a = np.array([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    b = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)
    result = paired_difference(a, b)
    seeds = (a.astype(float) - b).mean(1)
    low, high = t_interval(seeds.mean(), seeds.std(ddof=1), 4)
    assert result.image_var == 0 and result.df == pytest.approx(3)
    assert (result.low, result.high) == pytest.approx((low, high))
    assert result.p == pytest.approx(stats.ttest_1samp(seeds, 0).pvalue)


def test_no_difference_at_all_gives_a_zero_width_interval_and_p_1():
    a = np.ones((3, 10), dtype=bool)
    result = paired_difference(a, a)
    assert (result.mean, result.low, result.high, result.p) == (0, 0, 0, 1)


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="same non-empty shape"):
        paired_difference(np.ones((2, 3)), np.ones((3, 3)))


def simulate(rng, n_seeds=5, n_images=400):
    """A population of test images, drawn afresh each time, on which each cell is right with its own probability
    (Beta(0.3, 0.3): mostly near 0 or 1, as a trained model is on most images), the same distribution for both
    cells, so that the population's difference is 0; each seed shifts cell A's probabilities a little (sd 0.01,
    symmetric, so the truth stays 0). The cells share their random draw per seed and image."""
    p_a, p_b = rng.beta(0.3, 0.3, (2, n_images))
    p_a = np.clip(p_a + rng.normal(0, 0.01, (n_seeds, 1)), 0, 1)
    u = rng.random((n_seeds, n_images))
    return u < p_a, u < p_b


def test_covers_the_population_difference_where_the_seeds_only_interval_falls_short():
    rng = np.random.default_rng(0)
    ours, seeds_only = [], []
    for _ in range(400):
        a, b = simulate(rng)
        result = paired_difference(a, b)
        ours.append(result.low <= 0 <= result.high)
        per_seed = (a.astype(float) - b).mean(1)
        low, high = t_interval(per_seed.mean(), per_seed.std(ddof=1), len(per_seed))
        seeds_only.append(low <= 0 <= high)
    assert 0.93 <= np.mean(ours) <= 0.98  # measured .955 (400 replicates: sd about .011)
    assert np.mean(seeds_only) < 0.75  # measured .56: the test set's error is missing from it


def test_holm_step_down_and_the_multiplicity_block_uses_the_same_function():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted: .005 <= .05/4, .01 <= .05/3, .03 > .05/2: stop; the first two rejected
    assert holm(p).tolist() == [True, False, False, True]
    assert holm(np.array([0.001, 0.02, 0.024])).tolist() == [True, True, True]  # .024 <= .05/1
    assert multiplicity.holm is holm


@pytest.mark.parametrize("effect, n", [(0.5, 34), (0.8, 15), (1.0, 10)])
def test_seeds_needed_matches_published_t_test_sample_sizes(effect, n):
    """One-sample two-sided t-test, alpha .05, power .8 (Cohen 1988's tables; G*Power gives the same n)."""
    assert seeds_needed(sd=1.0, difference=effect) == n
    assert power(n, effect, 1.0) >= 0.8 > power(n - 1, effect, 1.0)


def test_a_one_point_difference_at_sd_0015_needs_20_seeds():
    # by hand, the normal approximation ((1.96 + 0.8416) * 0.015 / 0.01)² = 17.7 is the t-test's lower bound
    assert ((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 1.5) ** 2 == pytest.approx(17.66, abs=0.01)
    assert seeds_needed(sd=0.015) == 20


def test_the_test_sets_own_error_can_make_a_difference_unresolvable():
    # 15 % of 2,221 images discordant: se about sqrt(0.15 * 2221) / 2221 = 0.0082; 2.8 se > 1 point
    image_se = np.sqrt(0.15 * 2221) / 2221
    assert seeds_needed(sd=0.015, image_se=image_se) is None
    # where the test set's error is small enough, more seeds are needed than without it
    assert seeds_needed(sd=0.015, image_se=0.002) > seeds_needed(sd=0.015)
    # the limit by hand: with infinitely many seeds the power is the normal test's at se = image_se
    limit = stats.norm.sf(1.959964 - 0.01 / 0.002) + stats.norm.cdf(-1.959964 - 0.01 / 0.002)
    assert power(100_000, 0.01, 0.015, image_se=0.002) == pytest.approx(limit, abs=1e-3)
