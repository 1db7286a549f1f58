"""The ``matrix`` noise kind: the Confident Learning paper's noise, from cleanlab's own generator (issue 28).

cleanlab.benchmarking.noise_generation draws a K x K noise matrix ``T[j, k] = P(noisy = j | true = k)`` (columns
sum to 1) with trace ``K * (1 - p)`` for noise level p, a share `frac_zero_noise_rates` of its off-diagonal rates
set to 0 (the paper's "sparsity"), and ``valid_noise_matrix=True``: for every class, ``P(true = k, noisy = k) >
P(true = k) P(noisy = k)``, the condition under which the paper shows noise is learnable; it needs a trace above 1,
so p < 1 - 1/K. generate_noisy_labels then flips, in every true class k, exactly ``floor(T[j, k] * n_k)`` labels
to each other class j, chosen at random: the counts are fixed, so the realised matrix differs from T by less than
``1 / n_k`` off the diagonal and ``(K - 1) / n_k`` on it (no sampling error at all in the counts).

How this differs from labelsweep.noise's kinds, which flip exactly ``round(p * n)`` labels:

- the diagonal is random, so classes are hit unequally (the mean of the diagonal is 1 - p);
- the number of flips is ``sum_k sum_j floor(T[j, k] * n_k)``, which is p * n only for balanced classes and then
  smaller by the floors (up to K * (K - 1) labels); :class:`MatrixNoise` records the difference;
- the diagonal need not dominate its column: at p = 0.4 (K = 10) a class is sent to some single other class more
  often than it is kept in about 8 of 20 of the generator's seeds (16 of 20 at sparsity 0.4).

Both cleanlab functions draw from NumPy's *global* random state; it is seeded from the run's seed, level and kind
(as labelsweep.noise seeds its own generator), and restored afterwards, so nothing else's randomness changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from labelsweep.errors import not_allowed

MATRIX, SPARSE_MATRIX = "matrix", "sparse_matrix"
# The two kinds are one generator at two sparsities (the paper's grid has four), each its own setting in params.yaml's
# `noise_matrix` section, so that both can run in one grid; and each its own random stream, kept apart from
# labelsweep.noise's streams (those are keyed by a hash of the kind's name).
SETTING = {MATRIX: "frac_zero_noise_rates", SPARSE_MATRIX: "sparse_frac_zero_noise_rates"}
_STREAM = {MATRIX: 1_000, SPARSE_MATRIX: 1_001}


@dataclass(frozen=True)
class MatrixNoise:
    """One run's matrix noise: the labels, what was flipped, the generated and the realised matrices."""

    noisy: np.ndarray  # (n,) int64
    flipped: np.ndarray  # (n,) bool: noisy != true
    noise_matrix: np.ndarray  # (K, K) the generator's T[j, k] = P(noisy = j | true = k)
    realised: np.ndarray  # (K, K) the same from the counts of (noisy, true)
    rate: float  # share of labels flipped
    count_difference: int  # flips - round(p * n): how far this kind is from the exact-count kinds


def check_matrix_setting(noise_level: float, n_classes: int, frac_zero_noise_rates: float,
                         level_key: str = "noise", sparsity_key: str = "frac_zero_noise_rates") -> None:
    """Refuse, in one line naming the setting, what the generator cannot do: a sparsity outside [0, 1), a level
    outside [0, 1 - 1/K) (a valid matrix needs a trace K (1 - p) above 1), fewer than 2 classes."""
    if not 0 <= frac_zero_noise_rates < 1:
        raise not_allowed(sparsity_key, frac_zero_noise_rates, "a share of the off-diagonal noise rates set to 0, "
                          "in [0, 1) (the Confident Learning paper: 0, 0.2, 0.4, 0.6)")
    if n_classes < 2:
        raise not_allowed(level_key, noise_level, f"matrix noise needs at least 2 classes, there are {n_classes}")
    if not 0 <= noise_level < 1 - 1 / n_classes:
        raise not_allowed(level_key, noise_level, f"matrix noise over {n_classes} classes reaches levels in [0, "
                          f"{1 - 1 / n_classes:g}) only: its trace K (1 - p) must exceed 1 for a valid noise matrix")


def matrix_seed(seed: int, noise_level: float, kind: str = MATRIX) -> int:
    """The 32-bit seed of NumPy's global generator for one run, level and kind (integer key, as labelsweep.noise)."""
    key = [seed, int(round(noise_level * 1_000_000)), _STREAM[kind]]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def transition_matrix(true: np.ndarray, noisy: np.ndarray, n_classes: int) -> np.ndarray:
    """The realised ``P(noisy = j | true = k)`` as a K x K matrix with columns summing to 1 (cleanlab's layout)."""
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (noisy, true), 1)
    return counts / counts.sum(axis=0, keepdims=True)


def matrix_noise(labels: np.ndarray, noise_level: float, n_classes: int, seed: int,
                 frac_zero_noise_rates: float = 0.0, kind: str = MATRIX) -> MatrixNoise:
    """Noisy `labels` from cleanlab's generator at level `noise_level` (trace K (1 - p)), with its record; `kind`
    picks the random stream."""
    from cleanlab.benchmarking.noise_generation import generate_noise_matrix_from_trace, generate_noisy_labels

    check_matrix_setting(noise_level, n_classes, frac_zero_noise_rates)
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels, minlength=n_classes)
    if len(counts) > n_classes or (counts == 0).any():
        raise ValueError(f"matrix noise needs labels of every one of the {n_classes} classes and no other")
    if noise_level == 0:
        matrix, noisy = np.eye(n_classes), labels.copy()
    else:
        state = np.random.get_state()
        try:
            matrix = generate_noise_matrix_from_trace(
                n_classes, n_classes * (1 - noise_level), py=counts / len(labels), valid_noise_matrix=True,
                frac_zero_noise_rates=frac_zero_noise_rates, seed=matrix_seed(seed, noise_level, kind))
            if matrix is None:
                raise not_allowed("noise", noise_level, f"cleanlab found no valid noise matrix at this level over "
                                  f"{n_classes} classes with these class sizes; use a lower level")
            noisy = np.asarray(generate_noisy_labels(labels, matrix), dtype=np.int64)
        finally:
            np.random.set_state(state)
    flipped = noisy != labels
    return MatrixNoise(noisy, flipped, matrix, transition_matrix(labels, noisy, n_classes), float(flipped.mean()),
                       int(flipped.sum()) - int(round(noise_level * len(labels))))


def inject_matrix_noise(labels: np.ndarray, noise_level: float, n_classes: int, seed: int,
                        frac_zero_noise_rates: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy_labels, flipped)`` as labelsweep.noise.inject_noise returns them (the same leading arguments), for
    a noise-kind registry; :func:`matrix_noise` gives the matrices and the counts as well."""
    noise = matrix_noise(labels, noise_level, n_classes, seed, frac_zero_noise_rates)
    return noise.noisy, noise.flipped
