"""Data the pipeline can trust (issue 26): edited images rerun download, unknown keys and meaningless noise levels
are refused, relative data paths work in DVC's experiment copies, links that leave an image folder or loop are
refused, classes too small for the split or the folds are named, a missing input is one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from labelsweep import datasets, fetch, folders
from labelsweep.errors import ConfigError, DataError
from labelsweep.params_check import refuse_unknown_keys

from .conftest import ROOT, checkout, dvc, make_project, run, run_stage, save_runs, tiny_custom_params, write_raw
from .test_datasets import image_data, make_image_folder


def settings() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


# -- 2. Unknown keys, at any depth --------------------------------------------------------------------------------

@pytest.mark.parametrize("edit, line", [
    (lambda p: p["cleanlab"].update(filterby="x"),
     "params.yaml: cleanlab.filterby = 'x' is not allowed: no such setting (the closest is cleanlab.filter_by)"),
    (lambda p: p.update(threshold=0.5),
     "params.yaml: threshold = 0.5 is not allowed: no such setting (the closest is thresholds)"),
    (lambda p: p["custom"]["regimes"]["memorise"].update(epoch=3),  # a dataset not in `datasets`
     "params.yaml: custom.regimes.memorise.epoch = 3 is not allowed: no such setting (the closest is "
     "custom.regimes.memorise.epochs)"),
    (lambda p: p["roman"]["train"]["augment"].update(degree=3),
     "params.yaml: roman.train.augment.degree = 3 is not allowed: no such setting (the closest is "
     "roman.train.augment.degrees)"),
])
def test_an_unknown_key_at_any_depth_is_named_with_the_closest_key(edit, line):
    params = settings()
    refuse_unknown_keys(params)  # the committed file has none
    edit(params)
    with pytest.raises(ConfigError) as err:
        refuse_unknown_keys(params)
    assert str(err.value) == line


# -- 3. Noise levels the labels carry no information at ------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("kind, level, line", [
    ("symmetric", 0.7, "error: params.yaml: noise = 0.7 is not allowed: fashion_mnist's labels carry no information "
     "at or above symmetric noise over 3 classes: (K-1)/K = 0.6667, where every label is equally likely (use levels "
     "below 0.6667)"),
    ("class_conditional", 0.5, "error: params.yaml: noise = 0.5 is not allowed: fashion_mnist's labels carry no "
     "information at or above class_conditional noise: 0.5, where a class's flipped label is as frequent as its "
     "true one (use levels below 0.5)"),
])
def test_a_noise_level_past_the_kinds_bound_is_refused_before_any_flip(tmp_path, kind, level, line):
    params = settings()
    params.update(datasets=["fashion_mnist"], runs={"noise_kinds": [kind], "regimes": ["default"], "seeds": [0]},
                  study=None)
    params["fashion_mnist"]["confusable"] = {"a": "b", "b": "c", "c": "a"}
    checkout(tmp_path, params)
    write_raw(tmp_path / "raw", np.zeros((30, 1, 2, 2), np.uint8), np.arange(30) % 3, ["a", "b", "c"])
    r = run_stage("inject_noise", tmp_path, "--dataset", "fashion_mnist", "--noise-level", str(level), "--raw", "raw",
                  "--out", "noisy")
    assert (r.returncode, r.stderr.strip()) == (2, line)
    assert not (tmp_path / "noisy").exists()
    ok = run_stage("inject_noise", tmp_path, "--dataset", "fashion_mnist", "--noise-level", "0.45", "--raw", "raw",
                   "--out", "noisy")
    assert ok.returncode == 0, ok.stderr  # just below both bounds


# -- 4. Relative data paths in DVC's experiment copies -------------------------------------------------------------

def test_a_relative_path_means_the_repositorys_folder_also_in_an_experiment_copy(tmp_path):
    copy = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "standalone" / "tmp1234"
    assert folders.repo_root(copy) == tmp_path / "repo"
    assert folders.data_path("../shared/x", copy) == tmp_path / "repo" / "../shared/x"
    assert folders.data_path("../shared/x", tmp_path / "repo") == Path("../shared/x")  # the workspace: as given
    assert folders.data_path("/abs/x", copy) == Path("/abs/x")


# -- 5. Links that leave an image folder or loop ---------------------------------------------------------------------

@pytest.mark.parametrize("make, named", [
    (lambda root: (root / "a" / "loop").symlink_to(".."), "a/loop links to {root}, a folder that holds it (a loop)"),
    (lambda root: (root / "b" / "x.png").symlink_to(root.parent / "elsewhere.png"),
     "b/x.png links outside the image folder {root} (to {outside})"),
])
def test_a_link_that_loops_or_leaves_the_folder_is_refused_by_name(tmp_path, make, named):
    root = make_image_folder(tmp_path / "imgs")
    (tmp_path / "elsewhere.png").write_bytes((root / "a" / "0.png").read_bytes())
    make(root)
    expected = named.format(root=root, outside=tmp_path / "elsewhere.png")
    for load in (lambda: datasets.load_image_folder("custom", image_data(root), seed=0),
                 lambda: fetch.image_files(root)):
        with pytest.raises(DataError) as err:
            load()
        assert str(err.value).startswith(f"{root}/{expected}")


# -- 6. Classes too small for the split or the folds ---------------------------------------------------------------

def test_a_class_of_one_image_is_refused_naming_the_class_and_the_setting(tmp_path):
    root = make_image_folder(tmp_path / "imgs")
    for extra in sorted((root / "c").iterdir())[1:]:
        extra.unlink()
    with pytest.raises(DataError) as err:
        datasets.load_image_folder("custom", image_data(root), seed=0)
    assert str(err.value) == ("custom.data: class c has 1 image (after deduplication), but holding out "
                              "custom.data.test_share needs at least 2 per class (one to train on, one to test): add "
                              "images of c, or set custom.data.test_dir to a folder of test images")


def test_no_class_silently_loses_its_test_images(tmp_path):
    root = make_image_folder(tmp_path / "imgs", per_class=20)
    for extra in sorted((root / "c").iterdir())[2:]:
        extra.unlink()  # c: 2 of 42 images; a 10 % share gives it no test image
    with pytest.raises(ConfigError) as err:
        datasets.load_image_folder("custom", image_data(root, test_share=0.1), seed=0)
    assert str(err.value) == ("params.yaml: custom.data.test_share = 0.1 is not allowed: class c (2 images) gets no "
                              "test image: raise it (to about 0.50 for one), or set custom.data.test_dir")
    ds = datasets.load_image_folder("custom", image_data(root, test_share=0.5), seed=0)
    assert (np.bincount(ds.test.labels, minlength=3) > 0).all()


@pytest.mark.slow
def test_too_many_folds_for_a_class_names_the_class_and_what_to_change(tmp_path):
    params = settings()
    params.update(datasets=["fashion_mnist"])
    checkout(tmp_path, params)
    labels = np.array([0] * 10 + [1] * 10 + [2] * 3)
    write_raw(tmp_path / "raw", np.zeros((23, 1, 2, 2), np.uint8), labels, ["a", "b", "c"])
    save_runs(tmp_path / "noisy", labels, np.zeros(23, bool), [("symmetric", "default", 0)])
    r = run_stage("crossval_probs", tmp_path, "--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy",
                  "--out", "probs")
    assert (r.returncode, r.stderr.strip()) == (2, "error: params.yaml: cleanlab.folds = 5 is not allowed: class c "
                                                   "has only 3 training samples in run symmetric/default/seed 0 (use "
                                                   "at most 3 folds, or more images of c)")


# -- 7. A missing input ------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_missing_input_is_one_line_naming_it_and_the_stage_that_writes_it(tmp_path):
    params = settings()
    params.update(datasets=["fashion_mnist"])
    checkout(tmp_path, params, ["labelsweep", "stages", "dvc.yaml"])
    write_raw(tmp_path / "data/fashion_mnist/raw", np.zeros((9, 1, 2, 2), np.uint8), np.arange(9) % 3, list("abc"))
    r = run_stage("crossval_probs", tmp_path, "--dataset", "fashion_mnist", "--raw", "data/fashion_mnist/raw",
                  "--noisy", "data/fashion_mnist/noisy/noise_0.1", "--out", "probs")
    assert (r.returncode, r.stderr.strip()) == (
        2, "error: data/fashion_mnist/noisy/noise_0.1/labels.npy is missing or unreadable (No such file or directory): "
           "it is written by stage inject_noise of dvc.yaml; run `dvc repro inject_noise` (`dvc status` lists what "
           "is out of date)")


# -- 1, 2 and 4 with DVC itself --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The tiny `custom` dataset at a path relative to the project (../images), its download reproduced."""
    base = tmp_path_factory.mktemp("trust")
    make_image_folder(base / "images")
    params = tiny_custom_params(settings(), Path("../images"))
    project = make_project(base / "project", params)
    dvc(project, "repro", "download")
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "download"], project)
    return project


@pytest.mark.slow
def test_an_edited_image_folder_makes_download_out_of_date_and_a_repro_reruns_it(project, tmp_path):
    work = Path(shutil.copytree(project, tmp_path / "p", symlinks=True))
    images = work.parent / "images"
    shutil.copytree(project.parent / "images", images)
    dvc(work, "repro", "check_inputs")  # links this copy's ../images
    assert yaml.safe_load(dvc(work, "status", "--json", "download").stdout) == {}
    (images / "a" / "0.png").rename(images / "b" / "moved.png")  # a label fixed after review
    changed = yaml.safe_load(dvc(work, "status", "--json", "download").stdout)
    assert changed["download@custom"] == [{"changed deps": {"data/custom/source": "modified"}}]
    ran = dvc(work, "repro", "download").stdout
    assert "Running stage 'download@custom'" in ran
    assert yaml.safe_load((work / "data/custom/summary.json").read_text())["dedup"]["train_loaded"] == 24


@pytest.mark.slow
def test_a_typo_in_exp_run_is_refused_even_when_no_stage_would_rerun(project, tmp_path):
    work = Path(shutil.copytree(project, tmp_path / "p", symlinks=True))
    shutil.copytree(project.parent / "images", work.parent / "images")
    r = dvc(work, "exp", "run", "-S", "+cleanlab.filterby=x", "download", check=False)
    assert r.returncode != 0
    assert ("error: params.yaml: cleanlab.filterby = 'x' is not allowed: no such setting (the closest is "
            "cleanlab.filter_by)") in r.stderr


@pytest.mark.slow
def test_exp_run_temp_finds_a_relative_image_folder(project, tmp_path):
    work = Path(shutil.copytree(project, tmp_path / "p", symlinks=True))
    shutil.copytree(project.parent / "images", work.parent / "images")
    r = dvc(work, "exp", "run", "--temp", "-S", "custom.data.image_size=10", "download")
    assert "Running stage 'download@custom'" in r.stdout, r.stdout + r.stderr
