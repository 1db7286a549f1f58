"""The matrix noise kind (labelsweep.noise_matrix): the realised transition matrix matches the generated one within
sampling error (and, sharper, within the generator's floors), its diagonal dominates in the
sense cleanlab's valid_noise_matrix guarantees, the counts are stated against round(p n), the result is seeded and
leaves NumPy's global generator alone, and bad settings are refused in one line naming the key before any work."""

import numpy as np
import pytest
from scipy import stats

from labelsweep.errors import ConfigError
from labelsweep.noise_matrix import check_matrix_setting, inject_matrix_noise, matrix_noise, transition_matrix

K = 10


@pytest.fixture(scope="module")
def labels():
    return np.random.default_rng(3).integers(0, K, size=20_000)


@pytest.mark.parametrize("level, sparsity", [(0.2, 0.0), (0.4, 0.4), (0.4, 0.6)])
def test_realised_matrix_matches_the_generated_one(labels, level, sparsity):
    noise = matrix_noise(labels, level, K, seed=0, frac_zero_noise_rates=sparsity)
    n_k = np.bincount(labels, minlength=K)
    gap = np.abs(noise.realised - noise.noise_matrix)
    # Within sampling error: three binomial standard deviations of a class's share (plus the one-label floor) ...
    sd = np.sqrt(noise.noise_matrix * (1 - noise.noise_matrix) / n_k)
    assert (gap <= 3 * sd + 1 / n_k).all()
    # ... and sharper, as the generator fixes every off-diagonal count to floor(T n_k): less than one label per
    # class off the diagonal, and the diagonal (which keeps the rest) less than K - 1 labels.
    off = ~np.eye(K, dtype=bool)
    assert (gap[off] < np.broadcast_to(1 / n_k, (K, K))[off]).all()
    assert (np.diag(gap) < (K - 1) / n_k).all() and (np.diag(noise.realised) >= np.diag(noise.noise_matrix)).all()
    # and a chi-square goodness of fit per class cannot tell the noisy labels from draws of T's column
    counts = noise.realised * n_k
    for k in range(K):
        expected = noise.noise_matrix[:, k] * n_k[k]
        kept = expected > 0
        assert counts[~kept, k].sum() == 0  # a zero noise rate is never realised
        assert stats.chisquare(counts[kept, k], expected[kept] * counts[kept, k].sum() / expected[kept].sum()
                               ).pvalue > 0.01
    assert np.isclose(np.trace(noise.noise_matrix), K * (1 - level))


@pytest.mark.parametrize("level, sparsity", [(0.2, 0.0), (0.4, 0.4), (0.6, 0.6)])
def test_the_diagonal_dominates_as_a_valid_noise_matrix(labels, level, sparsity):
    """P(true = k, noisy = k) > P(true = k) P(noisy = k) for every class k, on the realised labels."""
    noise = matrix_noise(labels, level, K, seed=1, frac_zero_noise_rates=sparsity)
    joint = np.zeros((K, K))
    np.add.at(joint, (noise.noisy, labels), 1 / len(labels))
    assert (np.diag(joint) > joint.sum(1) * joint.sum(0)).all()
    if level == 0.2 and sparsity == 0.0:  # at a low level it also dominates every column
        off = noise.realised - np.diag(np.diag(noise.realised))
        assert (np.diag(noise.realised) > off.max(0)).all()


def test_counts_and_rate_are_stated_against_round_p_n(labels):
    noise = matrix_noise(labels, 0.3, K, seed=2)
    flips = int((noise.noisy != labels).sum())
    assert (noise.flipped == (noise.noisy != labels)).all()
    assert noise.rate == flips / len(labels)
    assert noise.count_difference == flips - round(0.3 * len(labels))
    # near-balanced classes: within the floors (at most K (K - 1) labels) plus the classes' imbalance
    n_k = np.bincount(labels)
    expected = (n_k * (1 - np.diag(noise.noise_matrix))).sum()
    assert expected - K * (K - 1) <= flips <= expected


def test_seeded_by_run_and_level_and_global_state_untouched(labels):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = inject_matrix_noise(labels, 0.3, K, seed=0)
    assert (np.random.get_state()[1] == before).all()
    b = inject_matrix_noise(labels, 0.3, K, seed=0)
    c = inject_matrix_noise(labels, 0.3, K, seed=1)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    assert (a[0] != c[0]).any()


def test_level_zero_flips_nothing(labels):
    noise = matrix_noise(labels, 0.0, K, seed=0)
    assert not noise.flipped.any() and noise.rate == 0 and noise.count_difference == 0
    assert (noise.realised == np.eye(K)).all()


def test_transition_matrix_by_hand():
    true = np.array([0, 0, 0, 0, 1, 1])
    noisy = np.array([0, 0, 0, 1, 1, 0])
    assert transition_matrix(true, noisy, 2).tolist() == [[0.75, 0.5], [0.25, 0.5]]


@pytest.mark.parametrize("level, sparsity, message", [
    (0.2, 1.5, "params.yaml: frac_zero_noise_rates = 1.5 is not allowed: a share of the off-diagonal"),
    (0.2, -0.1, "params.yaml: frac_zero_noise_rates = -0.1 is not allowed"),
    (0.2, 1.0, "params.yaml: frac_zero_noise_rates = 1.0 is not allowed"),
    (0.9, 0.0, "params.yaml: noise = 0.9 is not allowed: matrix noise over 10 classes reaches levels in [0, 0.9)"),
    (0.95, 0.0, "params.yaml: noise = 0.95 is not allowed"),
])
def test_bad_settings_are_refused_in_one_line_before_any_work(level, sparsity, message, monkeypatch):
    import cleanlab.benchmarking.noise_generation as generator

    def no_work(*args, **kwargs):
        raise AssertionError("the generator ran")

    monkeypatch.setattr(generator, "generate_noise_matrix_from_trace", no_work)
    with pytest.raises(ConfigError) as error:
        matrix_noise(np.arange(100) % K, level, K, seed=0, frac_zero_noise_rates=sparsity)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_two_classes_reach_below_one_half():
    check_matrix_setting(0.49, 2, 0.0)
    with pytest.raises(ConfigError, match="reaches levels in \\[0, 0.5\\)"):
        check_matrix_setting(0.5, 2, 0.0)


def test_a_missing_class_is_refused():
    with pytest.raises(ValueError, match="every one of the 10 classes"):
        matrix_noise(np.arange(100) % 9, 0.2, K, seed=0)
