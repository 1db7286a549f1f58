"""Stage find_issues: cleanlab's label issues at one noise level, scored against the injected truth.

`cleanlab.filter.find_label_issues` flags the samples whose given label disagrees with the
out-of-sample predicted probabilities (`filter_by`, default prune_by_noise_rate: confident
learning); `cleanlab.rank.get_label_quality_scores` ranks every sample, lowest = most likely
mislabelled. A flagged sample's suggested label comes from a model fit without the flagged samples
(`relabel_with: pruned_refit`, as in the original study) or from the cross-validated argmax
(`crossval`). Writes a folder of arrays plus `label_issues.csv` (one row per training sample, for
reviewing labels by hand), and the detection metrics against the injected flips as JSON -- for the
configured `filter_by` and, for comparison, for every other one.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from cleanlab.filter import find_label_issues
from cleanlab.rank import get_label_quality_scores

from labelsweep import artifacts, config, stage
from labelsweep.cleaning import detection_metrics, label_errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--noise-level", type=float, required=True)
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--noisy", required=True, help="the inject_noise stage's folder")
    parser.add_argument("--pred-probs", required=True, help="the crossval_probs stage's folder")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--detection", required=True, help="output JSON with the detection metrics")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    noise_level = config.check_level(args.noise_level, "noise-level", upper_inclusive=False)
    settings = params["cleanlab"]

    given, flipped = artifacts.load_arrays(args.noisy, "labels", "flipped")
    (pred_probs,) = artifacts.load_arrays(args.pred_probs, "pred_probs")
    with stage.work():
        # Every filter_by, scored against the injected truth (cheap: no model is fit); the configured one is used.
        flags = {method: find_label_issues(labels=given, pred_probs=pred_probs, filter_by=method, n_jobs=1)
                 for method in config.FILTER_BY}
        flagged = flags[settings["filter_by"]]
        quality = get_label_quality_scores(given, pred_probs).astype(np.float32)

    raw = Path(args.raw)
    suggested = given.copy()
    if flagged.any() and settings["relabel_with"] == "pruned_refit":
        from labelsweep.training import EXCLUDED, fit, predict_proba

        images = np.load(raw / "train_images.npy")
        model = fit(images, np.where(flagged, EXCLUDED, given), pred_probs.shape[1], params[args.dataset]["train"],
                    params["seed"], desc="refit without the flagged samples")
        suggested[flagged] = predict_proba(model, images[flagged])[0].argmax(axis=1)
    else:
        suggested[flagged] = pred_probs[flagged].argmax(axis=1)

    original = np.load(raw / "train_labels.npy")
    table = pd.DataFrame({
        "sample_id": (raw / "train_ids.txt").read_text().splitlines(),
        "original_label": original,
        "given_label": given,
        "label_quality": quality,
        "flagged": flagged.astype(int),
        "suggested_label": suggested,
    })
    metrics = {"noise_level": noise_level, **detection_metrics(flagged, flipped, quality),
               **label_errors(original, given, flagged, suggested),
               "by_filter": {method: detection_metrics(mask, flipped) for method, mask in flags.items()}}
    print(f"noise {noise_level}: flagged {metrics['flagged']}, injected {metrics['injected']}")
    csv = table.to_csv(index=False, float_format="%.6f", lineterminator="\n")
    artifacts.save_arrays(args.out, {"given": given, "flagged": flagged, "quality": quality, "suggested": suggested},
                          extra={"label_issues.csv": csv})
    artifacts.save_json(args.detection, metrics)


if __name__ == "__main__":
    stage.run(main)
