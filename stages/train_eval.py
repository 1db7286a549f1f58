"""Stage train_eval: train every cell of every run of one noise level; test accuracy.

The cells (apply_prune_relabel) are the baseline, the prune/relabel threshold grid and the
strategies and controls of each run. The cells of runs that share a regime and a seed start from the
same weights, see the same batches and train together (labelsweep.training), so differences between
them come from their labels alone; identical training sets (e.g. the true labels of two noise kinds,
or keep-rest at t=0 and the baseline) are trained once. A strategy with training settings of its own
(issue 28: a robust loss, label smoothing, early stopping; labelsweep.strategies) trains in a fit of its
own beside them, from the same initial weights over the same batches and steps: only its loss differs,
or for early stopping the epoch kept, chosen on a stratified holdout of the cell's own noisy labels
(params.yaml early_stopping.holdout); such a cell's training samples and wrong labels are those left
after its holdout. Writes the test-set predictions of every cell and a table with one row per cell:
its test accuracy, how many training samples and wrong labels it trained on, how many of those wrong
labels the model reproduces at the end of training (memorised), whether it belongs to the seed's sweep
and to the study, and the precision it trained in.
"""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelsweep import artifacts, runs, stage
from labelsweep.early_stopping import HOLDOUT_KEY, holdout_mask, training_labels
from labelsweep.errors import DataError
from labelsweep.labels import NO_LABEL
from labelsweep.strategies import STRATEGIES


def _trained_labels(labels: np.ndarray, cells: pd.DataFrame, plan: list[runs.Run], share: float) -> np.ndarray:
    """The labels each cell trains on: its own, less an early-stopped cell's holdout (a stratified `share` of its
    own noisy labels, drawn with its run's seed; labelsweep.early_stopping), which it is scored on instead."""
    trained = labels.copy()
    for i, (run, strategy) in enumerate(zip(cells.run, cells.strategy)):
        if (STRATEGIES[strategy].training or {}).get("early_stopping"):
            trained[i] = training_labels(labels[i], holdout_mask(labels[i], share, plan[run].seed, HOLDOUT_KEY))
    return trained


def _by_training(cells: pd.DataFrame, rows: np.ndarray) -> Iterator[tuple[Mapping[str, Any] | None, np.ndarray]]:
    """`rows` of `cells` grouped by their strategy's training settings (a loss, early stopping; None: plain
    cross-entropy), in order of first appearance: each group trains as one :func:`fit`."""
    found: dict[str, tuple[Mapping[str, Any] | None, list[int]]] = {}
    for row in rows:
        settings = STRATEGIES[cells.strategy.iloc[row]].training
        found.setdefault(repr(sorted((settings or {}).items())), (settings, []))[1].append(row)
    for settings, members in found.values():
        yield settings, np.array(members)


def _train_cells(images: np.ndarray, test_images: np.ndarray, original: np.ndarray, trained: np.ndarray,
                 given: np.ndarray, settings: Mapping[str, Any] | None, fit_args: dict
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Test predictions and memorised wrong labels of cells that share their training settings, each distinct
    training set (and holdout) trained once, all in one :func:`labelsweep.training.fit` of `fit_args`."""
    from labelsweep.training import fit, loss_for, predict_proba

    early = bool((settings or {}).get("early_stopping"))
    holdout = np.where((trained == NO_LABEL) & (given != NO_LABEL), given, NO_LABEL)
    _, first, which = np.unique(np.hstack([trained, holdout]) if early else trained, axis=0, return_index=True,
                                return_inverse=True)
    which = which.ravel()
    with stage.fitting():  # every cell of the group takes the same steps over the run's training set
        desc = f"{fit_args['desc']}: {len(first)} models" + (f" {dict(settings)}" if settings else "")
        models = fit(images, trained[first], loss=loss_for(settings), holdout=holdout[first] if early else None,
                     **{**fit_args, "desc": desc})
    with stage.work():
        predicted = predict_proba(models, test_images).argmax(axis=-1)[which]
        # Memorisation: of the wrong labels a model trained on, how many it reproduces at the end.
        wrong = (trained != NO_LABEL) & (trained != original)
        memorised = np.zeros(len(trained), dtype=np.int64)
        asked = np.flatnonzero(wrong.any(axis=0))
        if len(asked):
            fitted = predict_proba(models, images[asked]).argmax(axis=-1)[which]
            memorised = ((fitted == trained[:, asked]) & wrong[:, asked]).sum(axis=1)
    if early:
        print(f"{desc}: early stopping kept epochs {[m.epochs.tolist() for m in models]}")
    return predicted, memorised


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

    from labelsweep.training import environment

    (noisy,) = artifacts.load_arrays(args.noisy, "labels")
    images, test_images = np.load(raw / "train_images.npy"), np.load(raw / "test_images.npy")
    original = np.load(raw / "train_labels.npy")
    trained = _trained_labels(labels, cells, plan, params.early_stopping.holdout)
    predicted = np.empty((len(labels), len(test_images)), dtype=np.int16)
    memorised = np.zeros(len(labels), dtype=np.int64)
    training_precision = {}  # per regime: fp32 or bf16 (not detection precision)
    for regime, seed, group in runs.groups(plan):
        train = section.regime(regime)[0]
        for settings, rows in _by_training(cells, np.flatnonzero(cells.run.isin(group))):
            fit_args = {"n_classes": n_classes, "train": train, "seed": seed,
                        "members": (noisy[group] != NO_LABEL).any(axis=0),
                        "desc": f"{args.dataset} noise {noise_level} {regime} seed {seed}"}
            predicted[rows], memorised[rows] = _train_cells(images, test_images, original, trained[rows],
                                                            labels[rows], settings, fit_args)
        training_precision[regime] = environment(train)["precision"]

    kept = (trained != NO_LABEL)
    wrong = kept & (trained != original)  # the wrong labels each cell trains on
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
