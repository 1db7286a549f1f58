"""Stage crossval_probs: out-of-sample predicted probabilities of every run of one noise level.

cleanlab needs, for every training sample, class probabilities from a model that did not see that
sample's label. In each run, a stratified K-fold split of its training set (seeded by the run's
seed); each of the K fold models trains on the noisy labels of the other K-1 folds and predicts its
own held-out fold. The fold models of all runs that share a regime and a seed train together in one
pass (labelsweep.training), each with its held-out fold and everything outside its run masked out of
its loss. Writes a folder: `pred_probs.npy` (float32, runs x N x classes; NaN outside a run's
training set), `fold.npy` (the fold that predicted each sample, -1 outside) and `environment.json` (per
regime: device, precision, threads and library versions).
"""

import json
from pathlib import Path

import numpy as np

from labelsweep import artifacts, runs, stage
from labelsweep.errors import not_allowed
from labelsweep.labels import NO_LABEL


def main() -> None:
    args, params = stage.arguments(__doc__, "dataset", "raw", "noisy", "out")
    folds, section = params.cleanlab.folds, params.dataset(args.dataset)

    (labels,) = artifacts.load_arrays(args.noisy, "labels")
    plan = runs.load(args.noisy)
    classes = artifacts.load_classes(args.raw)
    n_classes = len(classes)
    smallest, cls, run = min(((int(count), name, run) for row, run in zip(labels, plan) for name, count in
                              zip(classes, np.bincount(row[row != NO_LABEL], minlength=n_classes))), key=lambda s: s[0])
    if folds > smallest:
        train_size = section.regime(run.regime)[1]
        larger = (f"a larger {args.dataset}.regimes.{run.regime}.train_size" if train_size is not None else
                  f"a larger {args.dataset}.data.train_subsample" if section.data.train_subsample else
                  f"more images of {cls}")
        raise not_allowed("cleanlab.folds", folds, f"class {cls} has only {smallest} training samples in run "
                          f"{run.noise_kind}/{run.regime}/seed {run.seed} "
                          f"(use at most {smallest} folds, or {larger})")

    from sklearn.model_selection import StratifiedKFold

    from labelsweep.training import environment, fit, predict_proba

    images = np.load(Path(args.raw) / "train_images.npy")
    fold = np.full(labels.shape, -1, dtype=np.int64)
    pred_probs = np.full((*labels.shape, n_classes), np.nan, dtype=np.float32)
    used = {}  # per regime: the device, precision and library versions its models trained with
    for regime, seed, rows in runs.groups(plan):
        fold_labels = []  # per run of the group, row k: its labels with fold k's hidden from model k
        for r in rows:
            members = np.flatnonzero(labels[r] != NO_LABEL)
            splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            for k, (_, held_out) in enumerate(splitter.split(members, labels[r, members])):
                fold[r, members[held_out]] = k
            fold_labels.append(np.where(fold[r][None, :] == np.arange(folds)[:, None], NO_LABEL, labels[r][None, :]))
        train = section.regime(regime)[0]
        used[regime] = environment(train)
        in_group = (labels[rows] != NO_LABEL).any(axis=0)  # the group's shared training set
        with stage.fitting():
            models = fit(images, np.concatenate(fold_labels), n_classes, train, seed, members=in_group,
                         desc=f"{regime} seed {seed}: {len(rows)} x {folds} fold models")
        members = np.flatnonzero(in_group)
        with stage.work():
            probs = predict_proba(models, images[members])  # (runs * folds, members, classes)
        for j, r in enumerate(rows):
            own = fold[r, members]  # each sample by its own fold's model
            pred_probs[r, members] = probs[j * folds + own, np.arange(len(members))]
    artifacts.save_arrays(args.out, {"pred_probs": pred_probs, "fold": fold},
                          extra={"environment.json": json.dumps(used, indent=2) + "\n"})


if __name__ == "__main__":
    stage.run(main)
