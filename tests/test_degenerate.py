"""Degenerate cells: each gives exact, finite results or stops with a clear message, never a traceback.

The stages run as DVC runs them (`python -m stages.<name>` in a checkout of the code) on a raw folder of 60 tiny
images in 3 classes (class k is bright in row k), the same 60 images serving as the test set.
"""

import json
import re
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from labelsweep import strategies

from .conftest import BIN, checkout, run_stage, save_runs, set_runs, stage_env, write_raw

LABELS = np.arange(60) % 3
# Every test runs stage processes (`python -m stages.*`).
pytestmark = pytest.mark.slow

ONE_RUN = ("--noise_kinds", "symmetric", "--regimes", "default", "--seeds", "0")  # inject_noise's runs (set_runs)


@pytest.fixture
def workdir(tmp_path, params):
    """A checkout with params (2 thresholds, every strategy, 2 folds, cross-validated relabelling) and the raw
    folder."""
    params.update(datasets=["fashion_mnist"], thresholds=[0.0, 1.0])
    params["cleanlab"].update(relabel_with="crossval", folds=2)
    params["fashion_mnist"]["train"].update(model="mlp", width=2, epochs=30, batch_size=16, lr=0.01, device="cpu")
    checkout(tmp_path, params)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 50, size=(60, 1, 4, 4), dtype=np.uint8)
    images[np.arange(60), 0, LABELS, :] = 255
    write_raw(tmp_path / "raw", images, LABELS, ["r0", "r1", "r2"])
    return tmp_path


def save_folder(folder, **arrays) -> None:
    folder.mkdir()
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)


def test_a_level_where_cleanlab_flags_nothing(workdir):
    """At noise 0 with confident, correct probabilities nothing is flagged: the run's detection record has exact
    counts and None (JSON null, not NaN) for every undefined score, every suggestion is the given label (with no
    probability: NaN), and every cell -- the baseline, each threshold, keep_rest, perfect detection, random removal
    (as many pruned as flagged: none), the true labels, confident relabelling -- is the given labels unchanged."""
    set_runs(workdir, *ONE_RUN, study_at=[0.0])
    settings = yaml.safe_load((workdir / "params.yaml").read_text())
    settings["strategies"] = list(strategies.optional())  # every strategy, those out of the default grid too
    (workdir / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    r = run_stage("inject_noise", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.0", "--raw", "raw",
                  "--out", "noisy")
    assert r.returncode == 0, r.stderr
    save_folder(workdir / "probs", pred_probs=(np.eye(3)[LABELS] * 0.98 + 0.02 / 3).astype(np.float32)[None],
                fold=(LABELS % 2)[None])
    r = run_stage("find_issues", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.0", "--raw", "raw",
                  "--noisy", "noisy", "--pred-probs", "probs", "--out", "issues", "--detection", "det.json")
    assert r.returncode == 0, r.stderr
    text = (workdir / "det.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    metrics = json.loads(text)
    assert metrics["noise_level"] == 0.0 and len(metrics["runs"]) == 1
    (record,) = metrics["runs"]
    assert {key: record[key] for key in ("noise_kind", "regime", "seed", "flagged", "injected",
                                         "flagged_minus_injected", "true_positives", "precision", "recall", "f1",
                                         "auroc")} == {
        "noise_kind": "symmetric", "regime": "default", "seed": 0, "flagged": 0, "injected": 0,
        "flagged_minus_injected": 0, "true_positives": 0, "precision": None, "recall": None, "f1": None,
        "auroc": None}
    flagged, suggested, prob = (np.load(workdir / f"issues/{name}.npy") for name in ("flagged", "suggested",
                                                                                     "suggested_prob"))
    assert not flagged.any() and np.array_equal(suggested, LABELS[None]) and np.isnan(prob).all()
    table = pd.read_csv(workdir / "issues/label_issues.csv")
    assert (table.flagged == 0).all() and np.array_equal(table.suggested_label, LABELS)

    r = run_stage("apply_prune_relabel", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.0", "--raw", "raw",
                  "--noisy", "noisy",
                  "--issues", "issues", "--out", "cleaned")
    assert r.returncode == 0, r.stderr
    cells = pd.read_csv(workdir / "cleaned/cells.csv")
    # Issue 28's robust alternatives train on the given labels too (gce_prune_all prunes the flagged: none).
    assert cells.strategy.tolist() == ["baseline", "prune_relabel", "prune_relabel", "keep_rest", "keep_rest",
                                       "perfect_detection", "random_removal", "true_labels", "confident_relabel",
                                       "early_stopping", "gce", "label_smoothing", "gce_prune_all"]
    assert cells.prune_share.fillna(-1).tolist() == [-1, 0.0, 1.0, 0.0, 1.0, -1, -1, -1, -1, -1, -1, -1, -1]
    assert np.load(workdir / "cleaned/labels.npy").tolist() == [LABELS.tolist()] * 13


def train_eval(workdir, cleaned: np.ndarray, strategies: list[str]):
    """train_eval on one run (symmetric, default, seed 0; no flips) with these cells after its baseline."""
    save_runs(workdir / "noisy", LABELS, np.zeros(60, dtype=bool), [("symmetric", "default", 0)])
    save_folder(workdir / "cleaned", labels=np.vstack([LABELS, cleaned]))
    pd.DataFrame({"run": 0, "strategy": ["baseline", *strategies], "prune_share": np.nan, "sweep": True,
                  "study": True}).to_csv(workdir / "cleaned" / "cells.csv", index=False)
    return run_stage("train_eval", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw",
                     "--noisy", "noisy", "--cleaned", "cleaned", "--predictions", "pred.npy", "--accuracy", "acc.csv")


def test_a_cell_that_prunes_every_sample_of_a_class_still_trains_and_tests(workdir):
    """A cell without any label of class 2 trains on the 40 others and never predicts class 2, so it scores at
    most 2/3, while the baseline trained in the same run learns all three rows; the table's accuracies and counts
    are those of the saved predictions and labels."""
    pruned = np.where(LABELS == 2, -1, LABELS)
    r = train_eval(workdir, pruned[None, :], ["perfect_detection"])
    assert r.returncode == 0, r.stderr
    predicted = np.load(workdir / "pred.npy")
    assert predicted.shape == (2, 60)
    assert 2 not in predicted[1]
    table = pd.read_csv(workdir / "acc.csv")
    assert list(table.columns) == ["noise_level", "noise_kind", "regime", "seed", "strategy", "prune_share",
                                   "test_accuracy", "train_samples", "wrong_labels", "memorised", "sweep", "study",
                                   "precision"]
    assert table.strategy.tolist() == ["baseline", "perfect_detection"]
    assert table.test_accuracy.tolist() == (predicted == LABELS).mean(axis=1).round(6).tolist()
    assert table.test_accuracy[0] == 1.0 and table.test_accuracy[1] <= round(2 / 3, 6)
    assert (table.train_samples.tolist(), table.wrong_labels.tolist()) == ([60, 40], [0, 0])


def test_a_cell_with_every_sample_pruned_stops_with_a_message(workdir):
    """A cell with nothing left to train on stops the stage (exit 2, one line) before writing anything."""
    r = train_eval(workdir, np.full((2, 60), -1), ["prune_relabel", "prune_relabel"])
    assert r.returncode == 2 and "a cell prunes every training sample" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (workdir / "pred.npy").exists() and not (workdir / "acc.csv").exists()


def test_more_folds_than_the_smallest_class_has_samples_is_refused(workdir, params):
    """5 folds with a class of 1 sample: refused in one line naming the setting and the class size."""
    params_file = workdir / "params.yaml"
    params_file.write_text(params_file.read_text().replace("folds: 2", "folds: 5"))
    labels = LABELS.copy()
    labels[labels == 2] = 0
    labels[0] = 2  # class 2 now has one sample
    save_runs(workdir / "noisy", labels, labels != LABELS, [("symmetric", "default", 0)])
    r = run_stage("crossval_probs", workdir, "--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy",
                  "--out", "probs")
    assert r.returncode == 2 and "cleanlab.folds = 5" in r.stderr and "only 1" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (workdir / "probs").exists()


def test_ctrl_c_during_a_fit_ends_with_one_line_exit_130_and_nothing_written(workdir):
    """SIGINT (what Ctrl-C sends) while crossval_probs fits its fold models: exit status 130, one line on stderr
    after the progress bar, no traceback, and no output (nor leftover) for DVC to trust."""
    settings = yaml.safe_load((workdir / "params.yaml").read_text())
    settings["fashion_mnist"]["train"]["epochs"] = 100_000  # a fit that is still running when the signal comes
    (workdir / "params.yaml").write_text(yaml.safe_dump(settings))
    set_runs(workdir, *ONE_RUN)
    assert run_stage("inject_noise", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw",
                     "--out", "noisy").returncode == 0
    # SIGINT's default action restored in the child: a shell's background job starts with SIGINT ignored, and
    # Python then never raises KeyboardInterrupt (what a terminal's Ctrl-C reaches is a foreground process).
    process = subprocess.Popen(
        [str(BIN / "python"), "-m", "stages.crossval_probs", "--dataset", "fashion_mnist", "--raw", "raw",
         "--noisy", "noisy", "--out", "probs"], cwd=workdir, env=stage_env(), stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    stderr = ""
    deadline = time.time() + 120
    while "fold models" not in stderr and time.time() < deadline:  # the fit's progress bar is out
        stderr += process.stderr.read(1)
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
        # Read on through the same text stream: communicate() with a timeout reads the pipe's file descriptor and
        # would lose what this stream has already buffered.
        stderr += process.stderr.read()
    finally:
        process.kill()
    assert process.returncode == 130, stderr
    # What is left once the progress bar is taken out (a signal that comes before the bar is cleared leaves the
    # message on the bar's line).
    lines = [re.sub(r"^.*fold models(:[^\]]*\])?", "", line) for line in stderr.replace("\r", "\n").splitlines()]
    assert [line for line in lines if line.strip()] == ["interrupted: crossval_probs stopped, nothing written"], stderr
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith("probs")) == []


def test_a_class_too_small_for_the_folds_in_one_run_is_refused(workdir, params):
    """The folds check is per run: a subsample run (samples outside it -1) whose class 2 has one sample is refused
    in one line, though the whole training set has 20 of each class."""
    labels = np.where(np.arange(60) < 31, LABELS, -1)  # 11, 10 and 10 of the classes: fine for 2 folds...
    labels[np.flatnonzero(labels == 2)[1:]] = -1  # ...but class 2 down to one sample
    save_runs(workdir / "noisy", np.vstack([LABELS, labels]), np.zeros((2, 60), bool),
              [("symmetric", "default", 0), ("symmetric", "default", 1)])
    r = run_stage("crossval_probs", workdir, "--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy",
                  "--out", "probs")
    assert r.returncode == 2 and "cleanlab.folds = 2" in r.stderr and "only 1" in r.stderr
    assert "Traceback" not in r.stderr and not (workdir / "probs").exists()


def set_regime(workdir, regime) -> None:
    settings = yaml.safe_load((workdir / "params.yaml").read_text())
    settings["fashion_mnist"]["regimes"] = {"memorise": regime}
    (workdir / "params.yaml").write_text(yaml.safe_dump(settings))


def inject_memorise(workdir):
    set_runs(workdir, "--noise_kinds", "symmetric", "--regimes", "memorise", "--seeds", "0")
    return run_stage("inject_noise", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw",
                     "--out", "noisy")


@pytest.mark.parametrize("train_size", [60, 100])
def test_a_regime_subsample_as_large_as_the_training_set_is_refused(workdir, train_size):
    """train_size >= the 60 training samples: one line naming the key and the count, exit 2, nothing written."""
    set_regime(workdir, {"train_size": train_size})
    r = inject_memorise(workdir)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert f"fashion_mnist.regimes.memorise.train_size = {train_size}" in r.stderr and "only 60" in r.stderr
    assert not (workdir / "noisy").exists()


def test_a_regime_subsample_smaller_than_the_number_of_classes_is_refused(workdir):
    """train_size 2 with 3 classes cannot be stratified: one line naming the key, exit 2, nothing written."""
    set_regime(workdir, {"train_size": 2})
    r = inject_memorise(workdir)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "fashion_mnist.regimes.memorise.train_size" in r.stderr
    assert not (workdir / "noisy").exists()


def test_a_dataset_that_runs_no_regime_is_refused_in_one_line(workdir):
    """`runs.regimes: [memorise]` for a dataset that sets memorise to null leaves it nothing to run: the first stage
    says so in one line (exit 2) instead of writing an empty level that a later stage trips over."""
    set_regime(workdir, None)
    r = inject_memorise(workdir)
    if r.returncode == 0:  # the empty level: the next stage must then say what is wrong in one line
        r = run_stage("crossval_probs", workdir, "--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy",
                      "--out", "probs")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "memorise" in r.stderr
