"""Per-sample training losses on logits, and the one selector that names them (issue 28: robust alternatives).

Every loss here has the shape contract of the training loop (labelsweep.training): `logits` of shape (..., K) --
(M, B, K) for M stacked models and a batch of B samples -- and integer `targets` of shape (...), where
``NO_LABEL`` (labelsweep.labels) marks a sample that model does not train on. A loss returns one value per sample,
shape (...), and exactly 0 (with no gradient) where the target is NO_LABEL; :func:`per_model_mean` then takes each
model's mean over its own samples, as the training loop does, so a robust loss changes nothing else of the protocol.

- ``cross_entropy``: PyTorch's, with its ``label_smoothing`` (0 = none): the target becomes
  ``(1 - eps) * onehot + eps / K``.
- ``gce``: generalized cross-entropy (Zhang & Sabuncu, NeurIPS 2018), ``(1 - p_y ** q) / q``. It lies between
  cross-entropy (q -> 0) and the mean absolute error ``1 - p_y`` (q = 1), is bounded by ``1 / q``, and so gives a
  wrongly labelled sample that the model rejects (p_y -> 0) a bounded pull instead of cross-entropy's unbounded one.
  q = 0.7 is the paper's choice for CIFAR with symmetric and asymmetric noise.
- ``sce``: symmetric cross-entropy (Wang et al., ICCV 2019), ``alpha * CE + beta * RCE`` with the reverse
  cross-entropy ``RCE = -A * (1 - p_y)`` for log 0 clipped to ``A = -4``; alpha = 0.1, beta = 1 are the paper's
  CIFAR-10 values. Offered because it costs one line; GCE is the one issue 28 runs.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from labelsweep.errors import not_allowed
from labelsweep.labels import NO_LABEL

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
LOG_ZERO = -4.0  # SCE's clip of log 0 in the reverse cross-entropy (the paper's A)


def _log_p_target(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log softmax probability of each sample's target (0 where NO_LABEL), and the mask of labelled samples.

    Computed in float32 from log_softmax, which stays finite for any logits (softmax followed by log does not)."""
    own = targets != NO_LABEL
    log_p = F.log_softmax(logits.float(), dim=-1)
    picked = log_p.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return picked * own, own


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Per-sample cross-entropy (PyTorch's, with its `label_smoothing`), 0 where the target is NO_LABEL."""
    own = targets != NO_LABEL
    losses = F.cross_entropy(logits.float().flatten(0, -2), targets.clamp(min=0).flatten(), reduction="none",
                             label_smoothing=label_smoothing)
    return losses.view_as(targets) * own


def generalized_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, q: float = 0.7) -> torch.Tensor:
    """Per-sample GCE ``(1 - p_y ** q) / q``, 0 where the target is NO_LABEL.

    Written as ``-expm1(q * log p_y) / q``: the same value, finite for any logits, and accurate as q -> 0, where it
    tends to cross-entropy ``-log p_y`` (expm1(x) = x + O(x**2))."""
    log_p, _ = _log_p_target(logits, targets)
    return -torch.expm1(q * log_p) / q  # log_p is 0 where NO_LABEL, so the loss is 0 there


def symmetric_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.1, beta: float = 1.0
                            ) -> torch.Tensor:
    """Per-sample SCE ``alpha * CE + beta * (-LOG_ZERO) * (1 - p_y)``, 0 where the target is NO_LABEL."""
    log_p, own = _log_p_target(logits, targets)
    return (alpha * -log_p + beta * -LOG_ZERO * (1 - log_p.exp())) * own


LOSSES = ("cross_entropy", "gce", "sce")


def select_loss(name: str, q: float = 0.7, label_smoothing: float = 0.0, key: str = "train.loss") -> Loss:
    """The per-sample loss `name` (one of :data:`LOSSES`) with its setting bound: ``gce`` takes `q` in (0, 1],
    ``cross_entropy`` takes `label_smoothing` in [0, 1). A bad name or setting is refused in one line naming the
    setting (`key`, and ``<key>_q`` / ``<key>_label_smoothing`` for the two values) before any training."""
    if name not in LOSSES:
        raise not_allowed(key, name, f"one of {', '.join(LOSSES)}")
    if name == "gce":
        if not 0 < q <= 1:
            raise not_allowed(f"{key}_q", q, "a number in (0, 1] (0.7: Zhang & Sabuncu 2018)")
        return partial(generalized_cross_entropy, q=q)
    if name == "cross_entropy":
        if not 0 <= label_smoothing < 1:
            raise not_allowed(f"{key}_label_smoothing", label_smoothing, "a number in [0, 1) (0: no smoothing)")
        return partial(cross_entropy, label_smoothing=label_smoothing)
    return symmetric_cross_entropy


def per_model_mean(losses: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The training objective of a stack of models from per-sample `losses` (M, B): each model's mean over its own
    samples (target != NO_LABEL), summed over the models so that their gradients stay separate; a model without a
    sample in the batch contributes 0 and gets no gradient (labelsweep.training's protocol)."""
    own = targets != NO_LABEL
    return ((losses * own).sum(-1) / own.sum(-1).clamp(min=1)).sum()
