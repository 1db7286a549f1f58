"""Degenerate cells: each gives finite metrics or stops with a clear message, never a traceback."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from .conftest import ROOT


def stage(script: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "stages" / script), *args], cwd=cwd, capture_output=True,
                          text=True)


@pytest.fixture
def workdir(tmp_path, params):
    """A raw folder of 60 tiny images in 3 classes (class k is bright in row k), with the params."""
    params["cleanlab"]["relabel_with"] = "crossval"
    params["fashion_mnist"]["train"].update(epochs=3, batch_size=16)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    images = rng.integers(0, 50, size=(60, 1, 4, 4), dtype=np.uint8)
    images[np.arange(60), 0, labels, :] = 255
    raw = tmp_path / "raw"
    raw.mkdir()
    for split in ("train", "test"):
        np.save(raw / f"{split}_images.npy", images)
        np.save(raw / f"{split}_labels.npy", labels)
    (raw / "train_ids.txt").write_text("\n".join(map(str, range(60))) + "\n")
    (raw / "classes.json").write_text(json.dumps(["r0", "r1", "r2"]))
    return tmp_path


def test_a_level_where_cleanlab_flags_nothing(workdir):
    r = stage("inject_noise.py", workdir, "--noise-level", "0.0", "--raw", "raw", "--out", "noisy")
    assert r.returncode == 0, r.stderr
    labels = np.load(workdir / "raw" / "train_labels.npy")
    np.save(workdir / "probs.npy", np.eye(3, dtype=np.float32)[labels] * 0.98 + 0.02 / 3)  # sure and right
    r = stage("find_issues.py", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.0", "--raw", "raw",
              "--noisy", "noisy", "--pred-probs", "probs.npy", "--out", "issues", "--metrics", "det.json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((workdir / "det.json").read_text())
    assert metrics["flagged"] == 0 and metrics["injected"] == 0
    assert all(v is None or np.isfinite(v) for v in metrics.values() if not isinstance(v, str))
    for share in ("0.0", "1.0"):
        r = stage("apply_prune_relabel.py", workdir, "--prune-share", share, "--noisy", "noisy",
                  "--issues", "issues", "--out", f"labels_{share}.npy")
        assert r.returncode == 0, r.stderr
        assert np.array_equal(np.load(workdir / f"labels_{share}.npy"), labels)


def test_a_cell_that_prunes_every_sample_of_a_class_still_trains_and_tests(workdir):
    labels = np.load(workdir / "raw" / "train_labels.npy")
    labels[labels == 2] = -1
    np.save(workdir / "labels.npy", labels)
    r = stage("train_eval.py", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--prune-share", "1.0",
              "--raw", "raw", "--labels", "labels.npy", "--metrics", "acc.json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((workdir / "acc.json").read_text())
    assert 0 <= metrics["test_accuracy"] <= round(2 / 3, 6)  # class 2 can never be predicted right
    assert metrics["pruned"] == 20


def test_a_cell_with_every_sample_pruned_stops_with_a_message(workdir):
    np.save(workdir / "labels.npy", np.full(60, -1))
    r = stage("train_eval.py", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--prune-share", "1.0",
              "--raw", "raw", "--labels", "labels.npy", "--metrics", "acc.json")
    assert r.returncode == 2 and "every training sample is pruned" in r.stderr and "Traceback" not in r.stderr
    assert not (workdir / "acc.json").exists()


def test_more_folds_than_the_smallest_class_has_samples_is_refused(workdir, params):
    labels = np.load(workdir / "raw" / "train_labels.npy")
    labels[labels == 2] = 0
    labels[0] = 2  # class 2 now has one sample
    (workdir / "noisy").mkdir()
    np.save(workdir / "noisy" / "labels.npy", labels)
    r = stage("crossval_probs.py", workdir, "--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy",
              "--out", "probs.npy")
    assert r.returncode == 2 and "cleanlab.folds = 5" in r.stderr and "only 1" in r.stderr
    assert not (workdir / "probs.npy").exists()
