"""The models: an MLP and a CNN, each built as a stack of `n_models` copies that train side by side.

Stacked, the MLPs' hidden layers are one wide layer and their heads one batched product, the CNNs' convolutions
grouped; each copy's weights follow the path they would follow alone (labelsweep.training gives the protocol).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class StackedHead(nn.Module):
    """`n_models` copies of the linear layer `one`, each applied to its own features: (B, M, F) -> (M, B, K)."""

    def __init__(self, n_models: int, one: nn.Linear) -> None:
        super().__init__()
        self.weight = nn.Parameter(one.weight.detach().T.expand(n_models, -1, -1).clone())
        self.bias = nn.Parameter(one.bias.detach().expand(n_models, -1).clone())

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bmf,mfk->mbk", features, self.weight) + self.bias[:, None, :]


def adaptive_avg_pool(x: torch.Tensor, size: int, by_windows: bool | None = None) -> torch.Tensor:
    """``F.adaptive_avg_pool2d(x, size)``, with a backward pass that is deterministic on CUDA too.

    PyTorch's CUDA backward of adaptive average pooling adds with atomics and has no deterministic version: under
    :func:`make_deterministic` it raises a RuntimeError, so no CNN could train on a GPU. There the same windows
    (rows ``floor(i*H/size)`` to ``ceil((i+1)*H/size)``, columns alike) are averaged by slicing; elsewhere
    PyTorch's own kernel runs, so CPU results stay bit for bit as they were. `by_windows` forces either way (tests).
    """
    if not (x.is_cuda if by_windows is None else by_windows):
        return F.adaptive_avg_pool2d(x, size)
    rows, cols = ([(i * n // size, -(-(i + 1) * n // size)) for i in range(size)] for n in x.shape[2:])
    return torch.stack([torch.stack([x[:, :, r0:r1, c0:c1].mean(dim=(2, 3)) for c0, c1 in cols], dim=-1)
                        for r0, r1 in rows], dim=-2)


def _stacked_conv(one: nn.Conv2d, n_models: int, shared_input: bool) -> nn.Conv2d:
    """`n_models` copies of `one` as one convolution: reading one shared input, or grouped (one group per model)."""
    groups = 1 if shared_input else n_models
    stacked = nn.Conv2d(one.in_channels * groups, one.out_channels * n_models, one.kernel_size,
                        padding=one.padding, groups=groups)
    with torch.no_grad():
        stacked.weight.copy_(one.weight.repeat(n_models, 1, 1, 1))
        stacked.bias.copy_(one.bias.repeat(n_models))
    return stacked


class StackedMLP(nn.Module):
    """`n_models` MLPs with one hidden layer of `hidden` units, trained side by side.

    The hidden layers of all models are one Linear layer `n_models * hidden` wide: a single large
    matrix product per step. A single model's layers are drawn first, then copied, so that the initial
    weights do not depend on how many models are stacked.
    """

    def __init__(self, n_models: int, in_features: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.n_models, self.hidden_units = n_models, hidden
        one_hidden, one_head = nn.Linear(in_features, hidden), nn.Linear(hidden, n_classes)
        self.hidden = nn.Linear(in_features, n_models * hidden)
        with torch.no_grad():
            self.hidden.weight.copy_(one_hidden.weight.repeat(n_models, 1))
            self.hidden.bias.copy_(one_hidden.bias.repeat(n_models))
        self.head = StackedHead(n_models, one_head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.hidden(x.flatten(1)))
        return self.head(h.view(len(x), self.n_models, self.hidden_units))


class StackedCNN(nn.Module):
    """`n_models` small CNNs side by side: three conv blocks of `width`, 2*`width` and 4*`width` channels.

    Model m owns channel group m of every layer. The first convolution reads the shared input with all
    models' filters at once; the later ones are grouped (one group per model), and batch normalisation
    is per channel, hence per model. Its batch statistics are taken over the whole batch, masked
    samples included: a model sees the *images* of samples kept out of its loss, never their labels.
    A single model's layers are drawn first, then copied (initial weights independent of `n_models`).
    """

    def __init__(self, n_models: int, in_channels: int, width: int, n_classes: int) -> None:
        super().__init__()
        self.n_models, self.features_per_model = n_models, 4 * width * 4
        one = [nn.Conv2d(in_channels, width, 3, padding=1), nn.Conv2d(width, 2 * width, 3, padding=1),
               nn.Conv2d(2 * width, 4 * width, 3, padding=1)]
        one_head = nn.Linear(self.features_per_model, n_classes)
        convs = [_stacked_conv(conv, n_models, shared_input=i == 0) for i, conv in enumerate(one)]
        m = n_models
        self.features = nn.Sequential(
            convs[0], nn.BatchNorm2d(m * width), nn.ReLU(), nn.MaxPool2d(2),
            convs[1], nn.BatchNorm2d(m * 2 * width), nn.ReLU(), nn.MaxPool2d(2),
            convs[2], nn.BatchNorm2d(m * 4 * width), nn.ReLU(),
        )  # fmt: skip
        self.dropout = nn.Dropout(0.3)
        self.head = StackedHead(n_models, one_head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = adaptive_avg_pool(self.features(x), 2).reshape(len(x), self.n_models, self.features_per_model)
        return self.head(self.dropout(f))


def build_models(name: str, n_models: int, in_shape: tuple[int, int, int], n_classes: int, width: int) -> nn.Module:
    """`mlp`: one hidden layer of 16*`width` units on the flattened pixels (fast on a CPU);
    `cnn`: three batch-normalised conv blocks of `width`, 2*`width` and 4*`width` channels, channels-last."""
    channels, height, side = in_shape
    if name == "mlp":
        return StackedMLP(n_models, channels * height * side, 16 * width, n_classes)
    if name == "cnn":
        return StackedCNN(n_models, channels, width, n_classes).to(memory_format=torch.channels_last)
    raise ValueError(f"unknown model {name!r}")
