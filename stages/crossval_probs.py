"""Stage crossval_probs: out-of-sample predicted probabilities by stratified K-fold cross-validation.

cleanlab needs, for every training sample, class probabilities from a model that did not see that
sample. Each of the K folds is predicted by a model trained on the other K-1 folds (noisy labels).
Writes `pred_probs` (float32, N x n_classes).
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
    parser.add_argument("--out", required=True, help="output .npy file")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    folds, seed, train = params["cleanlab"]["folds"], params["seed"], params[args.dataset]["train"]

    labels = np.load(Path(args.noisy) / "labels.npy")
    n_classes = len(artifacts.load_classes(args.raw))
    smallest = int(np.bincount(labels, minlength=n_classes).min())
    if folds > smallest:
        raise config.ConfigError(
            f"params.yaml: cleanlab.folds = {folds} is not allowed: the smallest class has only {smallest} "
            f"training samples (use at most {smallest} folds, or a larger subsample)")

    from sklearn.model_selection import StratifiedKFold

    from labelsweep.training import fit, predict_proba

    images = np.load(Path(args.raw) / "train_images.npy")
    pred_probs = np.zeros((len(labels), n_classes), dtype=np.float32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (fit_idx, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        model = fit(images[fit_idx], labels[fit_idx], n_classes, train, seed, desc=f"fold {fold + 1}/{folds}")
        pred_probs[held_out] = predict_proba(model, images[held_out])
    artifacts.save_npy(args.out, pred_probs)


if __name__ == "__main__":
    stage.run(main)
