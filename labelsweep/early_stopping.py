"""Early stopping on the run's own noisy labels: what a practitioner without clean labels can do (issue 28).

A stratified share of the run's *noisy* training labels is held out (:func:`holdout_mask`); the model trains on
the rest (:func:`training_labels`), and after every epoch its accuracy on the held-out *noisy* labels is measured
(:func:`holdout_accuracy`); the epoch with the best such accuracy is kept (:func:`best_epoch`), and that epoch's
model is the one whose test accuracy is reported. Nothing here takes a clean or a test label as an argument: the
rule cannot read them (tests/test_early_stopping.py poisons both and sees nothing change).

Why it can work with noisy labels: under noise that is not systematic, the model that agrees most with held-out
noisy labels is also, in expectation, the one that agrees most with the true ones (a noisy label equals the true
one with probability 1 - p whatever the model), so the noisy holdout ranks epochs like a clean one would, only
with more sampling error. Ties go to the earliest epoch: the one that has fitted fewer wrong labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from labelsweep.errors import not_allowed
from labelsweep.labels import NO_LABEL

Predictor = Callable[[np.ndarray], np.ndarray]  # images -> predicted labels
FitEpochs = Callable[[np.ndarray, np.ndarray], Iterable[Predictor]]  # (images, labels) -> one predictor per epoch
HOLDOUT_KEY = "early_stopping.holdout"


def holdout_mask(noisy_labels: np.ndarray, share: float, seed: int, key: str = HOLDOUT_KEY) -> np.ndarray:
    """Which samples to hold out: a `share` of the labelled samples (``!= NO_LABEL``), stratified by their noisy
    label, drawn from `seed`. A share that leaves a class without a sample on either side is refused in one line
    naming `key`."""
    from labelsweep.datasets import stratified_indices

    noisy_labels = np.asarray(noisy_labels)
    labelled = np.flatnonzero(noisy_labels != NO_LABEL)
    n, n_classes = len(labelled), len(np.unique(noisy_labels[labelled]))
    size = int(round(share * n))
    if not 0 < share < 1 or not n_classes <= size <= n - n_classes:
        raise not_allowed(key, share, f"a share in (0, 1) that holds out between {n_classes} and {n - n_classes} "
                          f"of the {n} labelled samples (one per class on each side)")
    chosen, _ = stratified_indices(noisy_labels[labelled], size, seed)
    mask = np.zeros(len(noisy_labels), dtype=bool)
    mask[labelled[chosen]] = True
    return mask


def training_labels(noisy_labels: np.ndarray, holdout: np.ndarray) -> np.ndarray:
    """The labels the model trains on: the noisy labels with the held-out samples set to NO_LABEL."""
    return np.where(holdout, NO_LABEL, noisy_labels)


def holdout_accuracy(predicted: np.ndarray, noisy_labels: np.ndarray, holdout: np.ndarray) -> np.ndarray:
    """Per epoch, the share of held-out samples whose prediction equals their *noisy* label: `predicted` has shape
    (epochs, n) or (epochs, holdout.sum()) (predictions for the held-out samples only)."""
    predicted = np.atleast_2d(predicted)
    if predicted.shape[1] == len(holdout):
        predicted = predicted[:, holdout]
    return (predicted == np.asarray(noisy_labels)[holdout]).mean(axis=1)


def best_epoch(accuracy: np.ndarray) -> int:
    """The epoch (0-based) with the best held-out accuracy; the earliest of equals."""
    return int(np.argmax(np.asarray(accuracy)))


@dataclass(frozen=True)
class EarlyStopped:
    epoch: int  # 0-based: the model after epoch + 1 passes
    holdout: np.ndarray  # (n,) bool: the samples held out
    holdout_accuracy: np.ndarray  # (epochs,) accuracy on the held-out noisy labels
    model: Predictor  # that epoch's predictor


def early_stop(fit_epochs: FitEpochs, images: np.ndarray, noisy_labels: np.ndarray, share: float, seed: int
               ) -> EarlyStopped:
    """Train with `fit_epochs` on the noisy labels less a stratified holdout, score every epoch's predictor on the
    held-out noisy labels, and keep the best epoch's predictor (the module doc's rule)."""
    holdout = holdout_mask(noisy_labels, share, seed)
    held_images = images[holdout]
    scores, best_model = [], None
    for model in fit_epochs(images, training_labels(noisy_labels, holdout)):
        scores.append(holdout_accuracy(model(held_images)[None], noisy_labels, holdout)[0])
        if best_epoch(np.array(scores)) == len(scores) - 1:  # only the best predictor so far is kept
            best_model = model
    if best_model is None:
        raise ValueError("fit_epochs produced no epoch")
    return EarlyStopped(best_epoch(np.array(scores)), holdout, np.array(scores), best_model)
