"""Symmetric label noise with a known ground truth.

Exactly ``round(noise_level * n)`` training labels are flipped, chosen uniformly at random without
replacement, each to a class drawn uniformly from the *other* classes (so every chosen label really
changes). The random generator is seeded from the run's seed and the noise level, so a level's noise
does not depend on which other levels are in the grid.
"""

from __future__ import annotations

import numpy as np


def noise_rng(seed: int, noise_level: float) -> np.random.Generator:
    # Integer key: the same level written as 0.3 or 0.30 gives the same noise.
    return np.random.default_rng([seed, int(round(noise_level * 1_000_000))])


def inject_symmetric_noise(
    labels: np.ndarray, noise_level: float, n_classes: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(noisy_labels, flipped)``: a copy of `labels` with exact-count symmetric noise, and its mask."""
    if not 0 <= noise_level < 1:
        raise ValueError(f"noise_level must be in [0, 1), got {noise_level}")
    if n_classes < 2:
        raise ValueError(f"symmetric noise needs at least 2 classes, got {n_classes}")
    labels = np.asarray(labels, dtype=np.int64)
    n_flips = int(round(noise_level * len(labels)))
    rng = noise_rng(seed, noise_level)
    chosen = rng.choice(len(labels), size=n_flips, replace=False)
    # An offset in 1..K-1 added modulo K is uniform over the other K-1 classes and never a no-op.
    offsets = rng.integers(1, n_classes, size=n_flips)
    noisy = labels.copy()
    noisy[chosen] = (labels[chosen] + offsets) % n_classes
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[chosen] = True
    return noisy, flipped
