"""Stage train_eval: train every cell of every run of one noise level; test accuracy.

The cells (apply_prune_relabel) are the baseline, the prune/relabel threshold grid and the
strategies and controls of each run. The cells of runs that share a regime and a seed start from the
same weights, see the same batches and train together (labelsweep.training), so differences between
them come from their labels alone; identical training sets (e.g. the true labels of two noise kinds,
or keep-rest at t=0 and the baseline) are trained once. Writes the test-set predictions of every cell
and a table with one row per cell: its test accuracy, how many training samples and wrong labels it
trained on, how many of those wrong labels the model reproduces at the end of training (memorised),
whether it belongs to the seed's sweep and to the study, and the precision it trained in.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts, runs, stage
from labelsweep.errors import DataError
from labelsweep.labels import NO_LABEL


def main() -> None:
    args, params = stage.arguments(__doc__, "dataset", "noise-level", "raw", "noisy", "cleaned", "predictions",
                                   "accuracy")
    noise_level, section = args.noise_level, params.dataset(args.dataset)

    plan = runs.load(args.noisy)
    (labels,) = artifacts.load_arrays(args.cleaned, "labels")
    cells = pd.read_csv(Path(args.cleaned) / "cells.csv")
    if not (labels != NO_LABEL).any(axis=1).all():
        raise DataError(f"{args.cleaned}: a cell prunes every training sample, nothing is left to train on")
    raw = Path(args.raw)
    n_classes = len(artifacts.load_classes(raw))

    from labelsweep.training import environment, fit, predict_proba

    (noisy,) = artifacts.load_arrays(args.noisy, "labels")
    images, test_images = np.load(raw / "train_images.npy"), np.load(raw / "test_images.npy")
    original = np.load(raw / "train_labels.npy")
    wrong = (labels != NO_LABEL) & (labels != original)  # the wrong labels each cell trains on
    predicted = np.empty((len(labels), len(test_images)), dtype=np.int16)
    memorised = np.zeros(len(labels), dtype=np.int64)
    training_precision = {}  # per regime: fp32 or bf16 (not detection precision)
    for regime, seed, group in runs.groups(plan):
        rows = np.flatnonzero(cells.run.isin(group))
        unique, which = np.unique(labels[rows], axis=0, return_inverse=True)
        which = which.ravel()
        train = section.regime(regime)[0]
        with stage.fitting():  # every cell of the group takes the same steps over the run's training set
            models = fit(images, unique, n_classes, train, seed, members=(noisy[group] != NO_LABEL).any(axis=0),
                         desc=f"{args.dataset} noise {noise_level} {regime} seed {seed}: {len(unique)} models")
        with stage.work():
            predicted[rows] = predict_proba(models, test_images).argmax(axis=-1)[which]
            # Memorisation: of the wrong labels a model trained on, how many it reproduces at the end.
            asked = np.flatnonzero(wrong[rows].any(axis=0))
            if len(asked):
                fitted = predict_proba(models, images[asked]).argmax(axis=-1)[which]
                memorised[rows] = ((fitted == labels[rows][:, asked]) & wrong[rows][:, asked]).sum(axis=1)
        training_precision[regime] = environment(train)["precision"]

    kept = (labels != NO_LABEL)
    table = pd.DataFrame({
        "noise_level": noise_level,
        "noise_kind": [plan[r].noise_kind for r in cells.run],
        "regime": [plan[r].regime for r in cells.run],
        "seed": [plan[r].seed for r in cells.run],
        "strategy": cells.strategy,
        "prune_share": cells.prune_share,
        "test_accuracy": (predicted == np.load(raw / "test_labels.npy")).mean(axis=1).round(6),
        "train_samples": kept.sum(axis=1),
        "wrong_labels": wrong.sum(axis=1),
        "memorised": memorised,
        "sweep": cells.sweep,
        "study": cells.study,
        "precision": [training_precision[plan[r].regime] for r in cells.run],
    })
    print(table.to_string(index=False))
    artifacts.save_npy(args.predictions, predicted)
    artifacts.save_csv(args.accuracy, table)


if __name__ == "__main__":
    stage.run(main)
