"""Scoring cleanlab's flags against the injected truth, and cleanlab's review of a dataset's own labels.

How the flags become training labels is each strategy's (labelsweep.strategies).
"""

from __future__ import annotations

import numpy as np


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


def review(given: np.ndarray, pred_probs: np.ndarray, filter_by: str, members: np.ndarray | None = None
           ) -> dict[str, np.ndarray]:
    """cleanlab's review of a dataset's own labels (no injected noise) from several runs' out-of-sample
    probabilities (runs x N x K), averaged first: an ensemble ranks labels more reliably than one run. A sample is
    averaged over the runs whose training set holds it (`members`, runs x N; None: every run holds every sample),
    so runs on a subsample add to the samples they saw; every sample must be in one run at least.

    Returns per sample: ``label_quality`` (cleanlab's self-confidence score of the given label on the
    averaged probabilities: low = suspicious), ``flagged`` (`find_label_issues` with `filter_by`), the
    ``suggested`` label (the averaged probabilities' argmax) with its probability ``suggested_prob``, and
    ``runs_averaged``, how many runs' probabilities it averages.
    """
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    probs = np.asarray(pred_probs, dtype=np.float64)
    members = np.ones(probs.shape[:2], dtype=bool) if members is None else np.asarray(members, dtype=bool)
    counts = members.sum(axis=0)
    if not counts.all():
        raise ValueError(f"{int((counts == 0).sum())} samples are in no run: nothing to average for them")
    mean = np.where(members[..., None], probs, 0.0).sum(axis=0) / counts[:, None]
    mean /= mean.sum(axis=1, keepdims=True)  # float32 rounding: rows summing to exactly 1, as cleanlab checks
    return {"label_quality": get_label_quality_scores(given, mean),
            "flagged": find_label_issues(labels=given, pred_probs=mean, filter_by=filter_by, n_jobs=1),
            "suggested": mean.argmax(axis=1), "suggested_prob": mean.max(axis=1), "runs_averaged": counts}
