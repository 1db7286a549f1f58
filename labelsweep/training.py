"""The models and the one training loop every stage that fits a model uses.

Images arrive as uint8 arrays of shape (N, C, H, W) and are scaled to [-1, 1] once, as one tensor in
memory: the data sets here fit in memory many times over, and a DataLoader's per-batch Python work
would cost more than the small models' arithmetic on a CPU. Runs are deterministic for a given seed,
thread count and device: the seed fixes the initial weights and the batch order, and PyTorch is
told to use deterministic kernels.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from labelsweep import stage
from labelsweep.config import ConfigError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params.yaml: train.device = 'cuda' is not allowed here: no CUDA device is available "
                          "(use auto or cpu)")
    return torch.device(name)


def build_model(name: str, in_shape: tuple[int, int, int], n_classes: int, width: int = 16) -> nn.Module:
    """`mlp`: one hidden layer of 16*`width` units on the flattened pixels (fast on a CPU);
    `cnn`: three conv blocks of `width`, 2*`width` and 4*`width` channels, batch-normalised."""
    channels, height, side = in_shape
    if name == "mlp":
        return nn.Sequential(
            nn.Flatten(), nn.Linear(channels * height * side, 16 * width), nn.ReLU(), nn.Linear(16 * width, n_classes)
        )
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 4 * width, 3, padding=1), nn.BatchNorm2d(4 * width), nn.ReLU(),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(16 * width, n_classes),
        )  # fmt: skip
    raise ValueError(f"unknown model {name!r}")


def to_tensor(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(images).to(device=device, dtype=torch.float32).div_(127.5).sub_(1.0)


def make_deterministic(threads: int | None = None) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    # Deterministic mode also fills every new tensor with NaN to expose reads of uninitialised memory;
    # that debugging aid costs ~10 % of a small model's step and changes no result.
    torch.utils.deterministic.fill_uninitialized_memory = False
    if threads:
        torch.set_num_threads(threads)


def fit(
    images: np.ndarray, labels: np.ndarray, n_classes: int, train: dict, seed: int, desc: str = "fit"
) -> nn.Module:
    """Train a fresh `train['model']` on `images`/`labels` with Adam for `train['epochs']` epochs.

    A progress bar (one tick per batch) goes to stderr. The time spent here is added to
    ``labelsweep.stage.fit_seconds`` for the benchmark.
    """
    start = time.perf_counter()
    make_deterministic()
    device = resolve_device(train["device"])
    torch.manual_seed(seed)
    model = build_model(train["model"], images.shape[1:], n_classes, train["width"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
    loss_fn = nn.CrossEntropyLoss()
    n_steps = train["epochs"] * ((len(labels) + train["batch_size"] - 1) // train["batch_size"])
    # Annealing to zero gets most of a longer run's accuracy out of a few epochs.
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=train["lr"], total_steps=n_steps)
    x = to_tensor(images, device)
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64)).to(device)
    order_rng = torch.Generator().manual_seed(seed)
    batch_size, n = train["batch_size"], len(y)
    n_batches = (n + batch_size - 1) // batch_size
    model.train()
    with tqdm(total=train["epochs"] * n_batches, desc=desc, unit="batch", leave=False, mininterval=1.0) as bar:
        for _ in range(train["epochs"]):
            order = torch.randperm(n, generator=order_rng).to(device)
            for i in range(n_batches):
                batch = order[i * batch_size : (i + 1) * batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(x[batch]), y[batch]).backward()
                optimizer.step()
                schedule.step()
                bar.update()
    elapsed = time.perf_counter() - start
    stage.fit_seconds += elapsed
    stage.work_seconds += elapsed
    return model


@torch.no_grad()
@stage.work()
def predict_proba(model: nn.Module, images: np.ndarray, batch_size: int = 2048) -> np.ndarray:
    """Softmax probabilities, float32, shape (N, n_classes)."""
    model.eval()
    device = next(model.parameters()).device
    chunks = []
    for i in range(0, len(images), batch_size):
        logits = model(to_tensor(images[i : i + batch_size], device))
        chunks.append(torch.softmax(logits, dim=1).cpu().numpy())
    return np.concatenate(chunks).astype(np.float32)
