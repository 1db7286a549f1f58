"""Stage find_issues: cleanlab's label issues, label-quality scores and a suggested label per sample.

`cleanlab.filter.find_label_issues` flags the samples whose given label disagrees with the
out-of-sample predicted probabilities (confident learning); `cleanlab.rank.get_label_quality_scores`
ranks every sample, lowest = most likely mislabelled. A flagged sample's suggested label comes from a
model fit without the flagged samples (`relabel_with: pruned_refit`, as in the original study) or from
the cross-validated argmax (`crossval`). Writes a folder of arrays plus `label_issues.csv` (one row per
training sample, for reviewing labels by hand) and the detection metrics against the injected truth.
"""

import argparse
import csv
import io
from pathlib import Path

import numpy as np
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from labelsweep import artifacts, config, stage
from labelsweep.cleaning import detection_metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--noise-level", type=float, required=True)
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--noisy", required=True, help="the inject_noise stage's folder")
    parser.add_argument("--pred-probs", required=True, help="the crossval_probs stage's .npy file")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--metrics", required=True, help="output JSON with the detection metrics")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    noise_level = config.check_level(args.noise_level, "noise-level", upper_inclusive=False)
    settings = params["cleanlab"]

    given, flipped = artifacts.load_arrays(args.noisy, "labels", "flipped")
    pred_probs = np.load(args.pred_probs)
    with stage.work():
        flagged = find_label_issues(labels=given, pred_probs=pred_probs, filter_by=settings["filter_by"], n_jobs=1)
        quality = get_label_quality_scores(given, pred_probs).astype(np.float32)

    suggested = given.copy()
    if flagged.any() and settings["relabel_with"] == "pruned_refit":
        from labelsweep.training import fit, predict_proba

        images = np.load(Path(args.raw) / "train_images.npy")
        model = fit(images[~flagged], given[~flagged], pred_probs.shape[1], params[args.dataset]["train"],
                    params["seed"], desc="refit without flagged")
        suggested[flagged] = predict_proba(model, images[flagged]).argmax(axis=1)
    else:
        suggested[flagged] = pred_probs[flagged].argmax(axis=1)

    true_labels = np.load(Path(args.raw) / "train_labels.npy")
    ids = (Path(args.raw) / "train_ids.txt").read_text().splitlines()
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["sample_id", "original_label", "given_label", "label_quality", "flagged", "suggested_label"])
    for row in zip(ids, true_labels, given, quality, flagged.astype(int), suggested):
        writer.writerow([row[0], row[1], row[2], f"{row[3]:.6f}", row[4], row[5]])

    metrics = {"dataset": args.dataset, "noise_level": noise_level, **detection_metrics(flagged, flipped, quality)}
    print(f"noise {noise_level}: flagged {metrics['flagged']}, injected {metrics['injected']}")
    artifacts.save_arrays(args.out, {"given": given, "flagged": flagged, "quality": quality,
                                          "suggested": suggested},
                          extra={"label_issues.csv": table.getvalue()})
    artifacts.save_json(args.metrics, metrics)


if __name__ == "__main__":
    stage.run(main)
