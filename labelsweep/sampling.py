"""Stratified subsamples: a regime's training subsample (inject_noise) and a held-out test share (datasets).

A module of its own so that inject_noise imports no image-loading or fetching code for it.
"""

from __future__ import annotations

import numpy as np


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into a stratified `size`-sample part and the rest (both sorted)."""
    from sklearn.model_selection import train_test_split

    chosen, rest = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    return np.sort(chosen), np.sort(rest)
