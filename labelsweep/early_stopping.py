"""Early stopping on the run's own noisy labels: what a practitioner without clean labels can do (issue 28).

A stratified share of the run's *noisy* training labels is held out (:func:`holdout_mask`); the model trains on
the rest (:func:`training_labels`), and after every epoch its accuracy on the held-out *noisy* labels is measured
(:class:`BestEpochs`, which labelsweep.training.fit calls after every epoch of a stack of models); the epoch with the
best such accuracy is kept (:func:`best_epoch`), and that epoch's model is the one whose test accuracy is reported.
The holdout is drawn in stages/train_eval.py from the ``early_stopping`` cell's own noisy labels. Nothing here takes
a clean or a test label as an argument: the rule cannot read them (tests/test_robust.py poisons both in a real
train_eval and sees nothing change).

Why it can work with noisy labels: under noise that is not systematic, the model that agrees most with held-out
noisy labels is also, in expectation, the one that agrees most with the true ones (a noisy label equals the true
one with probability 1 - p whatever the model), so the noisy holdout ranks epochs like a clean one would, only
with more sampling error. Ties go to the earliest epoch: the one that has fitted fewer wrong labels.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from labelsweep.errors import not_allowed
from labelsweep.labels import NO_LABEL
from labelsweep.sampling import stratified_indices

HOLDOUT_KEY = "early_stopping.holdout"


def holdout_mask(noisy_labels: np.ndarray, share: float, seed: int, key: str = HOLDOUT_KEY) -> np.ndarray:
    """Which samples to hold out: a `share` of the labelled samples (``!= NO_LABEL``), stratified by their noisy
    label, drawn from `seed`. A share that leaves a class without a sample on either side is refused in one line
    naming `key`."""
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


def best_epoch(accuracy: np.ndarray) -> int:
    """The epoch (0-based) with the best held-out accuracy; the earliest of equals."""
    return int(np.argmax(np.asarray(accuracy)))


class BestEpochs:
    """Early stopping's per-epoch hook for one stack of models (labelsweep.training.fit): after every epoch each
    model's accuracy on its *own* held-out noisy labels, and a copy of the stack kept wherever a model did better
    than in every earlier epoch (ties: the earlier epoch, as :func:`best_epoch`)."""

    def __init__(self, x: torch.Tensor, holdout_labels: np.ndarray) -> None:
        """`x`: the stack's training images; `holdout_labels` (M, len(x)): model m's held-out noisy labels, NO_LABEL
        elsewhere. Only the held-out images are kept (a small share: scoring them costs little)."""
        rows = np.flatnonzero((holdout_labels != NO_LABEL).any(axis=0))
        if not (holdout_labels != NO_LABEL).any(axis=1).all():
            raise ValueError("every early-stopped model needs a held-out sample")
        self.x, self.labels = x[rows], torch.from_numpy(holdout_labels[:, rows])
        self.scores: list[np.ndarray] = []  # per epoch, (M,) held-out accuracy
        self.snapshots: list[nn.Module | None] = [None] * len(holdout_labels)  # model m's best stack so far

    @torch.no_grad()
    def after_epoch(self, model: nn.Module) -> None:
        """Score every model of the stack on its holdout (in eval mode, float32, no randomness drawn) and keep a
        copy of the stack for the models that did better than before."""
        model.eval()
        predicted = model(self.x).float().argmax(dim=-1).cpu()
        model.train()
        own = self.labels != NO_LABEL
        score = (((predicted == self.labels) & own).sum(dim=1) / own.sum(dim=1)).numpy()
        improved = score > np.max(self.scores, axis=0) if self.scores else np.ones(len(score), dtype=bool)
        self.scores.append(score)
        if improved.any():
            snapshot = copy.deepcopy(model)
            for m in np.flatnonzero(improved):
                self.snapshots[m] = snapshot

    @property
    def epochs(self) -> np.ndarray:
        """Each model's best epoch (0-based)."""
        return np.array([best_epoch(column) for column in np.array(self.scores).T])

    def selected(self) -> nn.Module:
        """The stack of the models at their best epochs (the same outputs' layout as the stack itself)."""
        return Selected(self.snapshots, self.epochs)


class Selected(nn.Module):
    """Model m's outputs taken from the stack copy `snapshots[m]` (one copy serves every model it was best for):
    (B, ...) -> (M, B, K) like a stack."""

    def __init__(self, snapshots: list[nn.Module | None], epochs: np.ndarray) -> None:
        super().__init__()
        self.epochs = epochs  # each model's epoch kept (0-based)
        unique = list({id(s): s for s in snapshots}.values())
        self.copies = nn.ModuleList(unique)
        self.which = [unique.index(s) for s in snapshots]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [stack(x) for stack in self.copies]
        return torch.stack([outputs[c][m] for m, c in enumerate(self.which)])
