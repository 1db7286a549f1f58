"""Out-of-sample predicted probabilities really are out of sample: a model never learns the labels masked out of
its loss, and the crossval_probs stage gives each sample the probabilities of the fold model that did not see it.

The toy data: 90 8x8 images in 3 classes, class k a bright row k over dim noise. Six "odd" samples carry a label
that contradicts their image (the next class) and a bright row in the lower half that no other image has, so a
model that trains on such a sample can memorise its label, and one that does not predicts its image's class.
"""

from __future__ import annotations

import numpy as np

from labelsweep.training import EXCLUDED, fit, predict_proba

from .conftest import checkout, run_stage, write_raw

N, K = 90, 3
ODD = np.array([0, 5, 31, 47, 62, 80])
TRAIN = {"model": "mlp", "width": 4, "epochs": 40, "batch_size": 16, "lr": 0.01, "device": "cpu"}


def toy() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, true labels, given labels): the given label of each ODD sample is the next class."""
    rng = np.random.default_rng(0)
    truth = np.arange(N) % K
    images = rng.integers(0, 40, size=(N, 1, 8, 8), dtype=np.uint8)
    images[np.arange(N), 0, truth, :] = 255
    for j, i in enumerate(ODD):
        images[i, 0, 5 + j % 3, :] = 255  # a mark only the odd samples have
    given = truth.copy()
    given[ODD] = (truth[ODD] + 1) % K
    return images, truth, given


def test_a_label_masked_out_of_the_loss_is_not_learned_while_an_included_one_is():
    """Model 0 (the odd samples EXCLUDED) and model 1 (all labels) train together on the same batches: model 0
    puts most of the odd samples' probability on their image's class and almost none on their given label, while
    model 1 memorises the given labels. So the masking, not the data, decides what a model knows."""
    images, truth, given = toy()
    held_out = np.where(np.isin(np.arange(N), ODD), EXCLUDED, given)
    probs = predict_proba(fit(images, np.vstack([held_out, given]), K, TRAIN, seed=0), images[ODD])
    assert probs.shape == (2, len(ODD), K)
    out_of_sample, in_sample = probs
    assert np.array_equal(out_of_sample.argmax(axis=1), truth[ODD])
    assert (out_of_sample[np.arange(len(ODD)), given[ODD]] < 0.1).all()
    assert np.array_equal(in_sample.argmax(axis=1), given[ODD])  # the same architecture can fit them
    assert (in_sample[np.arange(len(ODD)), given[ODD]] > 0.5).all()


def test_the_crossval_probs_stage_takes_each_sample_from_the_fold_model_that_held_it_out(tmp_path, params):
    """The stage on the toy with 2 folds: each odd sample's probabilities favour its image's class, not its given
    label, which the other fold's model (trained on it) would have memorised; fold.npy splits every class evenly."""
    images, truth, given = toy()
    params.update(datasets=["fashion_mnist"])
    params["cleanlab"]["folds"] = 2
    params["fashion_mnist"]["train"] = TRAIN
    checkout(tmp_path, params)
    write_raw(tmp_path / "raw", images, truth, ["a", "b", "c"])
    (tmp_path / "noisy").mkdir()
    np.save(tmp_path / "noisy" / "labels.npy", given)
    np.save(tmp_path / "noisy" / "flipped.npy", given != truth)
    result = run_stage("crossval_probs", tmp_path, "--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy",
                       "--out", "probs")
    assert result.returncode == 0, result.stderr
    pred_probs, fold = np.load(tmp_path / "probs/pred_probs.npy"), np.load(tmp_path / "probs/fold.npy")
    assert pred_probs.shape == (N, K) and pred_probs.dtype == np.float32
    # Stratified on the given labels: classes of 33, 30 and 27 samples (the odd sample 0 went from class 0 to 1,
    # sample 31 from 1 to 2, samples 5, 47, 62 and 80 from 2 to 0), each split as evenly as it can be.
    assert [sorted(np.bincount(fold[given == k], minlength=2).tolist()) for k in range(K)] == [[16, 17], [15, 15],
                                                                                                [13, 14]]
    assert len(set(fold[ODD])) == 2  # odd samples in both folds: both models are checked
    assert np.array_equal(pred_probs[ODD].argmax(axis=1), truth[ODD])
    assert (pred_probs[ODD, given[ODD]] < 0.5).all()
