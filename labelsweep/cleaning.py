"""Turning cleanlab's flags into training labels, and scoring the flags against the injected truth.

A threshold ``prune_share`` in [0, 1] splits the flagged samples: the share with the *lowest* label
quality is pruned (dropped from training), the rest are relabelled to their suggested label.
``prune_share=1`` prunes every flagged sample, ``prune_share=0`` relabels them all.
"""

from __future__ import annotations

import math

import numpy as np

from labelsweep.labels import NO_LABEL


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
    """Training labels after pruning/relabelling: `given` with pruned samples set to ``NO_LABEL``."""
    prune_idx, relabel_idx = split_flagged(flagged, quality, prune_share)
    labels = np.asarray(given, dtype=np.int64).copy()
    labels[relabel_idx] = suggested[relabel_idx]
    labels[prune_idx] = NO_LABEL
    return labels


def detection_metrics(flagged: np.ndarray, flipped: np.ndarray, quality: np.ndarray | None = None
                      ) -> dict[str, float | int | None]:
    """Precision, recall and F1 of `flagged` against the injected `flipped` mask, and (given `quality`)
    the AUROC of the label-quality scores for telling flipped (low score) from clean samples.

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
    scores = {
        "flagged": n_flagged,
        "injected": n_injected,
        "flagged_minus_injected": n_flagged - n_injected,
        "true_positives": hits,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
    if quality is not None:
        scores["auroc"] = _auroc(flipped, -np.asarray(quality, dtype=np.float64))
    return scores


def _auroc(positive: np.ndarray, score: np.ndarray) -> float | None:
    if positive.all() or not positive.any():
        return None
    from sklearn.metrics import roc_auc_score  # scikit-learn comes with cleanlab

    return float(roc_auc_score(positive, score))


def label_errors(original: np.ndarray, given: np.ndarray, flagged: np.ndarray, suggested: np.ndarray
                 ) -> dict[str, float | None]:
    """How many training labels are wrong (against the dataset's original labels) as given, after
    relabelling every flagged sample, and among the samples kept after pruning every flagged one; and
    how often a flagged sample's suggested label is the original one. This is why pruning and
    relabelling end up close or apart: relabelling keeps the samples whose suggestion is wrong.
    """
    flagged = np.asarray(flagged, dtype=bool)
    relabelled = np.where(flagged, suggested, given)
    kept = ~flagged
    return {
        "suggested_right": float((suggested[flagged] == original[flagged]).mean()) if flagged.any() else None,
        "wrong_given": float((given != original).mean()),
        "wrong_after_relabel_all": float((relabelled != original).mean()),
        "wrong_after_prune_all": float((given[kept] != original[kept]).mean()) if kept.any() else None,
    }


def kept_labels(given: np.ndarray, flagged: np.ndarray, quality: np.ndarray, prune_share: float) -> np.ndarray:
    """The original author's next step: prune the lowest-quality share of the flagged samples and keep the
    rest of them with their given labels (``prune_share=0``: the baseline; ``1``: prune all flagged)."""
    prune_idx, _ = split_flagged(flagged, quality, prune_share)
    labels = np.asarray(given, dtype=np.int64).copy()
    labels[prune_idx] = NO_LABEL
    return labels


def training_cells(given: np.ndarray, original: np.ndarray, flipped: np.ndarray, flagged: np.ndarray,
                   quality: np.ndarray, suggested: np.ndarray, suggested_prob: np.ndarray, thresholds: list[float],
                   strategies: list[str], confident_min: float, rng: np.random.Generator
                   ) -> list[tuple[str, float, np.ndarray]]:
    """Every training set of one run, as ``(strategy, prune_share, labels)`` (-1 = pruned; prune_share NaN
    where it does not apply): the baseline, the prune/relabel grid, and the `strategies` asked for --

    - ``keep_rest``: :func:`kept_labels` on the threshold grid;
    - ``perfect_detection``: the injected flips pruned, nothing else: how far a perfect detector gets;
    - ``random_removal``: as many samples pruned as cleanlab flags, chosen at random: how much of
      cleanlab's gain is only having fewer samples;
    - ``true_labels``: the original labels: the upper bound;
    - ``confident_relabel``: a flagged sample relabelled where its suggested label's probability is at
      least `confident_min`, the other flagged samples pruned.
    """
    cells = [("baseline", math.nan, np.asarray(given, dtype=np.int64).copy())]
    cells += [("prune_relabel", t, cleaned_labels(given, flagged, quality, suggested, t)) for t in thresholds]
    if "keep_rest" in strategies:
        cells += [("keep_rest", t, kept_labels(given, flagged, quality, t)) for t in thresholds]
    if "perfect_detection" in strategies:
        cells.append(("perfect_detection", math.nan, np.where(flipped, NO_LABEL, given)))
    if "random_removal" in strategies:
        removed = np.zeros(len(given), dtype=bool)
        removed[rng.choice(len(given), size=int(np.sum(flagged)), replace=False)] = True
        cells.append(("random_removal", math.nan, np.where(removed, NO_LABEL, given)))
    if "true_labels" in strategies:
        cells.append(("true_labels", math.nan, np.asarray(original, dtype=np.int64).copy()))
    if "confident_relabel" in strategies:
        sure = flagged & (suggested_prob >= confident_min)
        cells.append(("confident_relabel", math.nan,
                      np.where(sure, suggested, np.where(flagged, NO_LABEL, given)).astype(np.int64)))
    return cells


def review(given: np.ndarray, pred_probs: np.ndarray, filter_by: str) -> dict[str, np.ndarray]:
    """cleanlab's review of a dataset's own labels (no injected noise) from several runs' out-of-sample
    probabilities (runs x N x K), averaged first: an ensemble ranks labels more reliably than one run.

    Returns per sample: ``label_quality`` (cleanlab's self-confidence score of the given label on the
    averaged probabilities: low = suspicious), ``flagged`` (`find_label_issues` with `filter_by`), and the
    ``suggested`` label (the averaged probabilities' argmax) with its probability ``suggested_prob``.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    mean = np.asarray(pred_probs, dtype=np.float64).mean(axis=0)
    mean /= mean.sum(axis=1, keepdims=True)  # float32 rounding: rows summing to exactly 1, as cleanlab checks
    return {"label_quality": get_label_quality_scores(given, mean),
            "flagged": find_label_issues(labels=given, pred_probs=mean, filter_by=filter_by, n_jobs=1),
            "suggested": mean.argmax(axis=1), "suggested_prob": mean.max(axis=1)}
