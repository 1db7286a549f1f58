"""End to end: the real pipeline on tiny configurations, in temporary git + DVC copies of the project.

Two module-wide sweeps are shared by the tests (each runs `dvc repro train_eval` once: every stage up to
train_eval): `custom`, a generated image folder alone (never skipped), and `both`, that project with a few thousand
Fashion-MNIST samples added as a second dataset (skipped where Fashion-MNIST is not installed). Each level holds
several runs (both noise kinds; for `custom` also the `small` regime, which Fashion-MNIST sets to null) and every
strategy. Tests that change a sweep work on a copy.

The tests of the plot stage's outputs (figures, tables, metrics) are kept apart at the end of this file, under
"The plot stage", and are the only ones here that run it: the shared sweeps stop at train_eval, which keeps them
cheaper to copy and lets the plot tests start from a sweep the plot stage has not seen.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from labelsweep import runs, strategies
from labelsweep.analysis import summary
from labelsweep.checks import FILTER_BY
from labelsweep.cleaning import detection_metrics, label_errors
from labelsweep.early_stopping import holdout_mask
from labelsweep.labels import NO_LABEL
from labelsweep.noise import noise_rng
from labelsweep.training import resolve_precision

from .conftest import (
    BIN,
    CHECK_STAGE,
    ROOT,
    UPTO,
    copy_project,
    dvc,
    is_plot,
    make_project,
    run,
    stage_env,
    stages_run,
    tiny_custom_params,
    tiny_fashion_params,
    training_cells,
)
from .fake_sweep import write_sweep
from .test_datasets import DEBIAN

pytestmark = pytest.mark.slow
needs_fashion_mnist = pytest.mark.skipif(not DEBIAN.is_dir(), reason=f"Fashion-MNIST files not in {DEBIAN}")

LEVEL_STAGES = ("inject_noise", "crossval_probs", "find_issues", "apply_prune_relabel", "train_eval")
CLASSES = ("one", "two", "three")  # the generated image folder: 16 images per class
# Hand-counted sizes of the tiny sweeps, and the labels exactly round(p * n) flips at each level.
# Per run (noise kind, regime, seed, in runs.csv's order): its training samples, and the labels exactly round(p * n)
# flips at each level.
CUSTOM = {"train": 36, "test": 12,  # 48 images, test_share 0.25
          "runs": [("symmetric", "default", 0), ("class_conditional", "default", 0), ("symmetric", "small", 0),
                   ("class_conditional", "small", 0)],
          "members": {"default": 36, "small": 24},  # small: a stratified 24 of the 36, 8 per class
          "injected": {(0.0, "default"): 0, (0.2, "default"): 7, (0.0, "small"): 0, (0.2, "small"): 5}}  # 7.2, 4.8
FASHION = {"train": 2000, "test": 500,
           "runs": [("symmetric", "default", 0), ("class_conditional", "default", 0)],  # small: null
           "members": {"default": 2000}, "injected": {(0.0, "default"): 0, (0.2, "default"): 400}}
TABLE = ["noise_level", "noise_kind", "regime", "seed", "strategy", "prune_share", "test_accuracy", "train_samples",
         "wrong_labels", "memorised", "sweep", "study", "precision"]  # train_eval's columns


def training_of(cells: pd.DataFrame, row: int) -> dict | None:
    """The training settings of a cell's strategy (issue 28's alternatives; None: plain cross-entropy)."""
    return strategies.STRATEGIES[cells.strategy[row]].training


def names(dataset: str, levels, stages=LEVEL_STAGES, download: bool = True, plot: bool = False) -> set[str]:
    """Stage names as dvc.yaml's matrix spells them: `download@<ds>`, `<stage>@<ds>-<level>`, `plot@<ds>`."""
    out = {f"{stage}@{dataset}-{level}" for stage in stages for level in levels}
    return out | ({f"download@{dataset}"} if download else set()) | ({f"plot@{dataset}"} if plot else set())


def output_hashes(project: Path) -> dict[str, str]:
    return {
        str(p.relative_to(project)): hashlib.md5(p.read_bytes()).hexdigest()
        for top in ("data", "metrics", "plots")
        for p in sorted((project / top).rglob("*"))
        if p.is_file() and p.name != ".gitignore"  # DVC's own bookkeeping, not an output
    }


def commit(project: Path, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", message], project)


def status(project: Path, plot: bool = False) -> set[str]:
    """The stages `dvc status` finds changed themselves (their own deps, params or outs); the plot stages only
    with `plot` (where the plot stage never ran, it is always listed)."""
    return {stage for stage in json.loads(dvc(project, "status", "--json").stdout)
            if (plot or not is_plot(stage)) and stage != CHECK_STAGE}


def out_of_date(project: Path, plot: bool = False) -> set[str]:
    """Every stage a `dvc repro` may run: the changed ones (as `status` names them) and everything downstream of
    them (plot: see status). The dry run starts from those stages (`--downstream`): from the whole pipeline,
    `--force-downstream` would force everything below check_inputs, which always runs but writes the same file."""
    changed = sorted(status(project, plot=True))
    if not changed:
        return set()
    ran = stages_run(dvc(project, "repro", "--dry", "--force-downstream", "--downstream", *changed).stdout)
    return {stage for stage in ran if plot or not is_plot(stage)}


@dataclass
class Sweep:
    project: Path
    params: dict
    ran: list[str]
    hashes: dict[str, str]
    output: str = ""


def base_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """48 grey 20x14 PNGs, 16 per class: noise with a faint vertical band whose place gives the class. Faint enough
    that the tiny sweep's models differ (a check of which row is which model can fail), clear enough to learn."""
    root = tmp_path_factory.mktemp("images") / "images"
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(16):
            pixels = rng.integers(0, 196, size=(14, 20), dtype=np.uint8)
            pixels[:, 6 * k : 6 * k + 6] += 60
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.fixture(scope="module")
def custom(tmp_path_factory, images) -> Sweep:
    """The image folder alone, 2 levels x 2 thresholds x 4 runs, reproduced up to train_eval and committed."""
    params = tiny_custom_params(base_params(), images)
    project = make_project(tmp_path_factory.mktemp("custom") / "project", params)
    output = dvc(project, "repro", UPTO).stdout
    commit(project, "results")
    return Sweep(project, params, stages_run(output), output_hashes(project), output)


@pytest.fixture(scope="module")
def both(tmp_path_factory, custom) -> Sweep:
    """`custom` with tiny Fashion-MNIST added as a first dataset, reproduced (only Fashion-MNIST runs) and committed."""
    if not DEBIAN.is_dir():
        pytest.skip(f"Fashion-MNIST files not in {DEBIAN}")
    project = copy_project(custom.project, tmp_path_factory.mktemp("both") / "project")
    params = copy.deepcopy(custom.params)
    params["datasets"] = ["fashion_mnist", "custom"]
    params["fashion_mnist"] = tiny_fashion_params(base_params())["fashion_mnist"]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    output = dvc(project, "repro", UPTO).stdout
    commit(project, "fashion_mnist added")
    return Sweep(project, params, stages_run(output), output_hashes(project), output)


def check_outputs(project: Path, dataset: str, params: dict, sizes: dict) -> None:
    """Every output of `dataset` up to train_eval holds what its inputs give: recomputed here from the files,
    level by level and run by run."""
    data = project / "data" / dataset
    raw = data / "raw"
    truth, test_labels = np.load(raw / "train_labels.npy"), np.load(raw / "test_labels.npy")
    ids = np.array((raw / "train_ids.txt").read_text().splitlines())
    classes = json.loads((raw / "classes.json").read_text())
    n_classes, n = len(classes), len(truth)
    assert (n, len(test_labels), len(ids)) == (sizes["train"], sizes["test"], sizes["train"])
    confusable = np.array([classes.index(params[dataset]["confusable"][c]) for c in classes])
    folds, shares = params["cleanlab"]["folds"], sorted(params["thresholds"])
    for level in params["noise"]:
        noisy_dir = data / f"noisy/noise_{level}"
        plan = runs.load(noisy_dir)
        assert [(r.noise_kind, r.regime, r.seed) for r in plan] == sizes["runs"]
        noisy, flipped = (np.load(noisy_dir / f"{name}.npy") for name in ("labels", "flipped"))
        assert noisy.shape == flipped.shape == (len(plan), n)
        members = noisy != NO_LABEL
        for r, entry in enumerate(plan):
            inside = members[r]
            assert inside.sum() == sizes["members"][entry.regime], (level, entry)
            if entry.regime != "default":  # a stratified subsample: each class's share of the training set
                assert np.bincount(truth[inside], minlength=n_classes).tolist() == (
                    np.bincount(truth, minlength=n_classes) * inside.sum() // n).tolist()
            assert flipped[r].sum() == sizes["injected"][level, entry.regime] and not flipped[r, ~inside].any()
            # flipped exactly where the mask says, to another class (a class_conditional one to the confusable one)
            assert np.array_equal(noisy[r, inside] != truth[inside], flipped[r, inside])
            if entry.noise_kind == "class_conditional":
                assert np.array_equal(noisy[r, flipped[r]], confusable[truth[flipped[r]]])
            twin = [q for q, other in enumerate(plan) if (other.regime, other.seed) == (entry.regime, entry.seed)]
            assert all(np.array_equal(members[q], inside) for q in twin)  # a regime and seed: one subsample

        probs_dir = data / f"pred_probs/noise_{level}"
        pred_probs, fold = (np.load(probs_dir / f"{name}.npy") for name in ("pred_probs", "fold"))
        assert pred_probs.shape == (len(plan), n, n_classes) and fold.shape == (len(plan), n)
        for r in range(len(plan)):
            inside = members[r]
            assert np.isnan(pred_probs[r, ~inside]).all() and (fold[r, ~inside] == -1).all()
            np.testing.assert_allclose(pred_probs[r, inside].sum(axis=1), 1, atol=1e-5)
            # A stratified partition of the run into `folds` groups: each class of its given labels split near-evenly.
            assert sorted(np.unique(fold[r, inside]).tolist()) == list(range(folds))
            for k in range(n_classes):
                per_fold = np.bincount(fold[r, inside & (noisy[r] == k)], minlength=folds)
                assert per_fold.max() - per_fold.min() <= 1, (level, r, k, per_fold)

        issues = data / f"issues/noise_{level}"
        assert sorted(p.name for p in issues.iterdir()) == sorted(
            ["flagged.npy", "label_issues.csv", "quality.npy", "suggested.npy", "suggested_prob.npy"]
            + (["review.csv"] if level == 0 else []))  # the dataset's own labels, at 0 % injected noise
        flagged, quality, suggested, suggested_prob = (np.load(issues / f"{name}.npy") for name in
                                                       ("flagged", "quality", "suggested", "suggested_prob"))
        assert flagged.shape == quality.shape == suggested.shape == suggested_prob.shape == (len(plan), n)
        assert not flagged[~members].any() and np.isnan(quality[~members]).all()
        assert not np.isnan(quality[members]).any()
        assert np.array_equal(suggested[~flagged], noisy[~flagged])  # -1 outside a run, the given label inside
        assert np.isnan(suggested_prob[~flagged]).all() and (suggested_prob[flagged] > 1 / n_classes - 1e-6).all()
        assert (suggested_prob[flagged] <= 1).all()
        table = pd.read_csv(issues / "label_issues.csv", dtype={"sample_id": str}, keep_default_na=False)
        assert list(table.columns) == ["noise_kind", "regime", "seed", "sample_id", "original_label", "given_label",
                                       "label_quality", "flagged", "suggested_label"]
        assert len(table) == members.sum()
        detection = json.loads((project / f"data/{dataset}/detection/noise_{level}.json").read_text())
        assert set(detection) == {"noise_level", "runs"} and detection["noise_level"] == level
        assert len(detection["runs"]) == len(plan)
        start = 0
        for r, (entry, record) in enumerate(zip(plan, detection["runs"])):
            inside = members[r]
            rows = table.iloc[start : start + inside.sum()]
            start += inside.sum()
            assert rows[["noise_kind", "regime", "seed"]].drop_duplicates().values.tolist() == [
                [entry.noise_kind, entry.regime, entry.seed]]
            assert rows.sample_id.tolist() == ids[inside].tolist()
            assert np.array_equal(rows.original_label, truth[inside])
            assert np.array_equal(rows.given_label, noisy[r, inside])
            assert np.array_equal(rows.flagged, flagged[r, inside].astype(int))
            assert np.array_equal(rows.suggested_label, suggested[r, inside])
            np.testing.assert_allclose(rows.label_quality, quality[r, inside], atol=1e-6)
            expected = {"noise_kind": entry.noise_kind, "regime": entry.regime, "seed": entry.seed,
                        **detection_metrics(flagged[r, inside], flipped[r, inside], quality[r, inside]),
                        **label_errors(truth[inside], noisy[r, inside], flagged[r, inside], suggested[r, inside])}
            assert {key: record.get(key) for key in expected} == pytest.approx(expected)
            assert set(record["by_filter"]) == set(FILTER_BY)
            assert record["by_filter"][params["cleanlab"]["filter_by"]] == pytest.approx(
                detection_metrics(flagged[r, inside], flipped[r, inside]))

        cleaned_dir = data / f"cleaned/noise_{level}"
        cleaned = np.load(cleaned_dir / "labels.npy")
        cells = pd.read_csv(cleaned_dir / "cells.csv")
        assert list(cells.columns) == ["run", "strategy", "prune_share", "sweep", "study"]
        assert len(cells) == len(cleaned) and cells.study.all()  # every run in both grids (tiny_study)
        assert cells.sweep.tolist() == cells.strategy.isin(["baseline", "prune_relabel"]).tolist()
        assert cells.run.tolist() == sorted(cells.run.tolist()) and set(cells.run) == set(range(len(plan)))
        for r, entry in enumerate(plan):
            inside = members[r]
            expected = training_cells(noisy[r, inside], truth[inside], flipped[r, inside], flagged[r, inside],
                                      quality[r, inside], suggested[r, inside], suggested_prob[r, inside], shares,
                                      params["strategies"], params["confident_relabel_min"],
                                      noise_rng(entry.seed, level, entry.noise_kind).spawn(1)[0])
            rows = np.flatnonzero(cells.run == r)
            assert [(s, None if np.isnan(t) else t) for s, t in zip(cells.strategy[rows], cells.prune_share[rows])] \
                == [(s, None if np.isnan(t) else t) for s, t, _ in expected]
            for row, (strategy, _, cell) in zip(rows, expected):
                assert np.array_equal(cleaned[row, inside], cell), (level, entry, strategy)
                assert (cleaned[row, ~inside] == NO_LABEL).all()

        predicted = np.load(data / f"predictions/noise_{level}.npy")
        assert predicted.dtype == np.int16 and predicted.shape == (len(cleaned), len(test_labels))
        if level > 0:  # the models differ, so the table's rows below can only match in the right order
            assert len({row.tobytes() for row in predicted}) > 1
        # Identical training sets of one regime and seed are one model: their predictions are equal.
        for _, _, group in runs.groups(plan):
            rows = np.flatnonzero(cells.run.isin(group))
            for i in rows:
                for j in rows[rows > i]:
                    if np.array_equal(cleaned[i], cleaned[j]) and training_of(cells, i) == training_of(cells, j):
                        assert np.array_equal(predicted[i], predicted[j]), (level, i, j)
        accuracy = pd.read_csv(project / f"data/{dataset}/accuracy/noise_{level}.csv")
        kept = cleaned != NO_LABEL
        for i, r in enumerate(cells.run):  # an early-stopped cell trains without its holdout of its noisy labels
            if (training_of(cells, i) or {}).get("early_stopping"):
                kept[i] &= ~holdout_mask(cleaned[i], params["early_stopping"]["holdout"], plan[r].seed)
        expected = pd.DataFrame({
            "noise_level": level,
            "noise_kind": [plan[r].noise_kind for r in cells.run],
            "regime": [plan[r].regime for r in cells.run],
            "seed": [plan[r].seed for r in cells.run],
            "strategy": cells.strategy,
            "prune_share": cells.prune_share,
            "test_accuracy": (predicted == test_labels).mean(axis=1).round(6),
            "train_samples": kept.sum(axis=1),
            "wrong_labels": (kept & (cleaned != truth)).sum(axis=1),
            "sweep": cells.sweep,
            "study": cells.study,
            "precision": [resolve_precision("auto", torch.device("cpu"))] * len(cells),
        })
        assert list(accuracy.columns) == TABLE
        pd.testing.assert_frame_equal(accuracy.drop(columns="memorised"), expected, check_dtype=False, atol=1e-6)
        # Memorised: how many of the wrong labels a cell trained on its model reproduces (the models are gone here).
        assert ((accuracy.memorised >= 0) & (accuracy.memorised <= accuracy.wrong_labels)).all()
        assert (accuracy.memorised[accuracy.wrong_labels == 0] == 0).all()


def test_an_image_folder_dataset_end_to_end(custom, images):
    """Every stage of the image-folder sweep up to train_eval ran exactly once, and each output holds what its
    inputs give: ids are the image files, runs.csv the runs in their order, each run's subsample and noise count
    hand-counted, the folds a stratified partition of each run, the issues table the issue arrays, the detection
    record each run's scores, the cells strategies.training_cells of them, the accuracy table the saved test
    predictions (one model per distinct training set of a regime and seed)."""
    assert sorted(custom.ran) == sorted(names("custom", [0.0, 0.2]))
    check_outputs(custom.project, "custom", custom.params, CUSTOM)
    raw = custom.project / "data/custom/raw"
    assert json.loads((raw / "classes.json").read_text()) == sorted(CLASSES)
    ids = (raw / "train_ids.txt").read_text().splitlines()
    assert all((images / i).is_file() and i.split("/")[0] in CLASSES for i in ids)  # relative to the folder
    data = json.loads((custom.project / "data/custom/summary.json").read_text())
    assert (data["train_samples"], data["test_samples"], data["image_shape"]) == (36, 12, [1, 12, 12])  # grey
    assert (data["dedup"]["train_duplicates_removed"], data["dedup"]["train_kept"]) == (0, 36)
    accuracy = pd.read_csv(custom.project / "data/custom/accuracy/noise_0.0.csv")
    baselines = accuracy[(accuracy.strategy == "baseline") & (accuracy.regime == "default")].test_accuracy
    assert len(baselines) == 2 and (baselines > 0.8).all()  # the noise-free baselines learned the bands (chance: 1/3)


@needs_fashion_mnist
def test_fashion_mnist_end_to_end_and_adding_a_dataset_runs_only_its_stages(both):
    """Adding Fashion-MNIST to a finished sweep ran exactly its own stages, none of `custom`'s; its outputs hold
    what their inputs give (as for the image folder), with the hand-counted 2,000/500 samples and 400 flips; its
    `small` regime, set to null, is not run, and inject_noise says so."""
    assert sorted(both.ran) == sorted(names("fashion_mnist", [0.0, 0.2]))
    check_outputs(both.project, "fashion_mnist", both.params, FASHION)
    assert both.output.count("fashion_mnist: regimes small set to null under fashion_mnist.regimes: not run") == 2
    accuracy = pd.read_csv(both.project / "data/fashion_mnist/accuracy/noise_0.0.csv")
    assert (accuracy[accuracy.strategy == "baseline"].test_accuracy > 0.5).all()  # 1 epoch: far above chance


def test_a_second_repro_runs_nothing(custom):
    """Right after a repro, a second one runs no stage and `dvc status` finds nothing changed."""
    assert stages_run(dvc(custom.project, "repro", UPTO).stdout) == []
    assert status(custom.project) == set()


@needs_fashion_mnist
def test_dag_has_one_train_eval_per_dataset_and_level(both):
    """`dvc dag` names the stages per dataset or per (dataset, level), never per threshold, and the one check stage."""
    assert "train_eval@fashion_mnist-0.2" in dvc(both.project, "dag").stdout
    nodes = set(re.findall(r'^\s*"([^"]+)";$', dvc(both.project, "dag", "--dot").stdout, re.MULTILINE))
    assert nodes == (names("fashion_mnist", [0.0, 0.2], plot=True) | names("custom", [0.0, 0.2], plot=True)
                     | {CHECK_STAGE})


def more_noise(p: dict) -> None:
    p["noise"] = [0.0, 0.2, 0.1]


def more_thresholds(p: dict) -> None:
    p["thresholds"] = [0.0, 0.5, 1.0]


def custom_training(p: dict) -> None:
    p["custom"]["train"]["epochs"] += 1


def fashion_data(p: dict) -> None:
    p["fashion_mnist"]["data"]["test_subsample"] = 400


def more_seeds(p: dict) -> None:
    p["runs"]["seeds"] = [0, 1]


def fewer_strategies(p: dict) -> None:
    p["strategies"] = ["true_labels"]


def custom_regime(p: dict) -> None:
    p["custom"]["regimes"]["small"]["epochs"] += 1


def custom_confusable(p: dict) -> None:
    p["custom"]["confusable"] = {"one": "three", "two": "one", "three": "two"}


def every_level(stages, dataset: str | None = None) -> set[str]:
    return set().union(*(names(ds, [0.0, 0.2], stages, False) for ds in ([dataset] if dataset else
                                                                         ["fashion_mnist", "custom"])))


# An edit of params.yaml: (the stages it changes, every stage that is then out of date), the plot stages left out
# (see "The plot stage" below).
REGRAIN = {
    "a noise level added": (more_noise, names("fashion_mnist", [0.1], download=False)
                            | names("custom", [0.1], download=False)),
    "thresholds changed": (more_thresholds, every_level(["apply_prune_relabel"])),
    "one dataset's training": (custom_training, every_level(["crossval_probs", "find_issues", "train_eval"],
                                                            "custom")),
    "one dataset's data": (fashion_data, {"download@fashion_mnist"}),
    "a seed added to the runs": (more_seeds, every_level(["inject_noise"])),  # its command line
    "strategies changed": (fewer_strategies, every_level(["apply_prune_relabel"])),
    "one dataset's regime": (custom_regime, every_level(["inject_noise", "crossval_probs", "find_issues",
                                                         "train_eval"], "custom")),
    "one dataset's confusable classes": (custom_confusable, every_level(["inject_noise"], "custom")),
}
DOWNSTREAM = {
    "a noise level added": REGRAIN["a noise level added"][1],
    "thresholds changed": every_level(["apply_prune_relabel", "train_eval"]),
    "one dataset's training": every_level(LEVEL_STAGES[1:], "custom"),
    "one dataset's data": names("fashion_mnist", [0.0, 0.2]),
    "a seed added to the runs": every_level(LEVEL_STAGES),
    "strategies changed": every_level(["apply_prune_relabel", "train_eval"]),
    "one dataset's regime": every_level(LEVEL_STAGES, "custom"),
    "one dataset's confusable classes": every_level(LEVEL_STAGES, "custom"),
}


@needs_fashion_mnist
@pytest.mark.parametrize("edit", REGRAIN)
def test_a_change_makes_only_the_stages_it_touches_out_of_date(both, edit):
    """After a repro of two datasets, each edit of params.yaml makes exactly these stages out of date (as `dvc
    status --json` names them, and with everything downstream as `dvc repro --dry` would run it): a new level only
    that level's stages; thresholds or strategies only apply_prune_relabel and train_eval (never crossval_probs or
    find_issues); the runs every level's stages from inject_noise on; one dataset's training, data, regimes or
    confusable classes nothing of the other dataset."""
    change, changed = REGRAIN[edit]
    params_file = both.project / "params.yaml"
    assert status(both.project) == set()
    params = copy.deepcopy(both.params)
    change(params)
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        assert status(both.project) == changed
        assert out_of_date(both.project) == DOWNSTREAM[edit]
    finally:
        run(["git", "checkout", "params.yaml"], both.project)
    assert status(both.project) == set()  # the dry run changed nothing


def test_a_study_change_reruns_models_only_at_the_studys_levels(custom, tmp_path):
    """With the study at 20 % only, a seed added to the study retrains models (crossval_probs, find_issues,
    train_eval) at 20 % alone: at 0 % DVC reruns the cheap stages whose params name the study (inject_noise,
    apply_prune_relabel), they write the same bytes, and nothing downstream of them runs."""
    project = copy_project(custom.project, tmp_path / "project")
    params = copy.deepcopy(custom.params)
    params["study"]["noise"] = [0.2]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(project, "repro", UPTO)
    commit(project, "study at 20 % only")
    before = output_hashes(project)

    params["study"]["seeds"] = [0, 1]
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    ran = set(stages_run(dvc(project, "repro", UPTO).stdout))
    assert ran == names("custom", [0.2], download=False) | names("custom", [0.0], ["inject_noise",
                                                                                "apply_prune_relabel"], False)
    after = output_hashes(project)
    unchanged = [path for path in before if "noise_0.0" in path]
    assert unchanged and all(after[path] == before[path] for path in unchanged)
    assert any(after[path] != before[path] for path in before if "noise_0.2" in path)


def test_exp_run_with_a_scalar_level_runs_that_level_as_the_list_form_would(custom, tmp_path):
    """`dvc exp run -S noise=0.3` as typed (the bridge) runs exactly the 0.3 stages; the list form
    `-S 'noise=[0.3]'` then finds every one of them up to date (same names, commands, deps and params): no stage
    runs, no output changes, dvc.lock is the same (but check_inputs' entry: it records the whole params.yaml's
    hash, and the file's bytes differ)."""
    project = copy_project(custom.project, tmp_path / "project")

    def locked() -> dict:
        stages = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
        return {name: stage for name, stage in stages.items() if name != CHECK_STAGE}

    result = dvc(project, "exp", "run", "-S", "noise=0.3", UPTO)
    assert sorted(stages_run(result.stdout)) == sorted(names("custom", [0.3], download=False))
    assert yaml.safe_load((project / "params.yaml").read_text())["noise"] == 0.3  # the scalar, as typed
    scalar = output_hashes(project)
    lock = locked()

    result = dvc(project, "exp", "run", "-S", "noise=[0.3]", UPTO)
    assert stages_run(result.stdout) == []
    assert output_hashes(project) == scalar
    assert locked() == lock and lock


def test_exp_run_temp_runs_the_changed_code(custom, tmp_path):
    """`dvc exp run --temp` after an uncommitted change to labelsweep/folders.py runs the changed module from DVC's
    temporary copy (the stages print the path of the module they imported), not the workspace's nor the installed
    one; the rerun stage (download, which lists it; check_inputs, which imports it too, runs every time) writes
    the same outputs, so nothing further downstream runs. (Not noise.py: the typed settings import it, so every
    stage depends on it.)"""
    project = copy_project(custom.project, tmp_path / "project")
    module = project / "labelsweep" / "folders.py"
    module.write_text(module.read_text() + '\nprint("TEMP-RUN-MARKER", __file__, flush=True)\n')
    result = dvc(project, "exp", "run", "--temp", UPTO)
    output = result.stdout + result.stderr
    imported = re.findall(r"TEMP-RUN-MARKER (\S+)", output)
    assert len(imported) == 2, output  # check_inputs and download
    for path in map(Path, imported):
        assert path.name == "folders.py" and path.parent.name == "labelsweep"
        assert project / ".dvc" / "tmp" / "exps" in path.parents, path  # DVC's temporary checkout
    assert stages_run(result.stdout) == ["download@custom"]
    assert output_hashes(project) == custom.hashes  # --temp left the workspace alone


SITECUSTOMIZE = '''\
"""Test hook: SIGSTOP the process at the moment it renames a file onto LABELSWEEP_TEST_HOLD."""
import os
import signal

_hold = os.environ.get("LABELSWEEP_TEST_HOLD")
if _hold:
    _replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if os.path.realpath(dst) == _hold:
            os.kill(os.getpid(), signal.SIGSTOP)
        return _replace(src, dst, *args, **kwargs)

    os.replace = replace
'''


def find_stage_process(module: str, project: Path, *args: str, timeout: float = 300) -> int:
    """The Python process running `python -m <module> ... ARGS ...` in `project` (not the shell DVC may start it
    through: with SHELL unset DVC uses /bin/sh, and dash does not exec its command)."""
    deadline, cwd = time.time() + timeout, str(project.resolve())
    while time.time() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
                if (Path(argv[0]).name.startswith("python") and argv[1:3] == ["-m", module]
                        and " ".join(args) in " ".join(argv) and os.readlink(f"/proc/{pid}/cwd") == cwd):
                    return int(pid)
            except (OSError, IndexError):
                continue
        time.sleep(0.05)
    raise AssertionError(f"{module} {' '.join(args)} never started")


def process_state(pid: int) -> str | None:
    """`T` for stopped, `Z` for a zombie, ...; None once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def test_a_stage_killed_while_writing_leaves_nothing_finished_and_the_rerun_matches(custom, tmp_path):
    """A train_eval process held (SIGSTOP by a test-only sitecustomize) at the moment it moves its predictions into
    place has written them only under a temporary name; killed there, it leaves no output DVC could trust (no file
    at the final path, no dvc.lock entry, `dvc status` lists it). The rerun runs exactly the stages that had not
    finished and ends byte-identical to the uninterrupted sweep, with no temporary file left."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    project = make_project(tmp_path / "project", custom.params)
    target = project / "data/custom/predictions/noise_0.2.npy"
    accuracy = project / "data/custom/accuracy/noise_0.2.csv"
    env = stage_env(PYTHONPATH=str(hook), LABELSWEEP_TEST_HOLD=os.path.realpath(target))
    with open(tmp_path / "repro.log", "w") as log:
        repro = subprocess.Popen([str(BIN / "dvc"), "repro", UPTO], cwd=project, env=env, stdout=log,
                                 stderr=subprocess.STDOUT)
    try:
        pid = find_stage_process("stages.train_eval", project, "--noise-level 0.2")
        deadline = time.time() + 300
        while process_state(pid) not in ("T", "Z", None) and time.time() < deadline:
            time.sleep(0.05)
        held = process_state(pid) == "T"
        assert held, f"train_eval ended without renaming its output into place ({target.exists()=})"
        assert not target.exists()
        assert [p.name for p in target.parent.glob("*.tmp-*")] == [f"{target.name}.tmp-{pid}"]
        os.kill(pid, signal.SIGKILL)
        assert repro.wait(timeout=120) != 0
    finally:
        if repro.poll() is None:
            repro.kill()
            repro.wait()
    log = (tmp_path / "repro.log").read_text()
    assert not target.exists() and not accuracy.exists(), log
    finished = set(yaml.safe_load((project / "dvc.lock").read_text())["stages"])
    assert "train_eval@custom-0.2" not in finished and "train_eval@custom-0.2" in status(project)

    ran = stages_run(dvc(project, "repro", UPTO).stdout)
    assert sorted(ran) == sorted(names("custom", [0.0, 0.2]) - finished)
    assert "train_eval@custom-0.2" in ran
    assert output_hashes(project) == custom.hashes  # byte-identical, every output
    assert not [p for p in project.rglob("*.tmp-*") if ".git" not in p.parts]


def test_the_fake_sweep_of_the_plot_tests_has_the_real_layout(custom, tmp_path):
    """tests/fake_sweep.py (the plot stage's tests run on it) writes what the real stages write: the same files,
    arrays of the same dtype and shape (one row per run), the same runs, table columns, JSON keys and cells."""
    real = custom.project / "data" / "custom"
    write_sweep(tmp_path, "custom", custom.params["noise"], custom.params["thresholds"], samples=CUSTOM["train"],
                plan=[runs.Run(*run, sweep=True, study=True) for run in CUSTOM["runs"]],  # tiny_study: both grids
                regime_sizes={"small": CUSTOM["members"]["small"]}, strategies=custom.params["strategies"])
    fake = tmp_path / "data" / "custom"
    for level in custom.params["noise"]:
        for folder in (f"noisy/noise_{level}", f"issues/noise_{level}"):
            files = sorted(p.name for p in (real / folder).iterdir())
            assert sorted(p.name for p in (fake / folder).iterdir()) == files, folder
            for name in files:
                if name.endswith(".npy"):
                    a, b = np.load(real / folder / name), np.load(fake / folder / name)
                    assert (a.dtype, a.shape) == (b.dtype, b.shape), (folder, name)
                elif name.endswith(".json"):  # noise.json: the same keys, one record per run with the same keys
                    a, b = (json.loads((root / folder / name).read_text()) for root in (real, fake))
                    assert list(a) == list(b) and [list(r) for r in a["runs"]] == [list(r) for r in b["runs"]]
                else:
                    assert pd.read_csv(real / folder / name).columns.tolist() == \
                        pd.read_csv(fake / folder / name).columns.tolist(), (folder, name)
        assert runs.load(fake / f"noisy/noise_{level}") == runs.load(real / f"noisy/noise_{level}")
        records = [json.loads((root / f"detection/noise_{level}.json").read_text()) for root in (real, fake)]
        assert list(records[0]) == list(records[1]) and len(records[0]["runs"]) == len(records[1]["runs"])
        for a, b in zip(records[0]["runs"], records[1]["runs"]):
            assert list(a) == list(b) and list(a["by_filter"]) == list(b["by_filter"])
            assert list(a["by_filter"]["both"]) == list(b["by_filter"]["both"])
        tables = [pd.read_csv(root / f"accuracy/noise_{level}.csv") for root in (real, fake)]
        assert tables[0].columns.tolist() == tables[1].columns.tolist() == TABLE
        cells = ["noise_kind", "regime", "seed", "strategy", "prune_share"]
        assert tables[0][cells].astype(str).values.tolist() == tables[1][cells].astype(str).values.tolist()
    summaries = [json.loads((root / "summary.json").read_text()) for root in (real, fake)]
    assert list(summaries[0]) == list(summaries[1])


# ---------------------------------------------------------------------------------------------------------------
# The plot stage: the tests below are the only ones in this file that run it (on a copy of `custom` reproduced up
# to train_eval) and check its outputs (plots/, metrics/) and how DVC tracks it.
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plotted(tmp_path_factory, custom) -> Sweep:
    """`custom` with its plot stage run too (the only stage left to run), committed."""
    project = copy_project(custom.project, tmp_path_factory.mktemp("plotted") / "project")
    output = dvc(project, "repro").stdout
    commit(project, "plots")
    return Sweep(project, custom.params, stages_run(output), output_hashes(project), output)


def test_plot_runs_last_and_its_headline_metrics_are_the_sweeps(plotted):
    """After the stages up to train_eval, a full repro runs the plot stage alone; metrics/custom.json is
    summary.headline of the accuracy tables and detection records; a second repro runs nothing at all."""
    assert plotted.ran == ["plot@custom"]
    results = plotted.project / "data" / "custom"
    headline = summary.headline(summary.read_accuracy(results, plotted.params["noise"]),
                                summary.read_detection(results, plotted.params["noise"]))
    assert json.loads((plotted.project / "metrics/custom.json").read_text()) == pytest.approx(headline)
    assert stages_run(dvc(plotted.project, "repro").stdout) == []
    assert status(plotted.project, plot=True) == set()


PLOT_REGRAIN = {  # an edit: whether it changes the plot stage itself (its params), whether plot is then out of date
    "a noise level added": (more_noise, True, True),
    "thresholds changed": (more_thresholds, False, True),  # plot reads the results, not the grid
    "one dataset's training": (custom_training, False, True),
    "a seed added to the runs": (more_seeds, False, True),
}


@pytest.mark.parametrize("edit", PLOT_REGRAIN)
def test_plot_is_out_of_date_after_a_change_of_what_it_draws(plotted, edit):
    """The plot stage reruns after every change of its inputs: by its own params (the grids) or downstream."""
    change, changed, downstream = PLOT_REGRAIN[edit]
    params = copy.deepcopy(plotted.params)
    change(params)
    (plotted.project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        assert ("plot@custom" in status(plotted.project, plot=True)) is changed
        assert ("plot@custom" in out_of_date(plotted.project, plot=True)) is downstream
    finally:
        run(["git", "checkout", "params.yaml"], plotted.project)


def test_plot_exp_run_with_a_scalar_level_writes_what_the_list_form_writes(plotted, tmp_path):
    """`dvc exp run -S noise=0.3` runs the 0.3 stages and the plot; the list form `-S 'noise=[0.3]'` then reruns
    only the plot (its params record `noise: [0.3]` instead of 0.3), which writes the same bytes. `dvc metrics diff`
    between the two grids' commits lists only the headline file, whose keys name no dataset or level."""
    project = copy_project(plotted.project, tmp_path / "project")
    result = dvc(project, "exp", "run", "-S", "noise=0.3")
    assert sorted(stages_run(result.stdout)) == sorted(names("custom", [0.3], download=False, plot=True))
    scalar = output_hashes(project)
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]

    result = dvc(project, "exp", "run", "-S", "noise=[0.3]")
    assert stages_run(result.stdout) == ["plot@custom"]
    assert output_hashes(project) == scalar
    relock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    rerun = ("plot@custom", CHECK_STAGE)  # check_inputs records the whole params.yaml's hash: its bytes differ
    assert {k: v for k, v in relock.items() if k not in rerun} == {k: v for k, v in lock.items() if k not in rerun}

    run(["git", "checkout", "-qb", "one-level"], project)
    commit(project, "noise 0.3 only")
    diff = json.loads(dvc(project, "metrics", "diff", "main", "--all", "--json").stdout)
    assert set(diff) == {"metrics/custom.json"}
    keys = set(diff["metrics/custom.json"])
    headline = json.loads((plotted.project / "metrics/custom.json").read_text())
    assert keys == {key for key, value in headline.items() if value is not None}  # DVC leaves out a null metric
    assert not any(word in key for key in keys for word in ("dataset", "noise", "level", "custom"))
