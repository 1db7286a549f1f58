"""Issue 28's training side: the robust alternatives (early stopping, GCE, label smoothing, prune-all with GCE) train
under the one protocol and differ from the cross-entropy cell only in their loss or the epoch kept; early stopping
reads neither a clean nor a test label; the matrix noise kind's realised matrix is the generated one within the
counting error, its record states the difference from round(p n), and a bad setting is refused in one line.

The toy data and training settings are tests/test_training.py's.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from labelsweep import strategies, training
from labelsweep.config import parse
from labelsweep.errors import ConfigError
from labelsweep.labels import NO_LABEL
from labelsweep.noise import draw_noise, noise_record
from labelsweep.noise_matrix import SETTING, transition_matrix

from .conftest import ROOT, checkout, run_stage, save_runs, write_raw
from .test_training import NOISE, NOISE_LABELS, ODD, SHORT, K, N, toy, typed

ROBUST = [strategies.EARLY_STOPPING, strategies.GCE, strategies.LABEL_SMOOTHING, strategies.GCE_PRUNE_ALL]


def probabilities(loss_settings: dict | None, epochs: int = 5) -> np.ndarray:
    images, truth, given = toy()
    models = training.fit(images, np.vstack([given, truth]), K, typed({**SHORT, "epochs": epochs}), seed=0,
                          loss=training.loss_for(loss_settings))
    return training.predict_proba(models, np.concatenate([images, NOISE]))


@pytest.mark.slow
def test_a_robust_loss_cell_differs_from_the_cross_entropy_cell_only_in_its_loss():
    """Same seed, same batches, same steps: GCE with q -> 0 gives the cross-entropy models (to float error), while
    q = 0.7 gives other models; cross-entropy named explicitly with no smoothing is the default to the bit."""
    plain = probabilities(None)
    assert np.array_equal(plain, probabilities({"loss": "cross_entropy", "label_smoothing": 0.0}))
    np.testing.assert_allclose(probabilities({"loss": "gce", "q": 1e-6}), plain, atol=1e-4)
    assert np.abs(probabilities(strategies.GCE_TRAINING) - plain).max() > 0.01
    assert np.abs(probabilities({"loss": "cross_entropy", "label_smoothing": 0.3}) - plain).max() > 0.01


def test_the_registry_holds_the_alternatives_with_their_training_settings():
    for name in ROBUST:
        assert name in strategies.optional() and strategies.STRATEGIES[name].training
        training.loss_for(strategies.STRATEGIES[name].training)  # a loss the selector knows
    assert strategies.STRATEGIES[strategies.GCE].training == {"loss": "gce", "q": 0.7}
    assert strategies.STRATEGIES[strategies.EARLY_STOPPING].training == {"early_stopping": True}
    # in the default grid, to the study and to the Roman numerals' own labels, as docs/rerun.md's experiment added
    # them after the run of record; and params.yaml accepts that experiment's settings
    command = " ".join((ROOT / "docs" / "rerun.md").read_text().split("<!-- robust experiment -->")[1].split())
    added = {key: value.strip("[]").split(", ") for key, value in re.findall(r"-S '([\w.]+)=(\[[^]]*\])'", command)}
    assert set(ROBUST) <= set(added["strategies"]) and set(ROBUST) <= set(added["real_errors.strategies"])
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert params["strategies"] == added["strategies"]
    assert params["real_errors"]["strategies"] == added["real_errors.strategies"]
    params["strategies"], params["real_errors"]["strategies"] = added["strategies"], added["real_errors.strategies"]
    assert parse(params).strategies == added["strategies"]


def test_a_holdout_a_model_trains_on_is_refused():
    images, truth, given = toy()
    with pytest.raises(ValueError, match="holdout"):
        training.fit(images, given, K, typed(SHORT), seed=0, holdout=given)


# train_eval on the toy: one run, its cells the baseline and issue 28's alternatives (prune-all + GCE: the odd samples
# pruned); the test set the toy images and 60 images of pure noise (on which every difference in training shows).
CELLS = [("baseline", "given"), ("early_stopping", "given"), ("gce", "given"), ("label_smoothing", "given"),
         ("gce_prune_all", "pruned")]


def train_eval(folder, clean: np.ndarray, test_labels: np.ndarray):
    images, truth, given = toy()
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(datasets=["fashion_mnist"])
    params["fashion_mnist"]["train"] = SHORT
    checkout(folder, params)
    write_raw(folder / "raw", images, clean, ["a", "b", "c"], test=(np.concatenate([images, NOISE]), test_labels))
    save_runs(folder / "noisy", given, given != truth, [("symmetric", "default", 0)], study=True)
    rows = {"given": given, "pruned": np.where(np.isin(np.arange(N), ODD), NO_LABEL, given)}
    (folder / "cleaned").mkdir()
    np.save(folder / "cleaned/labels.npy", np.vstack([rows[r] for _, r in CELLS]))
    pd.DataFrame({"run": 0, "strategy": [s for s, _ in CELLS], "prune_share": np.nan, "sweep": False,
                  "study": True}).to_csv(folder / "cleaned/cells.csv", index=False)
    result = run_stage("train_eval", folder, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw",
                       "--noisy", "noisy", "--cleaned", "cleaned", "--predictions", "pred.npy", "--accuracy",
                       "acc.csv")
    assert result.returncode == 0, result.stderr
    return np.load(folder / "pred.npy"), pd.read_csv(folder / "acc.csv"), result


@pytest.mark.slow
def test_early_stopping_reads_neither_the_clean_nor_the_test_labels(tmp_path):
    """train_eval twice on the same noisy labels and cells, the second time with the clean training labels and the
    test labels replaced by random ones: every cell's test predictions (early stopping's epoch included) are the
    same to the bit. The alternatives' models differ from the baseline's (on the noise images), so each trained."""
    images, truth, given = toy()
    test_labels = np.concatenate([truth, NOISE_LABELS])
    predicted, table, result = train_eval(tmp_path / "real", truth, test_labels)
    rng = np.random.default_rng(7)
    poisoned, _, _ = train_eval(tmp_path / "poisoned", rng.integers(0, K, N), rng.integers(0, K, len(test_labels)))
    assert np.array_equal(predicted, poisoned)
    assert all(not np.array_equal(predicted[0], predicted[i]) for i in range(1, len(CELLS)))
    assert "early stopping kept epochs" in result.stdout
    assert table.strategy.tolist() == [s for s, _ in CELLS]
    # Early stopping trains on the noisy labels less its stratified 10 % holdout (9 of 90), the others on theirs.
    assert table.train_samples.tolist() == [90, 81, 90, 90, 84]
    assert table.wrong_labels[4] == 0 and table.wrong_labels[2] == 6


@pytest.mark.parametrize("kind, sparsity", [("matrix", 0.0), ("matrix", 0.4), ("sparse_matrix", 0.4),
                                            ("sparse_matrix", 0.6)])
def test_the_matrix_kinds_realise_their_generated_matrix_and_record_it(kind, sparsity):
    """Through the registry, each kind at the sparsity of its own setting: cleanlab's per-class counts floor
    T[j, k] n_k, so the realised matrix is within 1/n_k of the generated one off the diagonal ((K-1)/n_k on it), and
    a zero noise rate is never realised; the record states the flips against round(p n)."""
    labels = np.repeat(np.arange(10), 300)
    options = {"frac_zero_noise_rates": 0.0, "sparse_frac_zero_noise_rates": 0.0, SETTING[kind]: sparsity}
    noise = draw_noise(labels, 0.3, 10, seed=3, kind=kind, options=options)
    off = ~np.eye(10, dtype=bool)
    zeros = (noise.generated[off] == 0).mean()
    assert (zeros > 0.25) if sparsity >= 0.4 else (zeros < 0.25)
    assert (transition_matrix(labels, noise.noisy, 10)[off][noise.generated[off] == 0] == 0).all()
    realised = transition_matrix(labels, noise.noisy, 10)
    gap = np.abs(realised - noise.generated)
    assert (gap[~np.eye(10, dtype=bool)] < 1 / 300).all() and (np.diag(gap) < 9 / 300).all()
    assert np.isclose(np.trace(noise.generated), 10 * 0.7)
    record = noise_record(labels, noise, 0.3, 10)
    assert record["flips"] == int((noise.noisy != labels).sum()) == int(noise.flipped.sum())
    assert record["count_difference"] == record["flips"] - 900 and record["count_difference"] <= 0
    np.testing.assert_allclose(record["realised_matrix"], realised, atol=1e-6)
    exact = noise_record(labels, draw_noise(labels, 0.3, 10, seed=3), 0.3, 10)
    assert exact["count_difference"] == 0 and exact["generated_matrix"] is None


def test_the_two_matrix_kinds_draw_from_their_own_streams():
    """At the same seed, level and sparsity the two kinds draw other matrices: their runs are not copies."""
    labels = np.repeat(np.arange(10), 300)
    options = {"frac_zero_noise_rates": 0.4, "sparse_frac_zero_noise_rates": 0.4}
    a, b = (draw_noise(labels, 0.3, 10, seed=3, kind=kind, options=options) for kind in SETTING)
    assert not np.array_equal(a.generated, b.generated) and (a.noisy != b.noisy).any()


@pytest.mark.parametrize("key", ["frac_zero_noise_rates", "sparse_frac_zero_noise_rates"])
def test_a_sparsity_outside_0_1_is_refused_in_one_line_naming_the_key(params, key):
    params["noise_matrix"][key] = 1.5
    with pytest.raises(ConfigError) as err:
        parse(params)
    assert str(err.value).startswith(f"params.yaml: noise_matrix.{key} = 1.5 is not allowed")
    assert "\n" not in str(err.value)


@pytest.mark.slow
def test_inject_noise_refuses_a_level_the_generator_cannot_reach_before_any_work(tmp_path, params):
    """3 classes: matrix noise reaches levels below 1 - 1/3; at 0.7 the stage says so in one line, writes nothing."""
    images, truth, _ = toy()
    params.update(datasets=["fashion_mnist"], noise=[0.7])
    params["runs"].update(noise_kinds=["matrix"], regimes=["default"])
    params["study"] = None
    checkout(tmp_path, params)
    write_raw(tmp_path / "raw", images, truth, ["a", "b", "c"])
    result = run_stage("inject_noise", tmp_path, "--dataset", "fashion_mnist", "--noise-level", "0.7", "--raw", "raw",
                       "--out", "noisy")
    assert result.returncode != 0 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "noise = 0.7 is not allowed" in result.stderr and "matrix noise over 3 classes" in result.stderr
    assert not (tmp_path / "noisy").exists()
    ok = run_stage("inject_noise", tmp_path, "--dataset", "fashion_mnist", "--noise-level", "0.3", "--raw", "raw",
                   "--out", "noisy")
    assert ok.returncode == 0, ok.stderr
    record = json.loads((tmp_path / "noisy/noise.json").read_text())
    assert [r["noise_kind"] for r in record["runs"]] == ["matrix"] and record["runs"][0]["generated_matrix"]


@pytest.mark.slow
def test_a_tiny_dvc_grid_trains_the_alternatives_and_the_matrix_kind(tmp_path):
    """`dvc repro train_eval` on an image folder like tests/test_pipeline.py's (48 images, 3 classes), one level,
    symmetric and matrix runs of the study: its results hold every alternative's cell for both kinds, and
    inject_noise's record the matrix run's matrices."""
    from PIL import Image

    from .conftest import UPTO, dvc, make_project, tiny_custom_params

    images, rng = tmp_path / "images", np.random.default_rng(0)
    for k, name in enumerate(("one", "two", "three")):
        (images / name).mkdir(parents=True)
        for i in range(16):
            pixels = rng.integers(0, 196, size=(14, 20), dtype=np.uint8)
            pixels[:, 6 * k : 6 * k + 6] += 60
            Image.fromarray(pixels).save(images / name / f"{i}.png")

    params = tiny_custom_params(yaml.safe_load((ROOT / "params.yaml").read_text()), images)
    grid = {"noise_kinds": ["symmetric", "matrix", "sparse_matrix"], "regimes": ["default"], "seeds": [0]}
    params.update(noise=[0.2], runs=grid, study={"noise": [0.2], **grid, "thresholds": [0.0, 1.0]},
                  strategies=list(dict.fromkeys([*params["strategies"], *ROBUST])))  # every alternative, once
    params["noise_matrix"]["frac_zero_noise_rates"] = 0.4
    project = make_project(tmp_path / "project", params)
    dvc(project, "repro", UPTO)
    table = pd.read_csv(project / "data/custom/accuracy/noise_0.2.csv")
    for kind in ("symmetric", "matrix", "sparse_matrix"):
        assert set(ROBUST) <= set(table.strategy[table.noise_kind == kind]), kind
    record = json.loads((project / "data/custom/noisy/noise_0.2/noise.json").read_text())
    for kind in SETTING:
        matrix = next(r for r in record["runs"] if r["noise_kind"] == kind)
        assert np.isclose(np.trace(matrix["generated_matrix"]), 3 * 0.8) and matrix["samples"] == 36
        assert matrix["flips"] == matrix["count_difference"] + round(0.2 * 36)
