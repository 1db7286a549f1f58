"""Out-of-sample predicted probabilities really are out of sample: a model never learns the labels masked out of
its loss, and the crossval_probs stage gives each sample of each run the probabilities of the fold model that did
not see it. Every model follows one protocol (labelsweep/training.py): its initial weights come from the seed
alone, and it takes the steps of its group over the group's batches, whether it trains alone or stacked, so a
model's result does not depend on the labels of the models beside it, and train_eval may train identical cells
once. bf16 autocast is chosen where the hardware runs it, deterministic, and hands cleanlab float32.

The toy data: 90 8x8 images in 3 classes, class k a bright row k over dim noise. Six "odd" samples carry a label
that contradicts their image (the next class) and a bright row in the lower half that no other image has, so a
model that trains on such a sample can memorise its label, and one that does not predicts its image's class.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from labelsweep import models, training
from labelsweep.config import Train
from labelsweep.labels import NO_LABEL
from labelsweep.training import build_models, fit, predict_proba

from .conftest import ROOT, checkout, run_stage, save_runs, write_raw

N, K = 90, 3
ODD = np.array([0, 5, 31, 47, 62, 80])
# LABELSWEEP_REAL_CUDA=1 (bench/gpu.sh, on a GPU machine): every fit here trains on the real CUDA device, and the
# precision tests ask the device itself whether it computes bf16 instead of a mock.
REAL_CUDA = os.environ.get("LABELSWEEP_REAL_CUDA") == "1"
DEVICE = "cuda" if REAL_CUDA else "cpu"
TRAIN = {"model": "mlp", "width": 4, "epochs": 40, "batch_size": 16, "lr": 0.01, "device": DEVICE, "precision": "fp32"}


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


@pytest.mark.slow
def test_a_label_masked_out_of_the_loss_is_not_learned_while_an_included_one_is():
    """Model 0 (the odd samples NO_LABEL) and model 1 (all labels) train together on the same batches: model 0
    puts most of the odd samples' probability on their image's class and almost none on their given label, while
    model 1 memorises the given labels. So the masking, not the data, decides what a model knows."""
    images, truth, given = toy()
    held_out = np.where(np.isin(np.arange(N), ODD), NO_LABEL, given)
    probs = predict_proba(fit(images, np.vstack([held_out, given]), K, typed(TRAIN), seed=0), images[ODD])
    assert probs.shape == (2, len(ODD), K)
    out_of_sample, in_sample = probs
    assert np.array_equal(out_of_sample.argmax(axis=1), truth[ODD])
    assert (out_of_sample[np.arange(len(ODD)), given[ODD]] < 0.1).all()
    assert np.array_equal(in_sample.argmax(axis=1), given[ODD])  # the same architecture can fit them
    assert (in_sample[np.arange(len(ODD)), given[ODD]] > 0.5).all()




# The second run of the crossval_probs stage below: a `small` regime's 60-sample subsample (15 epochs), seed 1; samples
# outside it are -1. Five odd samples are in it; not sample 62, which carries the mark of sample 5 and its given
# label (their true class 2 flipped to 0): a fold model trained on one of the two would learn the other's label
# from their shared mark, whatever the masking.
SMALL_ODD = ODD[ODD != 62]
SMALL = np.sort(np.concatenate([SMALL_ODD, np.setdiff1d(np.arange(N), ODD)[:55]]))


@pytest.mark.slow
def test_the_crossval_probs_stage_takes_each_sample_from_the_fold_model_that_held_it_out(tmp_path, params):
    """The stage on the toy with 2 folds and two runs (the whole toy in the default regime with seed 0; the `small`
    regime's subsample with seed 1, a group of its own): in each run each odd sample's probabilities favour its
    image's class, not its given label, which the other fold's model (trained on it) would have memorised;
    fold.npy splits every class of a run evenly; a sample outside a run has NaN probabilities and fold -1."""
    images, truth, given = toy()
    # params.yaml's runs name only the toy's regimes (the project's grids name overfit_15k, which it has not).
    toy_runs = {"noise_kinds": ["symmetric"], "regimes": ["default", "small"], "seeds": [0, 1]}
    params.update(datasets=["fashion_mnist"], runs=toy_runs, study=None)
    params["cleanlab"]["folds"] = 2
    params["fashion_mnist"]["train"] = TRAIN
    params["fashion_mnist"]["regimes"] = {"memorise": None, "small": {"train_size": 60, "epochs": 15}}
    checkout(tmp_path, params)
    write_raw(tmp_path / "raw", images, truth, ["a", "b", "c"])
    inside = np.isin(np.arange(N), SMALL)
    small = np.where(inside, given, -1)
    save_runs(tmp_path / "noisy", np.vstack([given, small]), np.vstack([given != truth, (small != truth) & inside]),
              [("symmetric", "default", 0), ("symmetric", "small", 1)])
    result = run_stage("crossval_probs", tmp_path, "--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy",
                       "--out", "probs")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "probs").iterdir()) == ["environment.json", "fold.npy", "pred_probs.npy"]
    used = json.loads((tmp_path / "probs/environment.json").read_text())
    assert sorted(used) == ["default", "small"] and used["default"]["precision"] == "fp32"
    assert {"torch", "numpy", "cleanlab", "threads", "device"} <= set(used["small"])
    pred_probs, fold = np.load(tmp_path / "probs/pred_probs.npy"), np.load(tmp_path / "probs/fold.npy")
    assert pred_probs.shape == (2, N, K) and pred_probs.dtype == np.float32 and fold.shape == (2, N)
    # Stratified on the given labels: classes of 33, 30 and 27 samples (the odd sample 0 went from class 0 to 1,
    # sample 31 from 1 to 2, samples 5, 47, 62 and 80 from 2 to 0), each split as evenly as it can be.
    assert [sorted(np.bincount(fold[0, given == k], minlength=2).tolist()) for k in range(K)] == [[16, 17], [15, 15],
                                                                                                   [13, 14]]
    for run, odd in [(0, ODD), (1, SMALL_ODD)]:
        assert len(set(fold[run, odd])) == 2  # odd samples in both folds: both models are checked
        assert np.array_equal(pred_probs[run, odd].argmax(axis=1), truth[odd]), run
        assert (pred_probs[run, odd, given[odd]] < 0.5).all(), run
    # The subsample run: probabilities and folds inside it only, every class split evenly between the folds.
    assert np.array_equal(np.isnan(pred_probs[1]).all(axis=1), ~inside) and not np.isnan(pred_probs[1, inside]).any()
    np.testing.assert_allclose(pred_probs[1, inside].sum(axis=1), 1, atol=1e-5)
    assert (fold[1, ~inside] == -1).all() and set(fold[1, inside].tolist()) == {0, 1}
    for k in range(K):
        per_fold = np.bincount(fold[1, inside & (given == k)], minlength=2)
        assert abs(per_fold[0] - per_fold[1]) <= 1, (k, per_fold)
    assert not np.isnan(pred_probs[0]).any() and (fold[0] >= 0).all()


@pytest.mark.slow
def test_a_stacked_model_does_not_depend_on_the_labels_of_the_models_beside_it():
    """Row `truth` trained in a stack of 3 beside other labels, beside copies of itself, or in another place of the
    stack: the same probabilities to the bit (one initialisation, one batch order, each model its own loss)."""
    images, truth, given = toy()
    pruned = np.where(np.isin(np.arange(N), ODD), NO_LABEL, given)
    train = {**TRAIN, "epochs": 5}
    a = predict_proba(fit(images, np.vstack([truth, given, pruned]), K, typed(train), seed=0), images)
    b = predict_proba(fit(images, np.vstack([truth, truth, truth]), K, typed(train), seed=0), images)
    c = predict_proba(fit(images, np.vstack([given, pruned, truth]), K, typed(train), seed=0), images)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[0], c[2]) and np.array_equal(a[1], c[0])
    assert not np.array_equal(a[0], a[1])  # the labels do matter


# train_eval on the toy: a test set of the 90 toy images and 60 images of pure noise (on which what a model predicts
# depends on everything it was trained with), with random labels for the noise; 5 epochs.
NOISE = np.random.default_rng(1).integers(0, 256, size=(60, 1, 8, 8), dtype=np.uint8)
NOISE_LABELS = np.random.default_rng(2).integers(0, K, size=60)
SHORT = {**TRAIN, "epochs": 5}


def typed(train: dict) -> Train:
    """A train section as the stages hand it to fit: checked, typed."""
    return Train.model_validate(train)


@pytest.fixture(scope="module")
def train_eval_run(tmp_path_factory):
    """A level of two runs (both kinds, the default regime, seed 0: one group) whose cells repeat label rows: the
    baseline and keep_rest at 0 (the given labels); the true labels, in both runs; perfect detection (the odd samples
    pruned) in the first. Returns the folder, the distinct rows in order of first appearance, and each cell's row."""
    images, truth, given = toy()
    tmp_path = tmp_path_factory.mktemp("train_eval")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(datasets=["fashion_mnist"])
    params["fashion_mnist"]["train"] = SHORT
    checkout(tmp_path, params)
    write_raw(tmp_path / "raw", images, truth, ["a", "b", "c"],
              test=(np.concatenate([images, NOISE]), np.concatenate([truth, NOISE_LABELS])))
    other = truth.copy()
    other[[1, 2]] = (truth[[1, 2]] + 1) % K  # the second run's given labels: two other samples flipped
    save_runs(tmp_path / "noisy", np.vstack([given, other]), np.vstack([given != truth, other != truth]),
              [("symmetric", "default", 0), ("class_conditional", "default", 0)])
    pruned = np.where(np.isin(np.arange(N), ODD), -1, given)
    distinct = [given, truth, pruned, other]
    cells = [(0, "baseline", 0), (0, "keep_rest", 0), (0, "perfect_detection", 2), (0, "true_labels", 1),
             (1, "baseline", 3), (1, "keep_rest", 3), (1, "true_labels", 1)]
    (tmp_path / "cleaned").mkdir()
    np.save(tmp_path / "cleaned/labels.npy", np.vstack([distinct[i] for _, _, i in cells]))
    pd.DataFrame({"run": [r for r, _, _ in cells], "strategy": [s for _, s, _ in cells],
                  "prune_share": [0.0 if s == "keep_rest" else np.nan for _, s, _ in cells],
                  "sweep": True, "study": True}).to_csv(
        tmp_path / "cleaned/cells.csv", index=False)
    result = run_stage("train_eval", tmp_path, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw",
                       "--noisy", "noisy", "--cleaned", "cleaned", "--predictions", "pred.npy", "--accuracy",
                       "acc.csv")
    assert result.returncode == 0, result.stderr
    return tmp_path, distinct, [i for _, _, i in cells], result


@pytest.mark.slow
def test_train_eval_trains_identical_cells_once_without_changing_any_result(train_eval_run):
    """The 7 cells hold 4 distinct label rows: train_eval fits 4 models, and each cell's test predictions are those
    of the 4 distinct rows trained together (computed here): duplicate cells (the baseline and keep_rest at 0; the
    true labels of both runs) have equal predictions and accuracies, and each cell gets its own row's model (the
    models differ, so a wrong mapping shows)."""
    folder, distinct, which, result = train_eval_run
    assert ": 4 models" in result.stderr  # the progress bar's description: one fit of the 4 distinct rows
    test_labels = np.concatenate([toy()[1], NOISE_LABELS])
    expected = predict_proba(fit(toy()[0], np.vstack(distinct), K, typed(SHORT), seed=0),
                             np.concatenate([toy()[0], NOISE])).argmax(axis=-1)
    assert len({row.tobytes() for row in expected}) == 4  # 4 different models
    predicted = np.load(folder / "pred.npy")
    assert predicted.shape == (7, 150) and predicted.dtype == np.int16
    assert np.array_equal(predicted, expected[which])
    table = pd.read_csv(folder / "acc.csv")
    assert table.test_accuracy.tolist() == (expected[which] == test_labels).mean(axis=1).round(6).tolist()
    assert table.test_accuracy[0] == table.test_accuracy[1] and table.test_accuracy[3] == table.test_accuracy[6]
    assert table.test_accuracy[4] == table.test_accuracy[5]
    assert table[["noise_kind", "strategy"]].values.tolist() == [
        ["symmetric", "baseline"], ["symmetric", "keep_rest"], ["symmetric", "perfect_detection"],
        ["symmetric", "true_labels"], ["class_conditional", "baseline"], ["class_conditional", "keep_rest"],
        ["class_conditional", "true_labels"]]
    truth = toy()[1]
    assert table.train_samples.tolist() == [90, 90, 84, 90, 90, 90, 90]
    assert table.wrong_labels.tolist() == [6, 6, 0, 0, 2, 2, 0]
    assert np.array_equal(table.wrong_labels, [(distinct[i] != truth)[distinct[i] != -1].sum() for i in which])


@pytest.mark.slow
def test_a_cell_of_train_eval_is_the_model_its_labels_give_alone(train_eval_run):
    """The baseline cell's predictions are those of a model trained alone on the baseline's labels with the same
    seed: training identical cells once (or beside other cells) changes no cell's result."""
    folder, distinct, which, _ = train_eval_run
    alone = predict_proba(fit(toy()[0], distinct[0][None, :], K, typed(SHORT), seed=0),
                          np.concatenate([toy()[0], NOISE])).argmax(axis=-1)[0]
    assert np.array_equal(np.load(folder / "pred.npy")[0], alone)


def test_a_model_trained_alone_takes_the_same_steps_as_in_a_stack():
    """The protocol: each row trained alone over the same members (every sample) gives, within float tolerance, the
    probabilities it gives stacked beside other rows -- the pruned row (perfect detection) included, which takes
    the baseline's steps over the baseline's batches. Without `members` the pruned row alone sees fewer batches and
    ends elsewhere, so the check can fail."""
    images, truth, given = toy()
    pruned = np.where(np.isin(np.arange(N), ODD), NO_LABEL, given)
    rows = np.vstack([given, truth, pruned])
    everyone = np.ones(N, dtype=bool)
    stacked = predict_proba(fit(images, rows, K, typed(SHORT), seed=3), images)
    for m, row in enumerate(rows):
        alone = predict_proba(fit(images, row[None, :], K, typed(SHORT), seed=3, members=everyone), images)[0]
        np.testing.assert_allclose(alone, stacked[m], atol=2e-5)
    own_batches_only = predict_proba(fit(images, pruned[None, :], K, typed(SHORT), seed=3), images)[0]
    assert np.abs(own_batches_only - stacked[2]).max() > 1e-3


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_initial_weights_depend_on_the_seed_alone_not_on_the_stack(model):
    """Every model of a stack of 1, 3 or 7 starts from exactly the weights a single model draws from the seed, so
    adding runs or cells to a grid changes no existing cell's starting point."""
    def weights(n_models: int) -> dict[str, torch.Tensor]:
        torch.manual_seed(11)
        return dict(build_models(model, n_models, (1, 8, 8), K, 4).named_parameters())

    single = {name: tensor.reshape(1, -1)[0] for name, tensor in weights(1).items()}
    for n_models in (3, 7):
        stacked = weights(n_models)
        assert stacked.keys() == single.keys()
        for name, tensor in stacked.items():  # model m's block of every stacked parameter, flattened
            for m, own in enumerate(tensor.reshape(n_models, -1)):
                assert torch.equal(own, single[name]), (name, n_models, m)


@pytest.mark.parametrize(("setting", "cuda", "native", "expected"), [
    ("auto", False, True, "bf16"), ("auto", False, False, "fp32"), ("auto", True, False, "bf16"),
    ("fp32", False, True, "fp32"), ("bf16", False, False, "bf16")])
def test_auto_precision_is_bf16_where_the_device_computes_it_natively(monkeypatch, setting, cuda, native, expected):
    monkeypatch.setattr(training, "cpu_has_native_bf16", lambda: native)
    if not REAL_CUDA:  # on a GPU machine the device answers (a GPU with bf16, as every one since Ampere)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert training.resolve_precision(setting, torch.device("cuda" if cuda else "cpu")) == expected


@pytest.mark.skipif(not REAL_CUDA, reason="LABELSWEEP_REAL_CUDA=1 runs it on a GPU machine (bench/gpu.sh)")
def test_auto_resolves_to_the_gpu_and_bf16_on_a_gpu_machine():
    """`device: auto` picks the GPU there, with bf16, and a stage records that in its environment.json."""
    used = training.environment(typed({**SHORT, "device": "auto", "precision": "auto"}))
    assert (used["device"], used["precision"]) == ("cuda", "bf16")


@pytest.mark.parametrize("side", [7, 8, 5])
def test_pooling_by_windows_is_pytorchs_adaptive_pooling_forward_and_backward(side):
    """The CNN's pooling on CUDA (slices, deterministic) computes PyTorch's adaptive average pooling and its
    gradient, for the Fashion-MNIST CNN's 7x7 maps (overlapping windows), the 32-pixel images' 8x8 and an odd 5x5."""
    x = torch.randn(3, 4, side, side, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    weights = torch.randn(3, 4, 2, 2, dtype=torch.float64)
    results = []
    for by_windows in (False, True):
        leaf = x.clone().requires_grad_(True)
        out = models.adaptive_avg_pool(leaf, 2, by_windows=by_windows)
        (out * weights).sum().backward()
        results.append((out.detach(), leaf.grad))
    (expected, expected_grad), (pooled, grad) = results
    assert pooled.shape == (3, 4, 2, 2)
    torch.testing.assert_close(pooled, expected)
    torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize(("flags", "expected"), [
    ("fpu sse2 avx512f avx512_bf16", False), ("fpu avx512_bf16 amx_bf16 amx_tile", True), ("fpu sse2 avx2", False)])
def test_the_cpu_capability_is_read_from_cpuinfo_flags(monkeypatch, tmp_path, flags, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(
        cpuinfo if path == "/proc/cpuinfo" else path, *a, **k))
    training.cpu_has_native_bf16.cache_clear()
    try:
        assert training.cpu_has_native_bf16() is expected
    finally:
        training.cpu_has_native_bf16.cache_clear()


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_bf16_training_is_deterministic_changes_the_arithmetic_and_hands_out_float32(model):
    """bf16 autocast really runs (its models differ from fp32's), a second fit with the same seed, threads and
    precision gives the same probabilities to the bit, and the probabilities (what cleanlab gets) are float32
    summing to 1."""
    images, _, given = toy()
    train = {**SHORT, "model": model, "epochs": 2, "precision": "bf16",
             "augment": {"degrees": 10, "translate": 0.1, "scale": 0.1} if model == "cnn" else None}
    first = predict_proba(fit(images, given[None, :], K, typed(train), seed=0), images)
    second = predict_proba(fit(images, given[None, :], K, typed(train), seed=0), images)
    full = predict_proba(fit(images, given[None, :], K, typed({**train, "precision": "fp32"}), seed=0), images)
    assert first.dtype == np.float32 and np.array_equal(first, second)
    np.testing.assert_allclose(first.sum(axis=-1), 1, atol=1e-5)
    assert not np.array_equal(first, full)
