"""The "should I clean these labels?" command (labelsweep.tooling.should_clean, issue 29 item 6): its input checks,
its verdict against a hand-computed case, and (slow) the whole command on a tiny image folder."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labelsweep.analysis.intervals import paired_difference
from labelsweep.errors import DataError
from labelsweep.tooling.should_clean import check_folder, overrides, pruned_per_seed, verdict

from .conftest import BIN, make_project, run, tiny_custom_params


def image_folder(root, sizes: dict[str, int]):
    """Class folders of grey 12x12 PNGs, a faint band at a class's own place."""
    rng = np.random.default_rng(0)
    for k, (name, size) in enumerate(sizes.items()):
        (root / name).mkdir(parents=True)
        for i in range(size):
            pixels = rng.integers(0, 150, size=(12, 12), dtype=np.uint8)
            pixels[:, 4 * k: 4 * k + 4] += 100
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    return root


@pytest.mark.parametrize("sizes, message", [
    (None, "no such folder"),
    ({"one": 6}, "1 class folder(s) with images; cleaning labels needs at least 2"),
    ({"one": 6, "two": 4}, "two: 4 image(s), fewer than cleanlab.folds = 5"),
])
def test_a_folder_that_cannot_be_analysed_is_refused_in_one_line(tmp_path, sizes, message):
    folder = tmp_path / "images"
    if sizes is not None:
        image_folder(folder, sizes)
    with pytest.raises(DataError, match=re.escape(message)) as err:
        check_folder(folder, folds=5)
    assert "\n" not in str(err.value)


def test_a_good_folder_is_counted_and_run_with_its_seeds(tmp_path):
    folder = image_folder(tmp_path / "images", {"a": 5, "b": 7})
    (folder / "b" / "notes.txt").write_text("not an image")
    assert check_folder(folder, folds=5) == {"a": 5, "b": 7}
    settings = overrides(folder, 3)
    assert "real_errors.seeds=[0, 1, 2]" in settings and f"custom.data.path={folder}" in settings


def test_the_verdict_is_prune_all_minus_the_baseline_paired_by_seed_and_image():
    """Two seeds, rows in any order, a sweep-only cell that must be left out: the interval is paired_difference's
    on the prune-all and baseline rows put in seed order."""
    test_labels = np.array([0, 1, 1, 0])
    table = pd.DataFrame({"seed": [1, 0, 0, 1, 0], "strategy": ["baseline", "prune_relabel", "baseline",
                                                                "prune_relabel", "prune_relabel"],
                          "prune_share": [np.nan, 1.0, np.nan, 1.0, 0.0], "study": [True, True, True, True, True]})
    predictions = np.array([[0, 0, 1, 0], [0, 1, 1, 0], [1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 1, 1]])
    found = verdict(table, predictions, test_labels)
    expected = paired_difference(predictions[[1, 3]] == test_labels, predictions[[2, 0]] == test_labels)
    assert found == expected and found.n_seeds == 2 and found.mean == pytest.approx(0.25)
    assert verdict(table.assign(study=[True, True, True, True, False]), predictions, test_labels) == expected


def test_the_pruned_count_is_each_seeds_own_averaged():
    """The sentence's count: the baseline's training samples minus prune-all's, per seed, averaged (seed 0 drops 4,
    seed 1 drops 1); a sweep-only row and another share are left out."""
    table = pd.DataFrame({"seed": [0, 0, 1, 1, 0, 1], "strategy": ["baseline", "prune_relabel", "baseline",
                                                                   "prune_relabel", "prune_relabel", "baseline"],
                          "prune_share": [np.nan, 1.0, np.nan, 1.0, 0.0, np.nan],
                          "train_samples": [100, 96, 100, 99, 100, 50], "study": [True, True, True, True, True, False]})
    assert pruned_per_seed(table) == 2.5


@pytest.mark.slow
def test_the_command_prints_the_verdict_and_the_review_on_a_tiny_folder(tmp_path, params):
    """The command end to end in a fresh project: 3 classes of 12 images, 2 seeds; one line per answer."""
    folder = image_folder(tmp_path / "images", {"one": 12, "two": 12, "three": 12})
    settings = tiny_custom_params(params, folder)
    settings["cleanlab"]["folds"] = 2
    project = make_project(tmp_path / "project", settings)
    result = run([str(BIN / "python"), "-m", "labelsweep.tooling.should_clean", str(folder), "--seeds", "2"], project)
    assert "would change test accuracy by" in result.stdout and "(2 seeds, " in result.stdout
    assert "plots/custom/label_review.csv" in result.stdout
    assert (project / "plots" / "custom" / "label_review.png").is_file()
    refused = run([str(BIN / "python"), "-m", "labelsweep.tooling.should_clean", str(tmp_path / "nothing")], project,
                  check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "no such folder" in refused.stderr
