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
seed, the noise level and the kind's *name*, so a level's noise does not depend on which other levels,
kinds or seeds are in the grid, nor on the order the kinds are registered in.

A noise kind is one entry of :data:`NOISE_KINDS` (:func:`noise_kind`): a name and the function that gives
the chosen labels their wrong classes. params.yaml (`runs.noise_kinds`, `study.noise_kinds`) accepts every
registered name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# (labels of the chosen samples, the run's generator, number of classes, confusable class per class) -> new labels
Flip = Callable[[np.ndarray, np.random.Generator, int, "np.ndarray | None"], np.ndarray]


# number of classes K -> (the lowest level at which the noisy labels stop pointing at the truth, why)
Limit = Callable[[int], "tuple[float, str]"]


@dataclass(frozen=True)
class NoiseKind:
    flip: Flip
    limit: Limit  # where this kind's labels stop pointing at the truth: a level there or above is refused
    uses_confusable: bool = False  # needs params.yaml `<dataset>.confusable` (each class's confusable class)


def level_limit(kinds: set[str], n_classes: int) -> tuple[float, str] | None:
    """The lowest level, over noise `kinds`, at which the noisy labels stop pointing at the truth, and why; None
    for no kind. cleanlab's confident learning assumes labels that still point at the truth (its noise matrix
    diagonally dominant), and a baseline measures nothing beyond that level."""
    return min((NOISE_KINDS[kind].limit(n_classes) for kind in kinds), default=None)


NOISE_KINDS: dict[str, NoiseKind] = {}
SYMMETRIC, CLASS_CONDITIONAL = "symmetric", "class_conditional"


def noise_kind(name: str, limit: Limit, uses_confusable: bool = False) -> Callable[[Flip], Flip]:
    """Register a noise kind under `name` (a decorator of its flip function), with the level it cannot reach."""
    def register(flip: Flip) -> Flip:
        NOISE_KINDS[name] = NoiseKind(flip, limit, uses_confusable)
        return flip
    return register


def uses_confusable(kinds: list[str]) -> list[str]:
    """The kinds of `kinds` that need every dataset's confusable classes."""
    return [kind for kind in kinds if NOISE_KINDS[kind].uses_confusable]


def _symmetric_limit(n_classes: int) -> tuple[float, str]:
    # At (K-1)/K every one of the K labels of a class is equally likely.
    bound = (n_classes - 1) / n_classes
    return bound, (f"symmetric noise over {n_classes} classes: (K-1)/K = {bound:.4g}, where every label is equally "
                   "likely")


def _confusable_limit(n_classes: int) -> tuple[float, str]:
    # Every flip of a class goes to one class: at 1/2 the flipped label is as frequent as the true one.
    return 0.5, "class_conditional noise: 0.5, where a class's flipped label is as frequent as its true one"


@noise_kind(SYMMETRIC, _symmetric_limit)
def _symmetric(labels: np.ndarray, rng: np.random.Generator, n_classes: int, confusable: np.ndarray | None
               ) -> np.ndarray:
    # An offset in 1..K-1 added modulo K is uniform over the other K-1 classes and never a no-op.
    return (labels + rng.integers(1, n_classes, size=len(labels))) % n_classes


@noise_kind(CLASS_CONDITIONAL, _confusable_limit, uses_confusable=True)
def _class_conditional(labels: np.ndarray, rng: np.random.Generator, n_classes: int,
                       confusable: np.ndarray | None) -> np.ndarray:
    confusable = np.asarray(confusable, dtype=np.int64)
    if confusable.shape != (n_classes,) or (confusable == np.arange(n_classes)).any():
        raise ValueError("confusable must name, for every class, another class")
    return confusable[labels]


def stream_key(name: str) -> int:
    """A stable 32-bit number from a noise kind's name (not Python's salted hash): its random stream's key."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def noise_rng(seed: int, noise_level: float, kind: str = SYMMETRIC) -> np.random.Generator:
    # Integer level key: the same level written as 0.3 or 0.30 gives the same noise.
    return np.random.default_rng([seed, int(round(noise_level * 1_000_000)), stream_key(kind)])


def inject_noise(labels: np.ndarray, noise_level: float, n_classes: int, seed: int, kind: str = SYMMETRIC,
                 confusable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(noisy_labels, flipped)``: a copy of `labels` with exact-count noise of `kind`, and its mask.

    `confusable[c]` is the class a flipped label of class c becomes (the kinds that use it).
    """
    if not 0 <= noise_level < 1:
        raise ValueError(f"noise_level must be in [0, 1), got {noise_level}")
    if n_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {n_classes}")
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {tuple(NOISE_KINDS)}, got {kind!r}")
    labels = np.asarray(labels, dtype=np.int64)
    n_flips = int(round(noise_level * len(labels)))
    rng = noise_rng(seed, noise_level, kind)
    chosen = rng.choice(len(labels), size=n_flips, replace=False)
    noisy = labels.copy()
    noisy[chosen] = NOISE_KINDS[kind].flip(labels[chosen], rng, n_classes, confusable)
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[chosen] = True
    return noisy, flipped

