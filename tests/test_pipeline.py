"""End to end: the real pipeline on tiny configurations, in temporary git + DVC copies of the project.

Two module-wide sweeps are shared by the tests (each runs `dvc repro` once): `custom`, a generated image
folder alone (never skipped), and `both`, that project with a few thousand Fashion-MNIST samples added as a
second dataset (skipped where Fashion-MNIST is not installed). Tests that change a sweep work on a copy.
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
import yaml
from PIL import Image

from labelsweep import summary
from labelsweep.cleaning import PRUNED, cleaned_labels, detection_metrics, label_errors

from .conftest import (
    BIN,
    ROOT,
    copy_project,
    dvc,
    make_project,
    run,
    stage_env,
    stages_run,
    tiny_custom_params,
    tiny_fashion_params,
)
from .test_datasets import DEBIAN

pytestmark = pytest.mark.slow
needs_fashion_mnist = pytest.mark.skipif(not DEBIAN.is_dir(), reason=f"Fashion-MNIST files not in {DEBIAN}")

LEVEL_STAGES = ("inject_noise", "crossval_probs", "find_issues", "apply_prune_relabel", "train_eval")
CLASSES = ("one", "two", "three")  # the generated image folder: 16 images per class
# Hand-counted sizes of the tiny sweeps, and the labels exactly round(p * n) flips at each level.
CUSTOM = {"train": 36, "test": 12, "injected": {0.0: 0, 0.2: 7}}  # 48 images, test_share 0.25; 0.2 * 36 = 7.2
FASHION = {"train": 2000, "test": 500, "injected": {0.0: 0, 0.2: 400}}


def names(dataset: str, levels, stages=LEVEL_STAGES, download: bool = True, plot: bool = True) -> set[str]:
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


def status(project: Path) -> set[str]:
    """The stages `dvc status` finds changed themselves (their own deps, params or outs)."""
    return set(json.loads(dvc(project, "status", "--json").stdout))


def out_of_date(project: Path) -> set[str]:
    """Every stage a `dvc repro` would run: the changed ones and everything downstream of them."""
    return set(stages_run(dvc(project, "repro", "--dry", "--force-downstream").stdout))


@dataclass
class Sweep:
    project: Path
    params: dict
    ran: list[str]
    hashes: dict[str, str]


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
    """The image folder alone, 2 levels x 2 thresholds, reproduced and committed."""
    params = tiny_custom_params(base_params(), images)
    project = make_project(tmp_path_factory.mktemp("custom") / "project", params)
    ran = stages_run(dvc(project, "repro").stdout)
    commit(project, "results")
    return Sweep(project, params, ran, output_hashes(project))


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
    ran = stages_run(dvc(project, "repro").stdout)
    commit(project, "fashion_mnist added")
    return Sweep(project, params, ran, output_hashes(project))


def check_outputs(project: Path, dataset: str, params: dict, sizes: dict) -> None:
    """Every output of `dataset` holds what its inputs give: recomputed here from the files, level by level."""
    data = project / "data" / dataset
    raw = data / "raw"
    truth, test_labels = np.load(raw / "train_labels.npy"), np.load(raw / "test_labels.npy")
    ids = (raw / "train_ids.txt").read_text().splitlines()
    n_classes = len(json.loads((raw / "classes.json").read_text()))
    assert (len(truth), len(test_labels), len(ids)) == (sizes["train"], sizes["test"], sizes["train"])
    folds, shares = params["cleanlab"]["folds"], sorted(params["thresholds"])
    for level in params["noise"]:
        noisy, flipped = (np.load(data / f"noisy/noise_{level}/{name}.npy") for name in ("labels", "flipped"))
        assert flipped.sum() == sizes["injected"][level]
        assert np.array_equal(noisy != truth, flipped)  # flipped exactly where the mask says, to another class

        pred_probs, fold = (np.load(data / f"pred_probs/noise_{level}/{name}.npy") for name in ("pred_probs", "fold"))
        assert pred_probs.shape == (len(truth), n_classes)
        np.testing.assert_allclose(pred_probs.sum(axis=1), 1, atol=1e-5)
        # A stratified partition into `folds` groups: every sample in one fold, each class split near-evenly.
        assert sorted(np.unique(fold).tolist()) == list(range(folds))
        for k in range(n_classes):
            per_fold = np.bincount(fold[noisy == k], minlength=folds)
            assert per_fold.max() - per_fold.min() <= 1, (level, k, per_fold)

        issues = data / f"issues/noise_{level}"
        given, flagged, quality, suggested = (np.load(issues / f"{name}.npy")
                                              for name in ("given", "flagged", "quality", "suggested"))
        assert np.array_equal(given, noisy)
        assert np.array_equal(suggested[~flagged], given[~flagged])
        table = pd.read_csv(issues / "label_issues.csv", dtype={"sample_id": str}, keep_default_na=False)
        assert list(table.columns) == ["sample_id", "original_label", "given_label", "label_quality", "flagged",
                                       "suggested_label"]
        assert table.sample_id.tolist() == ids
        assert np.array_equal(table.original_label, truth) and np.array_equal(table.given_label, given)
        assert np.array_equal(table.flagged, flagged.astype(int))
        assert np.array_equal(table.suggested_label, suggested)
        np.testing.assert_allclose(table.label_quality, quality, atol=1e-6)
        detection = json.loads((project / f"data/{dataset}/detection/noise_{level}.json").read_text())
        assert detection["flagged"] == table.flagged.sum() == flagged.sum()
        expected = {"noise_level": level, **detection_metrics(flagged, flipped, quality),
                    **label_errors(truth, given, flagged, suggested)}
        assert {key: detection.get(key) for key in expected} == pytest.approx(expected)

        prune_shares, cleaned = (np.load(data / f"cleaned/noise_{level}/{name}.npy")
                                 for name in ("prune_shares", "labels"))
        assert prune_shares.tolist() == shares
        for share, row in zip(shares, cleaned):
            assert np.array_equal(row, cleaned_labels(given, flagged, quality, suggested, share)), share

        predicted = np.load(data / f"predictions/noise_{level}.npy")
        assert predicted.dtype == np.int16 and predicted.shape == (1 + len(shares), len(test_labels))
        if level > 0:  # the models differ, so the table's rows below can only match in the right order
            assert len({row.tobytes() for row in predicted}) > 1
        accuracy = pd.read_csv(project / f"data/{dataset}/accuracy/noise_{level}.csv")
        labels = np.vstack([given, cleaned])
        rows = pd.DataFrame({
            "noise_level": level,
            "strategy": ["baseline"] + ["prune_relabel"] * len(shares),
            "prune_share": [np.nan, *shares],
            "test_accuracy": (predicted == test_labels).mean(axis=1).round(6),
            "train_samples": (labels != PRUNED).sum(axis=1),
            "pruned": (labels == PRUNED).sum(axis=1),
            "changed_labels": ((labels != given) & (labels != PRUNED)).sum(axis=1),
        })
        pd.testing.assert_frame_equal(accuracy, rows, check_dtype=False, atol=1e-6)

    results = project / "data" / dataset
    headline = summary.headline(summary.read_accuracy(results, params["noise"]),
                                summary.read_detection(results, params["noise"]))
    assert json.loads((project / f"metrics/{dataset}.json").read_text()) == pytest.approx(headline)


def test_an_image_folder_dataset_end_to_end(custom, images):
    """Every stage of the image-folder sweep ran exactly once, and each output holds what its inputs give: ids are
    the image files, the noise count is hand-counted, the folds a stratified partition, the issues table the issue
    arrays, the cleaned labels cleaning.cleaned_labels of them, the accuracy table the saved test predictions."""
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
    assert accuracy.test_accuracy[0] > 0.8  # the noise-free baseline learned the bands (chance: 1/3)


@needs_fashion_mnist
def test_fashion_mnist_end_to_end_and_adding_a_dataset_runs_only_its_stages(both):
    """Adding Fashion-MNIST to a finished sweep ran exactly its own stages, none of `custom`'s; its outputs hold
    what their inputs give (as for the image folder), with the hand-counted 2,000/500 samples and 400 flips."""
    assert sorted(both.ran) == sorted(names("fashion_mnist", [0.0, 0.2]))
    check_outputs(both.project, "fashion_mnist", both.params, FASHION)
    accuracy = pd.read_csv(both.project / "data/fashion_mnist/accuracy/noise_0.0.csv")
    assert accuracy.test_accuracy[0] > 0.5  # 1 epoch on 2,000 samples: far above chance (0.1)


def test_a_second_repro_runs_nothing(custom):
    """Right after a repro, a second one runs no stage and `dvc status` finds nothing changed."""
    assert stages_run(dvc(custom.project, "repro").stdout) == []
    assert status(custom.project) == set()


@needs_fashion_mnist
def test_dag_has_one_train_eval_per_dataset_and_level(both):
    """`dvc dag` names the stages per dataset or per (dataset, level), never per threshold."""
    assert "train_eval@fashion_mnist-0.2" in dvc(both.project, "dag").stdout
    nodes = set(re.findall(r'^\s*"([^"]+)";$', dvc(both.project, "dag", "--dot").stdout, re.MULTILINE))
    assert nodes == names("fashion_mnist", [0.0, 0.2]) | names("custom", [0.0, 0.2])


def more_noise(p: dict) -> None:
    p["noise"] = [0.0, 0.2, 0.1]


def more_thresholds(p: dict) -> None:
    p["thresholds"] = [0.0, 0.5, 1.0]


def custom_training(p: dict) -> None:
    p["custom"]["train"]["epochs"] += 1


def fashion_data(p: dict) -> None:
    p["fashion_mnist"]["data"]["test_subsample"] = 400


REGRAIN = {  # an edit of params.yaml: (the stages it changes, every stage that is then out of date)
    "a noise level added": (more_noise, names("fashion_mnist", [0.1], download=False)
                            | names("custom", [0.1], download=False)),
    "thresholds changed": (more_thresholds, names("fashion_mnist", [0.0, 0.2], ["apply_prune_relabel"], False)
                           | names("custom", [0.0, 0.2], ["apply_prune_relabel"], False)),
    "one dataset's training": (custom_training,
                               names("custom", [0.0, 0.2], ["crossval_probs", "find_issues", "train_eval"], False,
                                     False)),
    "one dataset's data": (fashion_data, {"download@fashion_mnist"}),
}
DOWNSTREAM = {
    "a noise level added": REGRAIN["a noise level added"][1],
    "thresholds changed": names("fashion_mnist", [0.0, 0.2], ["apply_prune_relabel", "train_eval"], False)
    | names("custom", [0.0, 0.2], ["apply_prune_relabel", "train_eval"], False),
    "one dataset's training": names("custom", [0.0, 0.2], LEVEL_STAGES[1:], False),
    "one dataset's data": names("fashion_mnist", [0.0, 0.2]),
}


@needs_fashion_mnist
@pytest.mark.parametrize("edit", REGRAIN)
def test_a_change_makes_only_the_stages_it_touches_out_of_date(both, edit):
    """After a full repro of two datasets, each edit of params.yaml makes exactly these stages out of date (as
    `dvc status --json` names them, and with everything downstream as `dvc repro --dry` would run it): a new level
    only that level's stages and the plots; thresholds only apply_prune_relabel, train_eval and the plots (never
    crossval_probs or find_issues); one dataset's training or data settings nothing of the other dataset."""
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


def test_exp_run_with_a_scalar_level_runs_that_level_as_the_list_form_would(custom, tmp_path):
    """`dvc exp run -S noise=0.3` as typed (the bridge) runs exactly the 0.3 stages and the plot; the list form
    `-S 'noise=[0.3]'` then finds every 0.3 stage up to date (same names, commands, deps and params) and its plot
    writes the same bytes. `dvc metrics diff` between the two grids' commits lists only the headline file, whose
    keys name no dataset or level."""
    project = copy_project(custom.project, tmp_path / "project")
    result = dvc(project, "exp", "run", "-S", "noise=0.3")
    assert sorted(stages_run(result.stdout)) == sorted(names("custom", [0.3], download=False))
    assert yaml.safe_load((project / "params.yaml").read_text())["noise"] == 0.3  # the scalar, as typed
    scalar = output_hashes(project)
    lock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]

    result = dvc(project, "exp", "run", "-S", "noise=[0.3]")
    assert stages_run(result.stdout) == ["plot@custom"]  # its params record `noise: [0.3]` instead of 0.3
    assert output_hashes(project) == scalar
    relock = yaml.safe_load((project / "dvc.lock").read_text())["stages"]
    assert {k: v for k, v in relock.items() if k != "plot@custom"} == {k: v for k, v in lock.items()
                                                                         if k != "plot@custom"}

    run(["git", "checkout", "-qb", "one-level"], project)
    commit(project, "noise 0.3 only")
    diff = json.loads(dvc(project, "metrics", "diff", "main", "--all", "--json").stdout)
    assert set(diff) == {"metrics/custom.json"}
    keys = set(diff["metrics/custom.json"])
    assert keys == set(json.loads((custom.project / "metrics/custom.json").read_text()))
    assert not any(word in key for key in keys for word in ("dataset", "noise", "level", "custom"))


def test_exp_run_temp_runs_the_changed_code(custom, tmp_path):
    """`dvc exp run --temp` after an uncommitted change to labelsweep/noise.py runs the changed module from DVC's
    temporary copy (the stage prints the path of the module it imported), not the workspace's nor the installed
    one; the rerun stages' outputs are unchanged, so nothing downstream runs."""
    project = copy_project(custom.project, tmp_path / "project")
    noise = project / "labelsweep" / "noise.py"
    noise.write_text(noise.read_text() + '\nprint("TEMP-RUN-MARKER", __file__, flush=True)\n')
    result = dvc(project, "exp", "run", "--temp")
    output = result.stdout + result.stderr
    imported = re.findall(r"TEMP-RUN-MARKER (\S+)", output)
    assert len(imported) == 2, output  # inject_noise at 0.0 and 0.2
    for path in map(Path, imported):
        assert path.name == "noise.py" and path.parent.name == "labelsweep"
        assert project / ".dvc" / "tmp" / "exps" in path.parents, path  # DVC's temporary checkout
    assert sorted(stages_run(result.stdout)) == sorted(names("custom", [0.0, 0.2], ["inject_noise"], False, False))
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
        repro = subprocess.Popen([str(BIN / "dvc"), "repro"], cwd=project, env=env, stdout=log,
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

    ran = stages_run(dvc(project, "repro").stdout)
    assert sorted(ran) == sorted(names("custom", [0.0, 0.2]) - finished)
    assert "train_eval@custom-0.2" in ran
    assert output_hashes(project) == custom.hashes  # byte-identical, every output
    assert not [p for p in project.rglob("*.tmp-*") if ".git" not in p.parts]
