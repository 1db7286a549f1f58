"""Stage crossval_probs: out-of-sample predicted probabilities by stratified K-fold cross-validation.

cleanlab needs, for every training sample, class probabilities from a model that did not see that
sample's label. Each of the K fold models trains on the noisy labels of the other K-1 folds and
predicts its own held-out fold; the K models train together in one pass (labelsweep.training), each
with its held-out fold masked out of its loss. Writes a folder: `pred_probs.npy` (float32,
N x n_classes) and `fold.npy` (the fold that predicted each sample).
"""

import argparse
from pathlib import Path

import numpy as np

from labelsweep import artifacts, config, stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--noisy", required=True, help="the inject_noise stage's folder")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    folds, seed, train = params["cleanlab"]["folds"], params["seed"], params[args.dataset]["train"]

    (labels,) = artifacts.load_arrays(args.noisy, "labels")
    n_classes = len(artifacts.load_classes(args.raw))
    smallest = int(np.bincount(labels, minlength=n_classes).min())
    if folds > smallest:
        raise config.ConfigError(
            f"params.yaml: cleanlab.folds = {folds} is not allowed: the smallest class has only {smallest} "
            f"training samples (use at most {smallest} folds, or a larger subsample)")

    from sklearn.model_selection import StratifiedKFold

    from labelsweep.training import EXCLUDED, fit, predict_proba

    images = np.load(Path(args.raw) / "train_images.npy")
    fold = np.empty(len(labels), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        fold[held_out] = k
    # Row k: the noisy labels with fold k's hidden from model k.
    fold_labels = np.where(fold[None, :] == np.arange(folds)[:, None], EXCLUDED, labels[None, :])
    models = fit(images, fold_labels, n_classes, train, seed, desc=f"{folds} fold models")
    pred_probs = predict_proba(models, images)[fold, np.arange(len(labels))]  # each sample by its own fold's model
    artifacts.save_arrays(args.out, {"pred_probs": pred_probs, "fold": fold})


if __name__ == "__main__":
    stage.run(main)
