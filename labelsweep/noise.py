"""Label noise with a known ground truth: symmetric or class-conditional, always an exact count.

Exactly ``round(noise_level * n)`` training labels are flipped, chosen uniformly at random without
replacement, so the noise level is the share of training labels that are wrong. A chosen label
always changes:

- ``symmetric``: to a class drawn uniformly from the *other* classes;
- ``class_conditional``: to its class's fixed confusable class (params.yaml ``<dataset>.confusable``),
  the kind of error a tired annotator makes (a shirt labelled T-shirt, a "vii" labelled "viii").

Papers that draw a noisy label from a noise matrix whose diagonal is ``1 - p`` let a "flip" land on
the true class; their ``p`` corresponds to fewer wrong labels (``p * (K - 1) / K`` for symmetric noise
over K classes). Here ``p`` is the wrong share itself. The random generator is seeded from the run's
seed, the noise level and the kind, so a level's noise does not depend on which other levels, kinds
or seeds are in the grid.
"""

from __future__ import annotations

import numpy as np

from labelsweep.config import NOISE_KINDS


def level_limit(kinds: set[str], n_classes: int) -> tuple[float, str] | None:
    """The lowest level, over noise `kinds`, at which the noisy labels stop pointing at the truth, and why; None
    for no kind. Symmetric noise over K classes keeps a class's own label the most frequent only below (K-1)/K
    (at it, all K labels are equally likely); class-conditional noise, which sends every flip of a class to one
    class, only below 1/2. cleanlab's confident learning assumes exactly this (its noise matrix diagonally
    dominant), and the study's baselines measure nothing beyond it."""
    limits = {"symmetric": ((n_classes - 1) / n_classes, f"symmetric noise over {n_classes} classes: (K-1)/K = "
                            f"{(n_classes - 1) / n_classes:.4g}, where every label is equally likely"),
              "class_conditional": (0.5, "class_conditional noise: 0.5, where a class's flipped label is as frequent "
                                    "as its true one")}
    return min((limits[kind] for kind in kinds), default=None)


def noise_rng(seed: int, noise_level: float, kind: str = "symmetric") -> np.random.Generator:
    # Integer key: the same level written as 0.3 or 0.30 gives the same noise. The symmetric key is the
    # one earlier versions used, so their symmetric noise is unchanged.
    key = [seed, int(round(noise_level * 1_000_000))]
    return np.random.default_rng(key if kind == "symmetric" else [*key, 1 + NOISE_KINDS.index(kind)])


def inject_noise(labels: np.ndarray, noise_level: float, n_classes: int, seed: int, kind: str = "symmetric",
                 confusable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(noisy_labels, flipped)``: a copy of `labels` with exact-count noise of `kind`, and its mask.

    `confusable[c]` is the class a flipped label of class c becomes (``class_conditional`` only).
    """
    if not 0 <= noise_level < 1:
        raise ValueError(f"noise_level must be in [0, 1), got {noise_level}")
    if n_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {n_classes}")
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")
    labels = np.asarray(labels, dtype=np.int64)
    n_flips = int(round(noise_level * len(labels)))
    rng = noise_rng(seed, noise_level, kind)
    chosen = rng.choice(len(labels), size=n_flips, replace=False)
    noisy = labels.copy()
    if kind == "symmetric":
        # An offset in 1..K-1 added modulo K is uniform over the other K-1 classes and never a no-op.
        noisy[chosen] = (labels[chosen] + rng.integers(1, n_classes, size=n_flips)) % n_classes
    else:
        confusable = np.asarray(confusable, dtype=np.int64)
        if confusable.shape != (n_classes,) or (confusable == np.arange(n_classes)).any():
            raise ValueError("confusable must name, for every class, another class")
        noisy[chosen] = confusable[labels[chosen]]
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[chosen] = True
    return noisy, flipped

