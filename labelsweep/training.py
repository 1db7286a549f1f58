"""The models, and the one training loop that fits several of them at once.

A stage that needs models fits them in one process: the cross-validation folds of a noise level, or
the baseline and every threshold cell of a level. All of them share one architecture, one set of
initial weights and one batch order, so that differences between them come from their labels alone.
Where it measures faster, they train *stacked* into one wider network -- the MLPs' hidden layers
become one wide layer, their output layers one batched product -- so that a step of all of them is a
few large matrix products instead of many small ones. Stacked models draw the same batches, and each
model's loss is the mean over the samples of the batch that are its own (label >= 0): a sample it may
not see (its held-out fold, its pruned samples) is masked out of its loss. Adam is element-wise, so
each model's weights follow its own gradient exactly as if it were trained alone on masked batches.

Images arrive as uint8 arrays of shape (N, C, H, W) and are scaled to [-1, 1] once, as one tensor in
memory: the data sets fit in memory many times over, and a DataLoader's per-batch Python work would
cost more than these small models' arithmetic on a CPU. Runs are deterministic for a given seed,
thread count and device.
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from labelsweep import stage
from labelsweep.errors import ConfigError

EXCLUDED = -1  # a label that keeps a sample out of one model's loss


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params.yaml: train.device = 'cuda' is not allowed here: no CUDA device is available "
                          "(use auto or cpu)")
    return torch.device(name)


class StackedHead(nn.Module):
    """`n_models` independent linear layers applied to their own features: (B, M, F) -> (M, B, K)."""

    def __init__(self, n_models: int, in_features: int, n_classes: int) -> None:
        super().__init__()
        one = nn.Linear(in_features, n_classes)  # initialised as a single model's layer, then copied
        self.weight = nn.Parameter(one.weight.detach().T.expand(n_models, -1, -1).clone())
        self.bias = nn.Parameter(one.bias.detach().expand(n_models, -1).clone())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bmf,mfk->mbk", features, self.weight) + self.bias[:, None, :]


class StackedMLP(nn.Module):
    """`n_models` MLPs with one hidden layer of `hidden` units, trained side by side.

    The hidden layers of all models are one Linear layer `n_models * hidden` wide: a single large
    matrix product per step.
    """

    def __init__(self, n_models: int, in_features: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.n_models, self.hidden_units = n_models, hidden
        one = nn.Linear(in_features, hidden)
        self.hidden = nn.Linear(in_features, n_models * hidden)
        with torch.no_grad():
            self.hidden.weight.copy_(one.weight.repeat(n_models, 1))
            self.hidden.bias.copy_(one.bias.repeat(n_models))
        self.head = StackedHead(n_models, hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.hidden(x.flatten(1)))
        return self.head(h.view(len(x), self.n_models, self.hidden_units))


class StackedCNN(nn.Module):
    """`n_models` small CNNs side by side: three conv blocks of `width`, 2*`width` and 4*`width` channels.

    Model m owns channel group m of every layer. The first convolution reads the shared input with all
    models' filters at once; the later ones are grouped (one group per model), and batch normalisation
    is per channel, hence per model. Its batch statistics are taken over the whole batch, masked
    samples included: a model sees the *images* of samples kept out of its loss, never their labels.
    """

    def __init__(self, n_models: int, in_channels: int, width: int, n_classes: int) -> None:
        super().__init__()
        self.n_models, self.features_per_model = n_models, 4 * width * 4
        one = [nn.Conv2d(in_channels, width, 3, padding=1), nn.Conv2d(width, 2 * width, 3, padding=1),
               nn.Conv2d(2 * width, 4 * width, 3, padding=1)]
        convs = []
        for i, conv in enumerate(one):
            stacked = nn.Conv2d(conv.in_channels * (n_models if i else 1), conv.out_channels * n_models, 3,
                                padding=1, groups=n_models if i else 1)
            with torch.no_grad():
                stacked.weight.copy_(conv.weight.repeat(n_models, 1, 1, 1))
                stacked.bias.copy_(conv.bias.repeat(n_models))
            convs.append(stacked)
        m = n_models
        self.features = nn.Sequential(
            convs[0], nn.BatchNorm2d(m * width), nn.ReLU(), nn.MaxPool2d(2),
            convs[1], nn.BatchNorm2d(m * 2 * width), nn.ReLU(), nn.MaxPool2d(2),
            convs[2], nn.BatchNorm2d(m * 4 * width), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.3)
        self.head = StackedHead(n_models, self.features_per_model, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).reshape(len(x), self.n_models, self.features_per_model)
        return self.head(self.dropout(f))


def build_models(name: str, n_models: int, in_shape: tuple[int, int, int], n_classes: int, width: int) -> nn.Module:
    """`mlp`: one hidden layer of 16*`width` units on the flattened pixels (fast on a CPU);
    `cnn`: three batch-normalised conv blocks of `width`, 2*`width` and 4*`width` channels."""
    channels, height, side = in_shape
    if name == "mlp":
        return StackedMLP(n_models, channels * height * side, 16 * width, n_classes)
    if name == "cnn":
        return StackedCNN(n_models, channels, width, n_classes)
    raise ValueError(f"unknown model {name!r}")


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(images).to(device=device, dtype=torch.float32).div_(127.5).sub_(1.0)


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
    return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def stacks(model: str, device: torch.device, n_models: int) -> list[slice]:
    """Which models train together: all of them for the MLP (one wide matrix product per layer) and on a
    GPU; one at a time for the CNN on a CPU, where grouped convolutions measured no faster per model
    than separate ones (BENCHMARKS.md)."""
    if model == "mlp" or device.type == "cuda":
        return [slice(0, n_models)]
    return [slice(m, m + 1) for m in range(n_models)]


def fit(images: np.ndarray, labels: np.ndarray, n_classes: int, train: dict, seed: int, desc: str = "fit"
        ) -> list[nn.Module]:
    """Train one model per row of `labels` (M, N), model m on the samples with ``labels[m] >= 0``.

    Every model starts from the same weights (`seed`) and trains with Adam and a one-cycle schedule for
    `train['epochs']` passes in batches of `train['batch_size']`, in the stacks :func:`stacks` chooses.
    A stack drops first the samples none of its models trains on: a model trained alone sees only its
    own samples; models stacked together see batches of the union, each masked to its own samples.
    Returns the stacks, in row order (see :func:`predict_proba`). A progress bar (one tick per batch)
    goes to stderr; the time spent is added to ``labelsweep.stage.fit_seconds`` for the benchmark.
    """
    start = time.perf_counter()
    labels = np.atleast_2d(np.asarray(labels, dtype=np.int64))
    if not (labels != EXCLUDED).any(axis=1).all():
        raise ValueError("every model needs at least one training sample")
    make_deterministic()
    device = resolve_device(train["device"])
    groups = stacks(train["model"], device, len(labels))
    steps = [train["epochs"] * -(-int((labels[g] != EXCLUDED).any(axis=0).sum()) // train["batch_size"])
             for g in groups]
    with tqdm(total=sum(steps), desc=desc, unit="batch", leave=False, mininterval=1.0) as bar:
        models = [_fit_stack(images, labels[g], n_classes, train, seed, device, bar) for g in groups]
    elapsed = time.perf_counter() - start
    stage.fit_seconds += elapsed
    stage.work_seconds += elapsed
    return models


def _fit_stack(images: np.ndarray, labels: np.ndarray, n_classes: int, train: dict, seed: int,
               device: torch.device, bar: tqdm) -> nn.Module:
    used = (labels != EXCLUDED).any(axis=0)
    x = to_tensor(images[used], device)
    y = torch.from_numpy(labels[:, used]).to(device)
    torch.manual_seed(seed)
    model = build_models(train["model"], len(labels), images.shape[1:], n_classes, train["width"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
    batch_size, n = train["batch_size"], len(x)
    n_batches = (n + batch_size - 1) // batch_size
    # Annealing to zero gets most of a longer run's accuracy out of a few epochs.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=train["lr"],
                                                   total_steps=train["epochs"] * n_batches)
    generator = torch.Generator().manual_seed(seed)
    augment = train.get("augment")
    model.train()
    for _ in range(train["epochs"]):
        order = torch.randperm(n, generator=generator).to(device)
        for i in range(n_batches):
            batch = order[i * batch_size : (i + 1) * batch_size]
            inputs = x[batch]
            if augment:
                inputs = random_affine(inputs, augment["degrees"], augment["translate"], augment["scale"], generator)
            targets = y[:, batch]
            own = targets != EXCLUDED
            losses = F.cross_entropy(model(inputs).flatten(0, 1), targets.clamp(min=0).flatten(),
                                     reduction="none").view_as(targets)
            # Each model's mean over its own samples; the sum keeps the models' gradients separate.
            loss = ((losses * own).sum(1) / own.sum(1).clamp(min=1)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            bar.update()
    return model


@torch.no_grad()
@stage.work()
def predict_proba(models: list[nn.Module], images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Softmax probabilities of every model :func:`fit` returned, float32, shape (M, N, n_classes)."""
    out = []
    for model in models:
        model.eval()
        device = next(model.parameters()).device
        chunks = [torch.softmax(model(to_tensor(images[i : i + batch_size], device)), dim=-1).cpu().numpy()
                  for i in range(0, len(images), batch_size)]
        out.append(np.concatenate(chunks, axis=1))
    return np.concatenate(out).astype(np.float32)
