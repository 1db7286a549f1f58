"""The per-sample losses (labelsweep.losses): GCE tends to cross-entropy as q -> 0 and to 1 - p_y at q = 1, is
bounded by 1/q with finite gradients where cross-entropy is not bounded; label smoothing matches its formula; NO_LABEL
samples give 0 and no gradient; the per-model mean is each model's mean over its own samples; bad settings are
refused in one line naming the key."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from labelsweep.errors import ConfigError
from labelsweep.labels import NO_LABEL
from labelsweep.losses import (
    LOG_ZERO,
    cross_entropy,
    generalized_cross_entropy,
    per_model_mean,
    select_loss,
    symmetric_cross_entropy,
)


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 8, 5, generator=generator) * 3  # 3 stacked models, 8 samples, 5 classes
    targets = torch.randint(0, 5, (3, 8), generator=generator)
    return logits, targets


def test_gce_tends_to_cross_entropy_as_q_goes_to_0(batch):
    logits, targets = batch
    ce = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none").view_as(targets)
    gaps = [(generalized_cross_entropy(logits, targets, q) - ce).abs().max().item() for q in (0.5, 0.1, 1e-2, 1e-4)]
    assert all(a > b for a, b in zip(gaps, gaps[1:]))  # shrinks with q
    torch.testing.assert_close(generalized_cross_entropy(logits, targets, 1e-6), ce, rtol=1e-4, atol=1e-5)
    assert gaps[0] > 0.1  # at q = 0.5 it is another loss


def test_gce_at_q_1_is_the_mean_absolute_error(batch):
    logits, targets = batch
    p_y = torch.softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    torch.testing.assert_close(generalized_cross_entropy(logits, targets, 1.0), 1 - p_y)


def test_gce_is_bounded_with_finite_gradient_where_cross_entropy_explodes():
    logits = torch.tensor([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], requires_grad=True)
    targets = torch.tensor([2, 1])  # the first: a label the model rejects with certainty
    losses = generalized_cross_entropy(logits, targets, 0.7)
    assert torch.isfinite(losses).all() and (losses >= 0).all() and (losses <= 1 / 0.7).all()
    assert losses[0].item() == pytest.approx(1 / 0.7)
    assert losses[1].item() == pytest.approx((1 - (1 / 3) ** 0.7) / 0.7)
    losses.sum().backward()
    assert torch.isfinite(logits.grad).all()
    assert cross_entropy(logits.detach(), targets)[0].item() > 1e3  # cross-entropy: unbounded


def test_label_smoothing_matches_its_formula(batch):
    logits, targets = batch
    log_p = torch.log_softmax(logits, -1)
    nll = -log_p.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    by_hand = 0.9 * nll + 0.1 * -log_p.mean(-1)
    torch.testing.assert_close(cross_entropy(logits, targets, 0.1), by_hand)
    torch.testing.assert_close(select_loss("cross_entropy", label_smoothing=0.1)(logits, targets), by_hand)


@pytest.mark.parametrize("name", ["cross_entropy", "gce", "sce"])
def test_no_label_samples_give_zero_loss_and_no_gradient(batch, name):
    logits, targets = batch
    targets = targets.clone()
    targets[0, :3] = NO_LABEL
    logits = logits.clone().requires_grad_(True)
    losses = select_loss(name)(logits, targets)
    assert losses.shape == targets.shape
    assert (losses[0, :3] == 0).all() and (losses[0, 3:] > 0).all()
    per_model_mean(losses, targets).backward()
    assert (logits.grad[0, :3] == 0).all() and (logits.grad[0, 3:] != 0).any()


def test_sce_is_alpha_ce_plus_beta_reverse_ce(batch):
    logits, targets = batch
    p_y = torch.softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    by_hand = 0.1 * -p_y.log() + 1.0 * -LOG_ZERO * (1 - p_y)
    torch.testing.assert_close(symmetric_cross_entropy(logits, targets), by_hand)


def test_per_model_mean_is_each_models_mean_over_its_own_samples():
    losses = torch.tensor([[1.0, 5.0, 3.0], [2.0, 4.0, 6.0], [7.0, 7.0, 7.0]])
    targets = torch.tensor([[0, NO_LABEL, 1], [1, 1, 1], [NO_LABEL] * 3])
    # model 0: (1 + 3) / 2; model 1: (2 + 4 + 6) / 3; model 2: no sample of its own, 0
    assert per_model_mean(losses, targets).item() == pytest.approx(2.0 + 4.0 + 0.0)


@pytest.mark.parametrize("name, kwargs, message", [
    ("mae", {}, "params.yaml: train.loss = 'mae' is not allowed: one of cross_entropy, gce, sce"),
    ("gce", {"q": 0.0}, "params.yaml: train.loss_q = 0.0 is not allowed: a number in (0, 1]"),
    ("gce", {"q": 1.5}, "params.yaml: train.loss_q = 1.5 is not allowed"),
    ("cross_entropy", {"label_smoothing": 1.0}, "params.yaml: train.loss_label_smoothing = 1.0 is not allowed"),
])
def test_bad_settings_are_refused_in_one_line_naming_the_key(name, kwargs, message):
    with pytest.raises(ConfigError) as error:
        select_loss(name, **kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_selector_binds_q():
    logits, targets = torch.zeros(1, 4), torch.tensor([0])
    assert select_loss("gce", q=0.5)(logits, targets).item() == pytest.approx((1 - 0.25**0.5) / 0.5)
    assert np.isclose(select_loss("gce")(logits, targets).item(), (1 - 0.25**0.7) / 0.7)
