"""Stage outputs appear whole or not at all: written under a temporary name, renamed into place on success."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from labelsweep import artifacts, runs
from labelsweep.config import Dataset, parse
from labelsweep.errors import ConfigError


class Boom(RuntimeError):
    pass


def test_an_exception_while_writing_leaves_neither_the_file_nor_its_temporary(tmp_path):
    """A write that fails halfway leaves nothing at the final path and no `*.tmp-*` behind."""
    path = tmp_path / "out" / "noise_0.2.npy"
    with pytest.raises(Boom), artifacts.atomic_path(path) as tmp:
        tmp.write_bytes(b"half of it")
        raise Boom
    assert sorted(path.parent.iterdir()) == []


def test_an_exception_while_writing_keeps_the_previous_version_intact(tmp_path):
    """The previous output stays as it was, untouched by the half-written one."""
    path = tmp_path / "table.csv"
    path.write_text("old,complete\n")
    with pytest.raises(Boom), artifacts.atomic_path(path) as tmp:
        tmp.write_text("new,hal")
        raise Boom
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]
    assert path.read_text() == "old,complete\n"


def test_the_final_path_appears_only_with_its_whole_content(tmp_path, monkeypatch):
    """At the moment of the rename the final path does not exist and the temporary holds the whole file; the file
    is never written at its final path (every write goes to the temporary, which the rename moves)."""
    path = tmp_path / "predictions.npy"
    array = np.arange(12, dtype=np.int16).reshape(3, 4)
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append((Path(src).name, Path(dst).exists(), np.load(src).tolist()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    artifacts.save_npy(path, array)
    assert seen == [(f"predictions.npy.tmp-{os.getpid()}", False, array.tolist())]
    assert np.array_equal(np.load(path), array) and sorted(p.name for p in tmp_path.iterdir()) == ["predictions.npy"]


def test_stale_temporaries_of_a_killed_run_are_removed_and_only_those(tmp_path):
    """The leftovers of a killed run of the same output (a file and a folder) are removed by the next write;
    another output's temporaries and look-alike names are left alone (the name is matched literally)."""
    path = tmp_path / "cleaned[1]"  # glob characters in the name must not widen the match
    (tmp_path / "cleaned[1].tmp-123").mkdir()
    (tmp_path / "cleaned[1].tmp-123" / "labels.npy").write_bytes(b"partial")
    (tmp_path / "cleaned[1].tmp-456").write_bytes(b"partial")
    (tmp_path / "cleaned1.tmp-789").write_bytes(b"another output's")
    (tmp_path / "issues.tmp-1").write_bytes(b"another output's")
    artifacts.save_arrays(path, {"labels": np.zeros(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cleaned1.tmp-789", "cleaned[1]", "issues.tmp-1"]


def test_save_arrays_replaces_a_folder_whole(tmp_path, monkeypatch):
    """A folder output is built complete under its temporary name, then renamed: at the rename the temporary holds
    every file and the old folder is gone; afterwards the folder holds exactly the new files (nothing of the old
    one survives), with their content."""
    folder = tmp_path / "issues"
    folder.mkdir()
    (folder / "flagged.npy").write_bytes(b"old")
    (folder / "stale.npy").write_bytes(b"old, not written any more")
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append((sorted(p.name for p in Path(src).iterdir()), Path(dst).exists()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    artifacts.save_arrays(folder, {"flagged": np.array([True, False]), "quality": np.array([0.25, 0.5])},
                          extra={"label_issues.csv": "sample_id\n0\n1\n"})
    assert seen == [(["flagged.npy", "label_issues.csv", "quality.npy"], False)]
    assert sorted(p.name for p in folder.iterdir()) == ["flagged.npy", "label_issues.csv", "quality.npy"]
    assert np.load(folder / "flagged.npy").tolist() == [True, False]
    assert np.load(folder / "quality.npy").tolist() == [0.25, 0.5]
    assert (folder / "label_issues.csv").read_text() == "sample_id\n0\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["issues"]


def test_save_arrays_failing_midway_keeps_the_old_folder_and_leaves_no_temporary(tmp_path):
    """An array that cannot be written (after a first one was) leaves the previous folder as it was."""
    folder = tmp_path / "cleaned"
    folder.mkdir()
    (folder / "labels.npy").write_bytes(b"old")

    class Unsaveable:
        def __array__(self, *args, **kwargs):
            raise Boom

    with pytest.raises(Boom):
        artifacts.save_arrays(folder, {"flipped": np.zeros(2), "labels": Unsaveable()}, extra={"cells.csv": "run\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cleaned"]
    assert sorted(p.name for p in folder.iterdir()) == ["labels.npy"]
    assert (folder / "labels.npy").read_bytes() == b"old"


def test_json_and_csv_outputs_are_written_through_the_same_rename(tmp_path, monkeypatch):
    """save_json and save_csv go through atomic_path too: their final file appears only by the rename."""
    import pandas as pd

    renamed = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (renamed.append(Path(dst).name), real_replace(src, dst)))
    artifacts.save_json(tmp_path / "detection.json", {"flagged": 3})
    artifacts.save_csv(tmp_path / "accuracy.csv", pd.DataFrame({"a": [1]}))
    assert renamed == ["detection.json", "accuracy.csv"]
    assert (tmp_path / "detection.json").read_text() == '{\n  "flagged": 3\n}\n'
    assert (tmp_path / "accuracy.csv").read_text() == "a\n1\n"


def dataset_section(params: dict, regimes: dict) -> Dataset:
    """Fashion-MNIST's section of `params` with `regimes`, checked."""
    params["fashion_mnist"]["regimes"] = regimes
    runs_grid = {"noise_kinds": ["symmetric"], "regimes": ["default"], "seeds": [0]}
    return parse({**params, "datasets": ["fashion_mnist"], "study": None, "runs": runs_grid}).dataset("fashion_mnist")


def test_runs_csv_gives_the_row_order_of_a_level_and_groups_runs_that_train_together(tmp_path, params):
    """runs.csv, written with the arrays as one output, reads back as the same runs in the same order; runs of one
    regime and seed are grouped (their models train together), in order of first appearance; a regime the dataset
    sets to null is left out of the plan."""
    section = dataset_section(params, {"memorise": {"train_size": 10, "epochs": 60}, "huge": None})
    plan = runs.plan(["symmetric", "class_conditional"], ["default", "memorise", "huge"], [2, 0], section)
    assert [(r.noise_kind, r.regime, r.seed) for r in plan] == [
        ("symmetric", "default", 2), ("symmetric", "default", 0), ("class_conditional", "default", 2),
        ("class_conditional", "default", 0), ("symmetric", "memorise", 2), ("symmetric", "memorise", 0),
        ("class_conditional", "memorise", 2), ("class_conditional", "memorise", 0)]
    artifacts.save_arrays(tmp_path / "noisy", {"labels": np.zeros((len(plan), 3), np.int64)},
                          extra={"runs.csv": runs.table_csv(plan)})
    assert (tmp_path / "noisy" / "runs.csv").read_text().splitlines()[:2] == ["noise_kind,regime,seed,sweep,study",
                                                                              "symmetric,default,2,True,False"]
    assert runs.load(tmp_path / "noisy") == plan
    assert list(runs.groups(plan)) == [("default", 2, [0, 2]), ("default", 0, [1, 3]), ("memorise", 2, [4, 6]),
                                       ("memorise", 0, [5, 7])]
    assert section.regime("memorise") == (section.train.model_copy(update={"epochs": 60}), 10)
    assert section.regime("default") == (section.train, None)


def test_a_level_holds_the_sweeps_runs_and_at_a_study_level_the_studys_once_each(params):
    """At a level outside the study: the sweep's runs. At a study level: the sweep's runs first (the one in both
    grids marked so), then the study's others; a run in both grids is one run."""
    section = dataset_section(params, {"memorise": {"epochs": 60}})
    settings = {**params, "datasets": ["fashion_mnist"],
                "runs": {"noise_kinds": ["symmetric"], "regimes": ["default"], "seeds": [0]},
                "study": {"noise": [0.2], "noise_kinds": ["symmetric", "class_conditional"], "regimes": ["default"],
                          "seeds": [0, 1], "thresholds": [0.0, 1.0]}}
    params = parse(settings)
    assert runs.level_plan(0.1, params, section) == [runs.Run("symmetric", "default", 0, sweep=True, study=False)]
    assert runs.level_plan(0.2, params, section) == [
        runs.Run("symmetric", "default", 0, sweep=True, study=True),
        runs.Run("symmetric", "default", 1, sweep=False, study=True),
        runs.Run("class_conditional", "default", 0, sweep=False, study=True),
        runs.Run("class_conditional", "default", 1, sweep=False, study=True)]
    assert runs.level_plan(0.2, parse({**settings, "study": None}), section) == runs.level_plan(0.1, params, section)


def test_a_regime_runs_its_own_seeds_and_real_errors_takes_the_studys_place_at_zero(params):
    """`regime_seeds` gives one regime its own seeds (the others keep `seeds`); at 0 % a dataset of `real_errors`
    runs that grid's runs in the study's place, with its thresholds and strategies; another dataset, or another
    level, keeps the study's."""
    section = dataset_section(params, {"memorise": {"epochs": 60}})
    settings = {**params, "datasets": ["fashion_mnist"],
                "runs": {"noise_kinds": ["symmetric"], "regimes": ["default", "memorise"], "seeds": [0],
                         "regime_seeds": {"memorise": [0, 1]}},
                "study": {"noise": [0.0], "noise_kinds": ["symmetric"], "regimes": ["default"], "seeds": [0, 1, 2],
                          "thresholds": [0.5]},
                "real_errors": {"datasets": ["fashion_mnist"], "noise_kinds": ["symmetric"], "regimes": ["default"],
                                "seeds": [0, 3], "thresholds": [0.0, 1.0], "strategies": ["random_removal"]}}
    loaded = parse(settings)
    sweep = [("symmetric", "default", 0), ("symmetric", "memorise", 0), ("symmetric", "memorise", 1)]
    assert [(r.noise_kind, r.regime, r.seed) for r in runs.level_plan(0.1, loaded, section, "fashion_mnist")] == sweep
    at_zero = runs.level_plan(0.0, loaded, section, "fashion_mnist")
    assert [(r.regime, r.seed, r.sweep, r.study) for r in at_zero] == [
        ("default", 0, True, True), ("memorise", 0, True, False), ("memorise", 1, True, False),
        ("default", 3, False, True)]
    assert runs.study_cells(0.0, loaded, "fashion_mnist") == ([0.0, 1.0], ["random_removal"])
    assert runs.study_cells(0.0, loaded, "roman") == ([0.5], loaded.strategies)
    assert len(runs.level_plan(0.0, loaded, section, "roman")) == 5  # the sweep's 3, then the study's seeds 1 and 2
    with pytest.raises(ConfigError, match="runs.regime_seeds = 'huge' is not allowed: default, or a regime named"):
        parse({**settings, "runs": {**settings["runs"], "regime_seeds": {"huge": [0]}}})
