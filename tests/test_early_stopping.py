"""Early stopping on the noisy holdout (labelsweep.early_stopping): it reads neither the clean nor the test labels
(poisoned, nothing changes), it does read the held-out noisy labels, the model never trains on the holdout, the
holdout is stratified by noisy label, the best epoch is kept (the earliest of equals), and a bad share is refused in
one line naming the key."""

import inspect

import numpy as np
import pytest

from labelsweep import early_stopping
from labelsweep.early_stopping import best_epoch, early_stop, holdout_accuracy, holdout_mask, training_labels
from labelsweep.errors import ConfigError
from labelsweep.labels import NO_LABEL

N, K, TRUE_ACCURACY = 900, 3, [0.5, 0.8, 0.95, 0.7, 0.6]


def world(seed=0):
    """A run: images are sample ids; true and noisy labels (30 % flipped); a fake training whose epoch e predicts
    the true label of any image with probability TRUE_ACCURACY[e] (it improves, then overfits)."""
    rng = np.random.default_rng(seed)
    true = rng.integers(0, K, N)
    noisy = true.copy()
    flip = rng.random(N) < 0.3
    noisy[flip] = (true[flip] + rng.integers(1, K, flip.sum())) % K
    test_images, test_labels = np.arange(N, N + 300), rng.integers(0, K, 300)
    truth = np.concatenate([true, test_labels])  # the world's copy: what a model learns from the images
    tables = [np.where(rng.random(len(truth)) < a, truth, (truth + 1) % K) for a in TRUE_ACCURACY]
    seen = []

    def fit_epochs(images, labels):
        seen.append(labels.copy())
        for table in tables:
            yield lambda x, table=table: table[x]

    return {"images": np.arange(N), "true": true, "noisy": noisy, "test_images": test_images,
            "test_labels": test_labels, "fit_epochs": fit_epochs, "seen": seen}


def test_neither_clean_nor_test_labels_are_read():
    run = world()
    before = early_stop(run["fit_epochs"], run["images"], run["noisy"], 0.2, seed=0)
    run["true"][:] = (run["true"] + 1) % K  # poison the clean labels ...
    run["test_labels"][:] = -7  # ... and the test labels
    after = early_stop(run["fit_epochs"], run["images"], run["noisy"], 0.2, seed=0)
    assert after.epoch == before.epoch == 2
    assert (after.holdout == before.holdout).all()
    assert (after.holdout_accuracy == before.holdout_accuracy).all()
    assert (after.model(run["test_images"]) == before.model(run["test_images"])).all()
    for function in (holdout_mask, training_labels, holdout_accuracy, best_epoch, early_stop):
        names = inspect.signature(function).parameters
        assert not [n for n in names if "true" in n or "clean" in n or "test" in n], function.__name__


def test_the_held_out_noisy_labels_are_what_it_reads():
    run = world()
    before = early_stop(run["fit_epochs"], run["images"], run["noisy"], 0.2, seed=0)
    poisoned = run["noisy"].copy()
    poisoned[before.holdout] = (poisoned[before.holdout] + 1) % K
    after = early_stop(run["fit_epochs"], run["images"], poisoned, 0.2, seed=0)
    assert (after.holdout_accuracy != before.holdout_accuracy).any()


def test_the_model_never_trains_on_the_holdout():
    run = world()
    result = early_stop(run["fit_epochs"], run["images"], run["noisy"], 0.25, seed=1)
    labels = run["seen"][-1]
    assert (labels[result.holdout] == NO_LABEL).all()
    assert (labels[~result.holdout] == run["noisy"][~result.holdout]).all()
    assert result.holdout.sum() == round(0.25 * N)


def test_holdout_is_stratified_by_noisy_label_among_labelled_samples():
    noisy = np.repeat(np.arange(K), [500, 300, 100])
    noisy[::7] = NO_LABEL  # outside the run's subsample
    mask = holdout_mask(noisy, 0.2, seed=3)
    assert not mask[noisy == NO_LABEL].any()
    for k in range(K):
        assert abs(mask[noisy == k].sum() - 0.2 * (noisy == k).sum()) <= 1
    assert (holdout_mask(noisy, 0.2, seed=3) == mask).all() and (holdout_mask(noisy, 0.2, seed=4) != mask).any()


def test_holdout_accuracy_and_best_epoch_by_hand():
    noisy = np.array([0, 1, 2, 0])
    holdout = np.array([True, True, False, True])
    predicted = np.array([[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 2, 0], [0, 1, 0, 0]])
    accuracy = holdout_accuracy(predicted, noisy, holdout)
    assert accuracy.tolist() == pytest.approx([2 / 3, 2 / 3, 1, 1])
    assert holdout_accuracy(predicted[:, holdout], noisy, holdout).tolist() == accuracy.tolist()
    assert best_epoch(accuracy) == 2  # the earliest of the two best


@pytest.mark.parametrize("share", [0.0, 1.0, 1.5, 0.001])
def test_a_bad_share_is_refused_in_one_line_naming_the_key(share):
    with pytest.raises(ConfigError) as error:
        holdout_mask(np.arange(300) % K, share, seed=0)
    message = str(error.value)
    assert message.startswith(f"params.yaml: {early_stopping.HOLDOUT_KEY} = {share!r} is not allowed: a share in "
                              "(0, 1) that holds out between 3 and 297 of the 300 labelled samples")
    assert "\n" not in message
