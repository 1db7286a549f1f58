"""Shared helpers: a valid params dict, a copy of the code to run stages in, and a copy of the project in a
temporary git + DVC repo with everything the pipeline needs."""

from __future__ import annotations

import configparser
import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv running pytest: its python and dvc run the stages
CODE = ["labelsweep", "stages"]  # what `python -m stages.<name>` imports from the checkout it runs in
PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", "dvc_scalar_grid.py", ".dvcignore", ".gitignore", *CODE]
IGNORE = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.tmp-*")


@pytest.fixture
def params() -> dict:
    return copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text()))


def set_runs(workdir: Path, *run_args: str, study_at: list[float] | None = None) -> None:
    """Make `run_args` (as in ``--noise_kinds symmetric --regimes default --seeds 0``) the runs of every level in
    the checkout's params.yaml: the sweep's, and with `study_at` also the study's at those levels (with the sweep's
    thresholds and so every strategy); else no study."""
    runs: dict[str, list] = {}
    for token in run_args:
        if token.startswith("--") and not token[2:].isdigit():
            key = runs.setdefault(token[2:], [])
        else:
            key.append(int(token) if token.lstrip("-").isdigit() else token)
    settings = yaml.safe_load((workdir / "params.yaml").read_text())
    study = None if study_at is None else {"noise": study_at, **runs, "thresholds": settings["thresholds"]}
    settings.update(runs=runs, study=study)
    (workdir / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))


def stage_env(**extra: str) -> dict:
    """The environment stages and DVC run in: the venv's python/dvc first on PATH (stages call `python`).

    Nothing on PYTHONPATH: a stage must import the `labelsweep` of the checkout it runs in by itself
    (`python -m` from DVC's working directory), or a `dvc exp run --temp` would run the wrong code unseen.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DVC_SCALAR_GRID")}
    return {**env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "DVC_NO_ANALYTICS": "1", **extra}


def run(cmd: list[str], cwd: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=stage_env(**env), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def run_stage(name: str, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m stages.<name> ARGS` in `cwd`, as DVC runs it (`cwd` holds a copy of the code: see `checkout`)."""
    return run([str(BIN / "python"), "-m", f"stages.{name}", *args], cwd, check=False)


def checkout(dest: Path, params: dict | None = None, files: list[str] = CODE) -> Path:
    """Copy `files` of the project (default: the code the stages import) to `dest`, and `params` as params.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in files:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORE)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    if params is not None:
        (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return dest


def write_raw(raw: Path, images: np.ndarray, labels: np.ndarray, classes: list[str],
              test: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """A download-stage folder: train (and test, by default the same) images and labels, ids, class names."""
    raw.mkdir(parents=True)
    test_images, test_labels = test if test is not None else (images, labels)
    for name, array in [("train_images", images), ("train_labels", labels), ("test_images", test_images),
                        ("test_labels", test_labels)]:
        np.save(raw / f"{name}.npy", array)
    (raw / "train_ids.txt").write_text("".join(f"{i}\n" for i in range(len(labels))))
    (raw / "classes.json").write_text(json.dumps(classes))
    return raw


def dvc_plot_settings() -> dict[str, str]:
    """The `plots.*` settings of the project's .dvc/config (e.g. html_template), as `dvc config` keys."""
    config = configparser.ConfigParser(strict=False, interpolation=None)
    config.read(ROOT / ".dvc" / "config")
    return {f"plots.{key}": value for key, value in config["plots"].items()} if config.has_section("plots") else {}


def make_project(dest: Path, params: dict) -> Path:
    """Copy the project into `dest` as a fresh git + DVC repo whose params.yaml is `params`, committed.

    Everything `dvc repro` needs comes along: dvc.yaml, the code, the DVC bridge (dvc_scalar_grid.py), the
    ignore files, and the plot templates (.dvc/plots) with the plot settings of .dvc/config, if any.
    """
    checkout(dest, params, PROJECT_FILES)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "test@example.com"], dest)
    run(["git", "config", "user.name", "test"], dest)
    run([str(BIN / "dvc"), "init", "-q"], dest)
    run([str(BIN / "dvc"), "config", "core.analytics", "false"], dest)
    if (ROOT / ".dvc" / "plots").is_dir():
        shutil.copytree(ROOT / ".dvc" / "plots", dest / ".dvc" / "plots", ignore=IGNORE)
    for key, value in dvc_plot_settings().items():
        run([str(BIN / "dvc"), "config", key, value], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "project"], dest)
    return dest


def copy_project(src: Path, dest: Path) -> Path:
    """A copy of a git + DVC project (workspace, git history, DVC cache), to change without touching `src`."""
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns("tmp"))  # .dvc/tmp: per-repo state
    return dest


# The runs of the tiny sweeps: both noise kinds, the dataset's own training and a `small` regime, one seed.
TINY_RUNS = {"noise_kinds": ["symmetric", "class_conditional"], "regimes": ["default", "small"], "seeds": [0]}


def tiny_study() -> dict:
    """The tiny sweeps' study: the same runs and thresholds at both levels, so that every run is in both grids and
    trains the baseline, the thresholds and every strategy."""
    return {"noise": [0.0, 0.2], **copy.deepcopy(TINY_RUNS), "thresholds": [0.0, 1.0]}


def tiny_fashion_params(params: dict) -> dict:
    """A few thousand Fashion-MNIST samples, 2 noise levels, 2 thresholds, 2 folds, 1 epoch; runs: both noise
    kinds, one seed, the default regime only (`small` is set to null: Fashion-MNIST does not run it)."""
    params = copy.deepcopy(params)
    params.update(datasets=["fashion_mnist"], noise=[0.0, 0.2], thresholds=[0.0, 1.0], runs=copy.deepcopy(TINY_RUNS),
                  study=tiny_study())
    params["cleanlab"]["folds"] = 2
    params["fashion_mnist"]["data"].update(train_subsample=2000, test_subsample=500)
    params["fashion_mnist"]["train"].update(epochs=1)
    params["fashion_mnist"]["regimes"] = {"small": None}
    return params


# The generated image folder's classes (tests/test_pipeline.py) and the class a class_conditional flip gives each.
TINY_CONFUSABLE = {"one": "two", "two": "three", "three": "one"}


def tiny_custom_params(params: dict, images: Path) -> dict:
    """The `custom` image-folder dataset at `images`, 2 noise levels, 2 thresholds, 2 folds, a small CNN; runs:
    both noise kinds, one seed, the default regime and `small` (a stratified 24-sample subsample, 3 epochs)."""
    params = copy.deepcopy(params)
    params.update(datasets=["custom"], noise=[0.0, 0.2], thresholds=[0.0, 1.0], runs=copy.deepcopy(TINY_RUNS),
                  study=tiny_study())
    params["cleanlab"]["folds"] = 2
    params["custom"]["data"].update(path=str(images), image_size=12, test_share=0.25)
    params["custom"]["train"].update(epochs=5, width=4, batch_size=8)
    params["custom"]["regimes"] = {"small": {"train_size": 24, "epochs": 3}}
    params["custom"]["confusable"] = dict(TINY_CONFUSABLE)
    params["early_stopping"]["holdout"] = 0.25  # `small` trains on 24 samples: 6 held out, at least one per class
    return params


def dvc(project: Path, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    return run([str(BIN / "dvc"), *args], project, check=check, **env)


# Runs on every `dvc repro` (always_changed: it checks the whole params.yaml and links the image folders) and writes
# the same file each time; tests/test_data_trust.py tests it, the other tests count the stages a change reruns.
CHECK_STAGE = "check_inputs"


def stages_run(output: str) -> list[str]:
    """Names of the stages a `dvc repro`/`dvc exp run` ran, from its output (but check_inputs, which always runs)."""
    return [name for line in output.splitlines() if line.startswith("Running stage '")
            and (name := line.split("'")[1]) != CHECK_STAGE]


# The stages up to train_eval: every stage but plot, which the tests of its outputs run on their own. `dvc repro
# UPTO` reproduces them (a matrix stage's name targets all of its entries, and DVC adds what they depend on).
UPTO = "train_eval"


def is_plot(stage: str) -> bool:
    return stage.split("@")[0] == "plot"


def save_runs(folder: Path, labels: np.ndarray, flipped: np.ndarray, runs: list[tuple], study: bool = False) -> Path:
    """An inject_noise folder written by hand: labels and flipped masks (one row per run), and runs.csv (each run
    (noise kind, regime, seed) one of the sweep's, and with `study` also one of the study's)."""
    folder.mkdir(parents=True)
    np.save(folder / "labels.npy", np.atleast_2d(labels).astype(np.int64))
    np.save(folder / "flipped.npy", np.atleast_2d(flipped).astype(bool))
    (folder / "runs.csv").write_text("noise_kind,regime,seed,sweep,study\n"
                                     + "".join(f"{k},{r},{s},True,{study}\n" for k, r, s in runs))
    return folder


def training_cells(given: np.ndarray, original: np.ndarray, flipped: np.ndarray, flagged: np.ndarray,
                   quality: np.ndarray, suggested: np.ndarray, suggested_prob: np.ndarray, thresholds: list[float],
                   chosen: list[str], confident_min: float, rng: np.random.Generator
                   ) -> list[tuple[str, float, np.ndarray]]:
    """labelsweep.strategies.training_cells of the arrays a test holds, as (strategy, prune_share, labels) rows
    (prune_share NaN where the strategy takes none): the columns of cells.csv."""
    from labelsweep import strategies

    evidence = strategies.Evidence(given, original, flipped, flagged, quality, suggested, suggested_prob,
                                   confident_min, rng)
    return [(cell.strategy, cell.prune_share, labels)
            for cell, labels in strategies.training_cells(evidence, list(thresholds), list(chosen))]
