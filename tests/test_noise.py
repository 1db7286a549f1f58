import numpy as np
import pytest

from labelsweep.noise import inject_symmetric_noise


@pytest.fixture
def labels():
    return np.random.default_rng(1).integers(0, 10, size=10_001)


@pytest.mark.parametrize("noise_level", [0.0, 0.05, 0.333, 0.5, 0.95])
def test_flips_exactly_round_p_n_labels_each_to_another_class(labels, noise_level):
    noisy, flipped = inject_symmetric_noise(labels, noise_level, n_classes=10, seed=0)
    assert flipped.sum() == round(noise_level * len(labels))
    assert (noisy != labels).sum() == flipped.sum()  # every chosen label really changed
    assert np.array_equal(noisy[~flipped], labels[~flipped])
    assert noisy.min() >= 0 and noisy.max() <= 9


def test_same_seed_same_noise_other_seed_other_noise(labels):
    a = inject_symmetric_noise(labels, 0.3, 10, seed=0)
    b = inject_symmetric_noise(labels, 0.3, 10, seed=0)
    c = inject_symmetric_noise(labels, 0.3, 10, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_new_class_is_uniform_over_the_other_classes():
    labels = np.zeros(90_000, dtype=np.int64)
    noisy, flipped = inject_symmetric_noise(labels, 0.5, n_classes=10, seed=3)
    counts = np.bincount(noisy[flipped], minlength=10)
    assert counts[0] == 0
    expected = flipped.sum() / 9
    assert np.all(np.abs(counts[1:] - expected) < 5 * np.sqrt(expected))  # ~5 sigma


def test_does_not_modify_its_input(labels):
    before = labels.copy()
    inject_symmetric_noise(labels, 0.4, 10, seed=0)
    assert np.array_equal(labels, before)


@pytest.mark.parametrize("noise_level", [-0.1, 1.0, 1.5])
def test_rejects_levels_outside_0_1(labels, noise_level):
    with pytest.raises(ValueError, match="noise_level"):
        inject_symmetric_noise(labels, noise_level, 10, seed=0)
