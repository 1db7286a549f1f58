"""Stage find_issues: cleanlab's label issues in every run of one noise level, scored against the truth.

`cleanlab.filter.find_label_issues` flags the samples whose given label disagrees with the
out-of-sample predicted probabilities (`filter_by`, default prune_by_noise_rate: confident
learning); `cleanlab.rank.get_label_quality_scores` ranks every sample, lowest = most likely
mislabelled. A flagged sample's suggested label, and that label's probability, come from a model fit
without the flagged samples (`relabel_with: pruned_refit`, as in the original study; the refits of
runs that share a regime and a seed train together) or from the cross-validated probabilities
(`crossval`). Writes a folder of arrays (one row per run) plus `label_issues.csv` (one row per run and
training sample, for reviewing labels by hand), and the detection metrics of every run against its
injected flips as JSON -- for the configured `filter_by` and, for comparison, for every other one.
At 0 % injected noise the given labels are the dataset's own, and `review.csv` ranks them: cleanlab on
the probabilities of all the level's runs averaged, the seeds as an ensemble (labelsweep.cleaning.review), one row
per training sample, most suspicious first, with the suggested label, its probability and how many runs it averaged.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from labelsweep import artifacts, runs, stage
from labelsweep.checks import FILTER_BY
from labelsweep.cleaning import detection_metrics, label_errors, review
from labelsweep.config import Dataset
from labelsweep.labels import NO_LABEL


def find(labels: np.ndarray, pred_probs: np.ndarray, filter_by: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Per run (row): the flagged mask of `filter_by`, the label quality, and every filter_by's mask over the
    run's training set."""
    flagged = np.zeros(labels.shape, dtype=bool)
    quality = np.full(labels.shape, np.nan, dtype=np.float32)
    flags = []
    with stage.work():
        for r in range(len(labels)):
            members = labels[r] != NO_LABEL
            given, probs = labels[r, members], pred_probs[r, members]
            # Every filter_by, scored against the injected truth (cheap: no model is fit); the configured one is used.
            flags.append({method: find_label_issues(labels=given, pred_probs=probs, filter_by=method, n_jobs=1)
                          for method in FILTER_BY})
            flagged[r, members] = flags[r][filter_by]
            quality[r, members] = get_label_quality_scores(given, probs)
    return flagged, quality, flags


def suggest(labels: np.ndarray, flagged: np.ndarray, pred_probs: np.ndarray, images: np.ndarray,
            plan: list[runs.Run], relabel_with: str, section: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Each flagged sample's suggested label and that label's probability (the given label elsewhere, NaN): from
    a refit without the flagged samples, one per regime and seed (`pruned_refit`), or the cross-validated
    probabilities (`crossval`)."""
    suggested = labels.copy()
    suggested_prob = np.full(labels.shape, np.nan, dtype=np.float32)
    for regime, seed, rows in runs.groups(plan):
        if relabel_with == "pruned_refit" and flagged[rows].any():
            from labelsweep.training import fit, predict_proba

            refit_labels = np.where(flagged[rows], NO_LABEL, labels[rows])
            train = section.regime(regime)[0]
            with stage.fitting():
                models = fit(images, refit_labels, pred_probs.shape[-1], train, seed,
                             members=(labels[rows] != NO_LABEL).any(axis=0),
                             desc=f"{regime} seed {seed}: refit without the flagged samples")
            candidates = np.flatnonzero(flagged[rows].any(axis=0))
            probs = np.full((len(rows), *pred_probs.shape[1:]), np.nan, dtype=np.float32)
            with stage.work():
                probs[:, candidates] = predict_proba(models, images[candidates])
        else:
            probs = pred_probs[rows]
        for j, r in enumerate(rows):
            suggested[r, flagged[r]] = probs[j, flagged[r]].argmax(axis=1)
            suggested_prob[r, flagged[r]] = probs[j, flagged[r]].max(axis=1)
    return suggested, suggested_prob


def per_run(plan: list[runs.Run], labels: np.ndarray, flipped: np.ndarray, flagged: np.ndarray, quality: np.ndarray,
            suggested: np.ndarray, flags: list[dict], original: np.ndarray, sample_ids: np.ndarray,
            noise_level: float) -> tuple[str, list[dict]]:
    """label_issues.csv's text (one row per run and training sample) and each run's detection record."""
    tables, records = [], []
    for r, run in enumerate(plan):
        members = labels[r] != NO_LABEL
        tables.append(pd.DataFrame({
            "noise_kind": run.noise_kind, "regime": run.regime, "seed": run.seed,
            "sample_id": sample_ids[members],
            "original_label": original[members],
            "given_label": labels[r, members],
            "label_quality": quality[r, members],
            "flagged": flagged[r, members].astype(int),
            "suggested_label": suggested[r, members],
        }))
        records.append({"noise_kind": run.noise_kind, "regime": run.regime, "seed": run.seed, "sweep": run.sweep,
                        "study": run.study,
                        **detection_metrics(flagged[r, members], flipped[r, members], quality[r, members]),
                        **label_errors(original[members], labels[r, members], flagged[r, members],
                                       suggested[r, members]),
                        "by_filter": {method: detection_metrics(mask, flipped[r, members])
                                      for method, mask in flags[r].items()}})
        print(f"noise {noise_level} {run}: flagged {records[-1]['flagged']}, injected {records[-1]['injected']}")
    return pd.concat(tables).to_csv(index=False, float_format="%.6f", lineterminator="\n"), records


def main() -> None:
    args, params = stage.arguments(__doc__, "dataset", "noise-level", "raw", "noisy", "pred-probs", "out",
                                   "detection")
    noise_level, filter_by = args.noise_level, params.cleanlab.filter_by

    labels, flipped = artifacts.load_arrays(args.noisy, "labels", "flipped")
    plan = runs.load(args.noisy)
    (pred_probs,) = artifacts.load_arrays(args.pred_probs, "pred_probs")
    flagged, quality, flags = find(labels, pred_probs, filter_by)
    raw = Path(args.raw)
    suggested, suggested_prob = suggest(labels, flagged, pred_probs, np.load(raw / "train_images.npy"), plan,
                                        params.cleanlab.relabel_with, params.dataset(args.dataset))
    original = np.load(raw / "train_labels.npy")
    sample_ids = np.array((raw / "train_ids.txt").read_text().splitlines())
    csv, records = per_run(plan, labels, flipped, flagged, quality, suggested, flags, original, sample_ids,
                           noise_level)
    extra = {"label_issues.csv": csv}
    if noise_level == 0:  # the given labels are the dataset's own
        extra["review.csv"] = own_labels_review(labels, pred_probs, plan, original, sample_ids,
                                                artifacts.load_classes(raw), filter_by)
    artifacts.save_arrays(args.out, {"flagged": flagged, "quality": quality, "suggested": suggested,
                                     "suggested_prob": suggested_prob}, extra=extra)
    artifacts.save_json(args.detection, {"noise_level": noise_level, "runs": records})


def own_labels_review(labels: np.ndarray, pred_probs: np.ndarray, plan: list[runs.Run], original: np.ndarray,
                      sample_ids: np.ndarray, classes: list[str], filter_by: str) -> str:
    """review.csv's text: the dataset's own labels ranked by cleanlab on the probabilities of every run of the level
    averaged (the seeds and regimes as an ensemble; a sample over the runs that trained on it), one run per regime
    and seed: at 0 % its noise kinds flip nothing, so they train the same models. A sample no run holds is left
    out."""
    rows = [group[0] for _, _, group in runs.groups(plan)]
    members = labels[rows] != NO_LABEL
    held = members.any(axis=0)
    found = review(original[held], pred_probs[rows][:, held], filter_by, members[:, held])
    names = np.array(classes)
    table = pd.DataFrame({"sample_id": sample_ids[held], "given_label": names[original[held]],
                          "label_quality": found["label_quality"], "flagged": found["flagged"].astype(int),
                          "suggested_label": names[found["suggested"]], "suggested_prob": found["suggested_prob"],
                          "runs_averaged": found["runs_averaged"]})
    table = table.sort_values(["label_quality", "sample_id"], kind="stable")
    print(f"own labels: {int(found['flagged'].sum())} of {len(table)} flagged (ensemble of {len(rows)} runs, "
          f"{int(found['runs_averaged'].min())}-{int(found['runs_averaged'].max())} per sample)")
    return table.to_csv(index=False, float_format="%.6f", lineterminator="\n")


if __name__ == "__main__":
    stage.run(main)
