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

- ``matrix`` and ``sparse_matrix``: the Confident Learning paper's noise, from cleanlab's generator
  (labelsweep.noise_matrix): a random noise matrix with trace ``K * (1 - p)`` and a share of zero off-diagonal
  rates (params.yaml ``noise_matrix.frac_zero_noise_rates``, ``noise_matrix.sparse_frac_zero_noise_rates``: two
  kinds, so that two sparsities run in one grid), each class's flips drawn from its column. The only kinds whose
  count of flips is not exactly ``round(p * n)``: :func:`noise_record` gives the realised rate, the difference and
  both matrices.

A noise kind is one entry of :data:`NOISE_KINDS` (:func:`noise_kind`): a name and the function that gives
the chosen labels their wrong classes, or (:func:`whole_noise_kind`) one that draws a run's noise as a whole.
params.yaml (`runs.noise_kinds`, `study.noise_kinds`) accepts every registered name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelsweep.noise_matrix import SETTING, check_matrix_setting, matrix_noise, transition_matrix

# (labels of the chosen samples, the run's generator, number of classes, confusable class per class) -> new labels
Flip = Callable[[np.ndarray, np.random.Generator, int, "np.ndarray | None"], np.ndarray]


# number of classes K -> (the lowest level at which the noisy labels stop pointing at the truth, why)
Limit = Callable[[int], "tuple[float, str]"]


@dataclass(frozen=True)
class Noise:
    """One run's noisy labels, the mask of those that differ from the truth, and the noise matrix they were drawn
    from where the kind draws from one (``matrix``; else None)."""

    noisy: np.ndarray
    flipped: np.ndarray
    generated: np.ndarray | None = None


# (a run's true labels, level, number of classes, seed, the kind's settings) -> its Noise: a kind drawn as a whole
Draw = Callable[[np.ndarray, float, int, int, Mapping[str, Any]], Noise]


@dataclass(frozen=True)
class NoiseKind:
    flip: Flip | None
    limit: Limit  # where this kind's labels stop pointing at the truth: a level there or above is refused
    uses_confusable: bool = False  # needs params.yaml `<dataset>.confusable` (each class's confusable class)
    draw: Draw | None = None  # a kind whose flips are not round(p * n) chosen labels (instead of `flip`)


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


def whole_noise_kind(name: str, limit: Limit) -> Callable[[Draw], Draw]:
    """Register a noise kind under `name` that draws a run's noise as a whole (a decorator of its draw function)."""
    def register(draw: Draw) -> Draw:
        NOISE_KINDS[name] = NoiseKind(None, limit, draw=draw)
        return draw
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


def _matrix_limit(n_classes: int) -> tuple[float, str]:
    bound = 1 - 1 / n_classes
    return bound, (f"matrix noise over {n_classes} classes: 1 - 1/K = {bound:.4g}, where the noise matrix's trace "
                   "K (1 - p) falls to 1 and cleanlab's generator has no valid matrix")


def _matrix_draw(kind: str) -> Draw:
    """The draw of a `matrix` kind: cleanlab's generator at the sparsity of the kind's setting (noise_matrix)."""
    def draw(labels: np.ndarray, noise_level: float, n_classes: int, seed: int, options: Mapping[str, Any]) -> Noise:
        drawn = matrix_noise(labels, noise_level, n_classes, seed, options.get(SETTING[kind], 0.0), kind)
        return Noise(drawn.noisy, drawn.flipped, drawn.noise_matrix)
    return draw


for _kind in SETTING:  # matrix and sparse_matrix
    whole_noise_kind(_kind, _matrix_limit)(_matrix_draw(_kind))


def check_kind_settings(kinds: set[str], noise_level: float, n_classes: int, options: Mapping[str, Any]) -> None:
    """Refuse, in one line naming the setting, a level or setting a kind of `kinds` cannot take (before any work)."""
    for kind in sorted(kinds & SETTING.keys()):
        check_matrix_setting(noise_level, n_classes, options.get(SETTING[kind], 0.0),
                             sparsity_key=f"noise_matrix.{SETTING[kind]}")


def stream_key(name: str) -> int:
    """A stable 32-bit number from a noise kind's name (not Python's salted hash): its random stream's key."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def noise_rng(seed: int, noise_level: float, kind: str = SYMMETRIC) -> np.random.Generator:
    # Integer level key: the same level written as 0.3 or 0.30 gives the same noise.
    return np.random.default_rng([seed, int(round(noise_level * 1_000_000)), stream_key(kind)])


def draw_noise(labels: np.ndarray, noise_level: float, n_classes: int, seed: int, kind: str = SYMMETRIC,
               confusable: np.ndarray | None = None, options: Mapping[str, Any] | None = None) -> Noise:
    """The :class:`Noise` of `kind` on `labels`: exact-count noise (a flip kind), or the kind's own draw with its
    `options` (params.yaml's section of it: ``noise_matrix`` for ``matrix``).

    `confusable[c]` is the class a flipped label of class c becomes (the kinds that use it).
    """
    if not 0 <= noise_level < 1:
        raise ValueError(f"noise_level must be in [0, 1), got {noise_level}")
    if n_classes < 2:
        raise ValueError(f"label noise needs at least 2 classes, got {n_classes}")
    if kind not in NOISE_KINDS:
        raise ValueError(f"noise kind must be one of {tuple(NOISE_KINDS)}, got {kind!r}")
    labels = np.asarray(labels, dtype=np.int64)
    entry = NOISE_KINDS[kind]
    if entry.draw is not None:
        return entry.draw(labels, noise_level, n_classes, seed, options or {})
    n_flips = int(round(noise_level * len(labels)))
    rng = noise_rng(seed, noise_level, kind)
    chosen = rng.choice(len(labels), size=n_flips, replace=False)
    noisy = labels.copy()
    noisy[chosen] = entry.flip(labels[chosen], rng, n_classes, confusable)
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[chosen] = True
    return Noise(noisy, flipped)


def inject_noise(labels: np.ndarray, noise_level: float, n_classes: int, seed: int, kind: str = SYMMETRIC,
                 confusable: np.ndarray | None = None, options: Mapping[str, Any] | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(noisy_labels, flipped)``: a copy of `labels` with noise of `kind` (:func:`draw_noise`), and its
    mask."""
    noise = draw_noise(labels, noise_level, n_classes, seed, kind, confusable, options)
    return noise.noisy, noise.flipped


def noise_record(labels: np.ndarray, noise: Noise, noise_level: float, n_classes: int) -> dict:
    """What a run's noise realised, for the record: flips, their share, the difference from round(p * n) (0 but
    for ``matrix``), the realised ``P(noisy = j | true = k)`` (columns: true classes) and the generated one."""
    n, flips = len(labels), int(noise.flipped.sum())
    return {"samples": n, "flips": flips, "rate": flips / n, "count_difference": flips - int(round(noise_level * n)),
            "realised_matrix": transition_matrix(np.asarray(labels), noise.noisy, n_classes).round(6).tolist(),
            "generated_matrix": None if noise.generated is None else np.asarray(noise.generated).round(6).tolist()}
