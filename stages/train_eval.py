"""Stage train_eval: train the baseline and every threshold cell of one noise level; test accuracy.

Model 0 trains on the noisy labels as they are (the baseline); model 1+i on threshold cell i's
cleaned labels (-1 = pruned). All of them start from the same weights and see the same batches, and
train together (labelsweep.training), so differences between cells come from the labels alone.
Writes the test-set predictions of every model and a table with one row per model.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts, config, stage
from labelsweep.cleaning import PRUNED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--noise-level", type=float, required=True)
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--noisy", required=True, help="the inject_noise stage's folder")
    parser.add_argument("--cleaned", required=True, help="the apply_prune_relabel stage's folder")
    parser.add_argument("--predictions", required=True, help="output .npy: test predictions, one row per model")
    parser.add_argument("--accuracy", required=True, help="output CSV: one row per model")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    noise_level = config.check_level(args.noise_level, "noise-level", upper_inclusive=False)

    (given,) = artifacts.load_arrays(args.noisy, "labels")
    cleaned, prune_shares = artifacts.load_arrays(args.cleaned, "labels", "prune_shares")
    labels = np.vstack([given, cleaned])
    if not (labels != PRUNED).any(axis=1).all():
        raise stage.DataError(f"{args.cleaned}: a threshold cell prunes every training sample, nothing is left "
                              "to train on")
    raw = Path(args.raw)
    n_classes = len(artifacts.load_classes(raw))

    from labelsweep.training import fit, predict_proba

    models = fit(np.load(raw / "train_images.npy"), labels, n_classes, params[args.dataset]["train"],
                 params["seed"], desc=f"{args.dataset} noise {noise_level}: {len(labels)} models")
    predicted = predict_proba(models, np.load(raw / "test_images.npy")).argmax(axis=-1).astype(np.int16)
    test_labels = np.load(raw / "test_labels.npy")
    table = pd.DataFrame({
        "noise_level": noise_level,
        "strategy": ["baseline"] + ["prune_relabel"] * len(prune_shares),
        "prune_share": [np.nan, *prune_shares],
        "test_accuracy": (predicted == test_labels).mean(axis=1).round(6),
        "train_samples": (labels != PRUNED).sum(axis=1),
        "pruned": (labels == PRUNED).sum(axis=1),
        "changed_labels": ((labels != given) & (labels != PRUNED)).sum(axis=1),
    })
    print(table.to_string(index=False))
    artifacts.save_npy(args.predictions, predicted)
    artifacts.save_csv(args.accuracy, table)


if __name__ == "__main__":
    stage.run(main)
