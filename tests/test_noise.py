"""Symmetric label noise: the exact count, the ground-truth mask, reproducibility, uniform new classes."""

import numpy as np
import pytest

from labelsweep.noise import inject_symmetric_noise


@pytest.fixture
def labels():
    return np.random.default_rng(1).integers(0, 10, size=10_001)


@pytest.mark.parametrize(
    "n, noise_level, flips",
    [  # p * n, then Python's round(): the nearest integer, a tie (x.5) to the even one
        (10_001, 0.0, 0),
        (10_001, 0.05, 500),  # 500.05
        (10_001, 0.333, 3330),  # 3330.333
        (10_001, 0.5, 5000),  # 5000.5: a tie, to the even 5000
        (36, 0.2, 7),  # 7.2 (the tiny image-folder sweep)
        (2000, 0.2, 400),
        (10, 0.25, 2),  # 2.5: a tie, down to the even 2
        (14, 0.25, 4),  # 3.5: a tie, up to the even 4
        (6, 0.25, 2),  # 1.5 -> 2
        (2, 0.25, 0),  # 0.5 -> 0: nothing flipped
        (4, 0.375, 2),  # 1.5 -> 2
        (10, 0.9, 9),
    ],
)
def test_flips_exactly_round_p_n_labels_each_to_another_class(n, noise_level, flips):
    """The documented count, round(p * n) with Python's ties-to-even, checked against hand-counted numbers; the
    flipped labels all changed, the others did not."""
    labels = np.random.default_rng(1).integers(0, 10, size=n)
    noisy, flipped = inject_symmetric_noise(labels, noise_level, n_classes=10, seed=0)
    assert flipped.sum() == flips
    assert np.array_equal(noisy != labels, flipped)  # every chosen label really changed, no other one did
    assert noisy.min() >= 0 and noisy.max() <= 9


def test_same_seed_same_noise_other_seed_other_noise(labels):
    """The noise is a function of (labels, level, seed): rerunning a stage reproduces it, another seed changes it."""
    a = inject_symmetric_noise(labels, 0.3, 10, seed=0)
    b = inject_symmetric_noise(labels, 0.3, 10, seed=0)
    c = inject_symmetric_noise(labels, 0.3, 10, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_a_level_written_differently_gives_the_same_noise(labels):
    """0.3 and 0.1 + 0.2 (= 0.30000000000000004) are one level: the generator is keyed on the level in millionths."""
    a = inject_symmetric_noise(labels, 0.3, 10, seed=0)
    b = inject_symmetric_noise(labels, 0.1 + 0.2, 10, seed=0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_new_class_is_uniform_over_the_other_classes():
    """45,000 flips from class 0 land on each of the 9 other classes about 5,000 times (within 5 sigma), never on 0."""
    labels = np.zeros(90_000, dtype=np.int64)
    noisy, flipped = inject_symmetric_noise(labels, 0.5, n_classes=10, seed=3)
    counts = np.bincount(noisy[flipped], minlength=10)
    assert counts[0] == 0
    expected = flipped.sum() / 9
    assert np.all(np.abs(counts[1:] - expected) < 5 * np.sqrt(expected))  # ~5 sigma


def test_does_not_modify_its_input(labels):
    """The caller's labels (the raw folder's truth) are left as they were."""
    before = labels.copy()
    inject_symmetric_noise(labels, 0.4, 10, seed=0)
    assert np.array_equal(labels, before)


@pytest.mark.parametrize("noise_level", [-0.1, 1.0, 1.5])
def test_rejects_levels_outside_0_1(labels, noise_level):
    """A level below 0 or at or above 1 is refused, naming the argument."""
    with pytest.raises(ValueError, match="noise_level"):
        inject_symmetric_noise(labels, noise_level, 10, seed=0)
