"""Early stopping on the noisy holdout (labelsweep.early_stopping): nothing in it takes a clean or a test label, the
per-epoch hook scores each model on its own held-out noisy labels (and on those only), the model trains without
its holdout, the holdout is stratified by noisy label, the best epoch is kept (the earliest of equals), and a bad
share is refused in one line naming the key. The same rule through a real train_eval, with the clean and test
labels poisoned: tests/test_robust.py."""

import inspect

import numpy as np
import pytest
import torch

from labelsweep import early_stopping
from labelsweep.early_stopping import best_epoch, holdout_mask, training_labels
from labelsweep.errors import ConfigError
from labelsweep.labels import NO_LABEL

K = 3


class Epochs(torch.nn.Module):
    """A stand-in stack of models: at its e-th call, model m predicts `tables[e][m][i]` for image id i."""

    def __init__(self, tables: np.ndarray) -> None:
        super().__init__()
        self.tables, self.calls = torch.from_numpy(tables), 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        predicted = self.tables[self.calls][:, x]
        self.calls += 1
        return torch.nn.functional.one_hot(predicted, K).float()


def scored(holdout_labels: np.ndarray, tables: np.ndarray) -> early_stopping.BestEpochs:
    best = early_stopping.BestEpochs(torch.arange(holdout_labels.shape[1]), holdout_labels)
    model = Epochs(tables)
    for _ in tables:
        best.after_epoch(model)
    return best


# Two models, six images; model 0 holds out images 0-2, model 1 images 3-5. Three epochs of predictions.
HOLDOUT = np.array([[0, 1, 2, NO_LABEL, NO_LABEL, NO_LABEL], [NO_LABEL, NO_LABEL, NO_LABEL, 0, 1, 2]])
TABLES = np.array([[[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 1, 2]],
                   [[0, 1, 0, 1, 1, 1], [1, 1, 1, 0, 1, 0]],
                   [[0, 1, 2, 2, 2, 2], [0, 1, 2, 0, 1, 2]]])


def test_nothing_takes_a_clean_or_a_test_label():
    for function in (holdout_mask, training_labels, best_epoch, early_stopping.BestEpochs):
        names = inspect.signature(function).parameters
        assert not [n for n in names if "true" in n or "clean" in n or "test" in n], function.__name__


def test_each_model_is_scored_on_its_own_held_out_noisy_labels():
    """Model 0's accuracy on its images 0-2 by epoch: 1/3, 2/3, 1; model 1's on its images 3-5: 1, 2/3, 1 (the
    earliest of the best kept). Its input holds nothing but the held-out noisy labels (NO_LABEL elsewhere), and
    changing model 0's changes model 0's choice alone."""
    best = scored(HOLDOUT, TABLES)
    np.testing.assert_allclose(best.scores, [[1 / 3, 1], [2 / 3, 2 / 3], [1, 1]])
    assert best.epochs.tolist() == [2, 0]
    poisoned = HOLDOUT.copy()
    poisoned[0, :3] = [0, 0, 0]
    again = scored(poisoned, TABLES)
    assert again.epochs.tolist() == [0, 0]
    np.testing.assert_allclose(np.array(again.scores)[:, 1], np.array(best.scores)[:, 1])


def test_the_model_trains_without_its_holdout():
    noisy = np.arange(300) % K
    holdout = holdout_mask(noisy, 0.25, seed=1)
    labels = training_labels(noisy, holdout)
    assert (labels[holdout] == NO_LABEL).all() and (labels[~holdout] == noisy[~holdout]).all()
    assert holdout.sum() == 75


def test_holdout_is_stratified_by_noisy_label_among_labelled_samples():
    noisy = np.repeat(np.arange(K), [500, 300, 100])
    noisy[::7] = NO_LABEL  # outside the run's subsample
    mask = holdout_mask(noisy, 0.2, seed=3)
    assert not mask[noisy == NO_LABEL].any()
    for k in range(K):
        assert abs(mask[noisy == k].sum() - 0.2 * (noisy == k).sum()) <= 1
    assert (holdout_mask(noisy, 0.2, seed=3) == mask).all() and (holdout_mask(noisy, 0.2, seed=4) != mask).any()


def test_best_epoch_is_the_earliest_of_the_best():
    assert best_epoch(np.array([2 / 3, 2 / 3, 1, 1])) == 2


@pytest.mark.parametrize("share", [0.0, 1.0, 1.5, 0.001])
def test_a_bad_share_is_refused_in_one_line_naming_the_key(share):
    with pytest.raises(ConfigError) as error:
        holdout_mask(np.arange(300) % K, share, seed=0)
    message = str(error.value)
    assert message.startswith(f"params.yaml: {early_stopping.HOLDOUT_KEY} = {share!r} is not allowed: a share in "
                              "(0, 1) that holds out between 3 and 297 of the 300 labelled samples")
    assert "\n" not in message
