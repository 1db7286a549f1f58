"""Turning cleanlab's flags into training labels, and scoring the flags against the injected truth.

A threshold ``prune_share`` in [0, 1] splits the flagged samples: the share with the *lowest* label
quality is pruned (dropped from training), the rest are relabelled to their suggested label.
``prune_share=1`` prunes every flagged sample, ``prune_share=0`` relabels them all.
"""

from __future__ import annotations

import math

import numpy as np

PRUNED = -1  # label value that marks a sample left out of training


def split_flagged(flagged: np.ndarray, quality: np.ndarray, prune_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(prune_idx, relabel_idx)``: indices of flagged samples to prune and to relabel.

    ``floor(prune_share * n_flagged + 0.5)`` samples are pruned, lowest quality first; ties are broken
    by sample index so the split is deterministic.
    """
    if not 0 <= prune_share <= 1:
        raise ValueError(f"prune_share must be in [0, 1], got {prune_share}")
    flagged_idx = np.flatnonzero(flagged)
    order = np.lexsort((flagged_idx, quality[flagged_idx]))  # by quality, then by index
    ranked = flagged_idx[order]
    n_prune = int(math.floor(prune_share * len(ranked) + 0.5))
    return np.sort(ranked[:n_prune]), np.sort(ranked[n_prune:])


def cleaned_labels(
    given: np.ndarray, flagged: np.ndarray, quality: np.ndarray, suggested: np.ndarray, prune_share: float
) -> np.ndarray:
    """Training labels after pruning/relabelling: `given` with pruned samples set to ``PRUNED``."""
    prune_idx, relabel_idx = split_flagged(flagged, quality, prune_share)
    labels = np.asarray(given, dtype=np.int64).copy()
    labels[relabel_idx] = suggested[relabel_idx]
    labels[prune_idx] = PRUNED
    return labels


def detection_metrics(flagged: np.ndarray, flipped: np.ndarray, quality: np.ndarray) -> dict[str, float | int | None]:
    """Precision, recall and F1 of `flagged` against the injected `flipped` mask, and the AUROC of
    the label-quality scores for telling flipped (low score) from clean samples.

    A metric that is undefined for the case (recall with nothing injected, AUROC with only one kind of
    sample) is ``None`` rather than a made-up number.
    """
    flagged = np.asarray(flagged, dtype=bool)
    flipped = np.asarray(flipped, dtype=bool)
    n_flagged, n_injected = int(flagged.sum()), int(flipped.sum())
    hits = int((flagged & flipped).sum())
    precision = hits / n_flagged if n_flagged else None
    recall = hits / n_injected if n_injected else None
    f1 = 2 * hits / (n_flagged + n_injected) if n_flagged + n_injected else None
    return {
        "flagged": n_flagged,
        "injected": n_injected,
        "flagged_minus_injected": n_flagged - n_injected,
        "true_positives": hits,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "auroc": _auroc(flipped, -np.asarray(quality, dtype=np.float64)),
    }


def _auroc(positive: np.ndarray, score: np.ndarray) -> float | None:
    if positive.all() or not positive.any():
        return None
    from sklearn.metrics import roc_auc_score  # scikit-learn comes with cleanlab

    return float(roc_auc_score(positive, score))
