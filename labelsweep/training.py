"""The one training protocol every model of the project follows (the models: labelsweep.models).

A stage that needs models fits them in one process: the cross-validation folds of a noise level, the
refits without the flagged samples, or the baseline and every cell of a level. **The protocol**, the
same for every model, dataset and device: the models of a group (one regime and seed) start from the
same weights, drawn from the seed alone, and take the same optimiser steps over the same batches --
the group's training set (``members``) in an order drawn from the seed. Each model's loss at a step is
the mean over *its own* samples of the batch (label >= 0); the others, and a batch without any of its
own, give it no gradient. So a pruned cell takes as many steps as the baseline, on fewer samples, and
cells differ only in their labels. Whether models train *stacked* into one wider network (the MLPs'
hidden layers one wide layer, their heads one batched product) or one after another only changes the
speed: Adam is element-wise, so a stacked model's weights follow the same path as if it were trained
alone (tests/test_training.py checks it); only dropout draws its masks for the stack together.

Precision (``train.precision``): ``auto`` trains under bf16 autocast where the device computes in bf16
natively and faster (CUDA, or a CPU with AMX; see :func:`cpu_has_native_bf16`) and in float32 elsewhere; losses, softmax
probabilities and so everything handed to cleanlab are float32. The CNN runs in channels-last memory
order, which measured faster on CPUs (BENCHMARKS.md).

Images arrive as uint8 arrays of shape (N, C, H, W) and are scaled to [-1, 1] once, as one tensor in
memory: the data sets fit in memory many times over, and a DataLoader's per-batch Python work would
cost more than these small models' arithmetic on a CPU. Runs are deterministic for a given seed,
thread count, precision and device.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from labelsweep.config import Train
from labelsweep.early_stopping import BestEpochs
from labelsweep.errors import ConfigError
from labelsweep.labels import NO_LABEL
from labelsweep.losses import Loss, cross_entropy, per_model_mean, select_loss
from labelsweep.models import build_models


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params.yaml: train.device = 'cuda' is not allowed here: no CUDA device is available "
                          "(use auto or cpu)")
    return torch.device(name)


@cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU has bf16 matrix units (AMX), from /proc/cpuinfo's flags.

    AVX512-BF16 alone does not count: on an Intel Xeon with it (and without AMX), bf16 autocast measured 1.3x
    *slower* for the stacked MLPs and no faster for the CNN than fp32 (BENCHMARKS.md), so `auto` keeps fp32
    there; where it pays (the AMD EPYC measured in issue 17), ``precision: bf16`` asks for it.
    """
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return "amx_bf16" in flags


def resolve_precision(name: str, device: torch.device) -> str:
    """``fp32`` or ``bf16``: `name` itself, or for ``auto`` bf16 where `device` runs it natively and faster
    (CUDA with bf16 support; a CPU with AMX)."""
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def environment(train: Train) -> dict:
    """What a fit under `train` runs on: device, precision, threads and library versions (recorded with the
    outputs of every stage that fits models)."""
    import cleanlab

    device = resolve_device(train.device)
    return {"device": device.type, "precision": resolve_precision(train.precision, device),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "numpy": np.__version__,
            "cleanlab": cleanlab.__version__}


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    x = torch.from_numpy(images).to(device=device, dtype=torch.float32).div_(127.5).sub_(1.0)
    return x.contiguous(memory_format=torch.channels_last)  # the CNN's order; the same bytes for one channel


def make_deterministic() -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    # Deterministic mode also fills every new tensor with NaN to expose reads of uninitialised memory;
    # that debugging aid costs ~10 % of a small model's step and changes no result.
    torch.utils.deterministic.fill_uninitialized_memory = False


def random_affine(x: torch.Tensor, degrees: float, translate: float, scale: float, generator: torch.Generator
                  ) -> torch.Tensor:
    """Each image of the batch rotated, shifted and scaled by its own small random amount.

    torchvision's RandomAffine draws one transform per call; a per-sample draw in one batched
    `grid_sample` costs about as much as a single one.
    """
    n = len(x)
    u = torch.rand(n, 4, generator=generator).mul_(2).sub_(1).to(x.device)  # uniform in [-1, 1]
    angle = u[:, 0] * math.radians(degrees)
    zoom = 1 + u[:, 1] * scale
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] * 2 * translate], 1),
                         torch.stack([sin, cos, u[:, 3] * 2 * translate], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Border padding repeats the image's edge, which is background here, rather than inventing black corners.
    out = F.grid_sample(x, grid, padding_mode="border", align_corners=False)
    return out.contiguous(memory_format=torch.channels_last)


def stacks(model: str, device: torch.device, n_models: int) -> list[slice]:
    """Which models train together: all of them for the MLP (one wide matrix product per layer) and on a
    GPU; one at a time for the CNN on a CPU, where grouped convolutions measured no faster per model
    than separate ones (BENCHMARKS.md). Either way every model follows the same protocol (module doc)."""
    if model == "mlp" or device.type == "cuda":
        return [slice(0, n_models)]
    return [slice(m, m + 1) for m in range(n_models)]


def loss_for(settings: Mapping[str, Any] | None, key: str = "training.loss") -> Loss:
    """The per-sample loss a strategy's `training` settings name (labelsweep.strategies.Strategy.training): `loss`
    with its `q` or `label_smoothing`; cross-entropy where they name none. A bad one is refused naming `key`."""
    settings = settings or {}
    return select_loss(settings.get("loss", "cross_entropy"), q=settings.get("q", 0.7),
                       label_smoothing=settings.get("label_smoothing", 0.0), key=key)


def fit(images: np.ndarray, labels: np.ndarray, n_classes: int, train: Train, seed: int,
        members: np.ndarray | None = None, desc: str = "fit", loss: Loss = cross_entropy,
        holdout: np.ndarray | None = None) -> list[nn.Module]:
    """Train one model per row of `labels` (M, N), model m on the samples with ``labels[m] >= 0``.

    Every model follows the protocol of the module doc: initial weights from `seed` alone, Adam with a
    one-cycle schedule for `train.epochs` passes over `members` (a boolean mask over the N samples;
    default: every sample some row trains on) in batches of `train.batch_size` in an order drawn
    from `seed`, each model's objective the mean of the per-sample `loss` (labelsweep.losses; default
    cross-entropy) over its own samples of the batch; in the stacks :func:`stacks` chooses and the precision
    :func:`resolve_precision` gives. `holdout` (M, N), early stopping's held-out *noisy* labels of each model
    (NO_LABEL elsewhere, never one it trains on): after every epoch each model is scored on its own and the
    epoch with the best accuracy is the model returned (labelsweep.early_stopping). Returns the stacks, in
    row order (see :func:`predict_proba`). A progress bar (one tick per batch) goes to stderr.
    """
    labels = np.atleast_2d(np.asarray(labels, dtype=np.int64))
    if not (labels != NO_LABEL).any(axis=1).all():
        raise ValueError("every model needs at least one training sample")
    held = labels if holdout is None else np.atleast_2d(np.asarray(holdout, dtype=np.int64))
    if held.shape != labels.shape:
        raise ValueError("`holdout` must have the shape of `labels`")
    used = (labels != NO_LABEL) | (held != NO_LABEL)
    members = used.any(axis=0) if members is None else np.asarray(members, dtype=bool)
    if ((labels != NO_LABEL) & ~members).any():
        raise ValueError("a model trains on a sample outside `members`")
    if holdout is not None:
        holdout = held
        if ((holdout != NO_LABEL) & ((labels != NO_LABEL) | ~members)).any():
            raise ValueError("`holdout` must hold, per model, labels of samples in `members` it does not train on")
    make_deterministic()
    device = resolve_device(train.device)
    bf16 = resolve_precision(train.precision, device) == "bf16"
    groups = stacks(train.model, device, len(labels))
    x = to_tensor(images[members], device)
    steps = train.epochs * -(-len(x) // train.batch_size)
    with tqdm(total=steps * len(groups), desc=desc, unit="batch", leave=False, mininterval=1.0) as bar:
        return [_fit_stack(x, labels[g][:, members], n_classes, train, seed, bf16, bar, loss,
                           None if holdout is None else BestEpochs(x, holdout[g][:, members])) for g in groups]


def _fit_stack(x: torch.Tensor, labels: np.ndarray, n_classes: int, train: Train, seed: int, bf16: bool,
               bar: tqdm, loss: Loss, best: BestEpochs | None) -> nn.Module:
    """One stack of models on the group's samples `x` (labels (M, len(x)), NO_LABEL outside a model's own);
    with `best`, each model's best epoch on its holdout (:func:`fit`)."""
    device = x.device
    y = torch.from_numpy(labels).to(device)
    torch.manual_seed(seed)
    model = build_models(train.model, len(labels), tuple(x.shape[1:]), n_classes, train.width).to(device)
    torch.manual_seed(seed)  # dropout's stream starts where it would for a single model
    optimizer = torch.optim.Adam(model.parameters(), lr=train.lr)
    batch_size, n = train.batch_size, len(x)
    n_batches = (n + batch_size - 1) // batch_size
    # Annealing to zero gets most of a longer run's accuracy out of a few epochs.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=train.lr,
                                                   total_steps=train.epochs * n_batches)
    generator = torch.Generator().manual_seed(seed)
    augment = train.augment
    model.train()
    for _ in range(train.epochs):
        order = torch.randperm(n, generator=generator).to(device)
        for i in range(n_batches):
            batch = order[i * batch_size : (i + 1) * batch_size]
            inputs = x[batch]
            if augment:
                inputs = random_affine(inputs, augment.degrees, augment.translate, augment.scale, generator)
            targets = y[:, batch]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(inputs)
            # Each model's mean over its own samples; the sum keeps the models' gradients separate.
            objective = per_model_mean(loss(logits, targets), targets)
            optimizer.zero_grad(set_to_none=True)
            objective.backward()
            optimizer.step()
            schedule.step()
            bar.update()
        if best is not None:
            best.after_epoch(model)
    return model if best is None else best.selected()


@torch.no_grad()
def predict_proba(models: list[nn.Module], images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Softmax probabilities of every model :func:`fit` returned, float32, shape (M, N, n_classes).

    Inference runs in float32 whatever the training precision: the probabilities go to cleanlab,
    whose rankings compare them to many digits, and inference is a small share of the time."""
    out = []
    for model in models:
        model.eval()
        device = next(model.parameters()).device
        chunks = [torch.softmax(model(to_tensor(images[i : i + batch_size], device)).float(), dim=-1).cpu().numpy()
                  for i in range(0, len(images), batch_size)]
        out.append(np.concatenate(chunks, axis=1))
    return np.concatenate(out).astype(np.float32)
