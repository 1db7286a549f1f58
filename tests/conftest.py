"""Shared helpers: a valid params dict, and a copy of the project in a temporary git + DVC repo."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv running pytest: its python and dvc run the stages
PROJECT_FILES = ["dvc.yaml", "params.yaml", "pyproject.toml", "labelsweep", "stages"]


@pytest.fixture
def params() -> dict:
    return copy.deepcopy(yaml.safe_load((ROOT / "params.yaml").read_text()))


def stage_env(project: Path) -> dict:
    # The copy's own package, and the venv's python/dvc first on PATH (stages call `python`).
    return {**os.environ, "PYTHONPATH": str(project), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, cwd=cwd, env=stage_env(cwd), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def make_project(dest: Path, params: dict) -> Path:
    """Copy the project's code into `dest` as a fresh git + DVC repo whose params.yaml is `params`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (dest / ".gitignore").write_text("/data/\n__pycache__/\n")
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "config", "user.email", "test@example.com"], dest)
    run(["git", "config", "user.name", "test"], dest)
    run([str(BIN / "dvc"), "init", "-q"], dest)
    run([str(BIN / "dvc"), "config", "core.analytics", "false"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-qm", "project"], dest)
    return dest


def tiny_fashion_params(params: dict) -> dict:
    """A few thousand Fashion-MNIST samples, 2 noise levels, 2 thresholds, 2 folds, 1 epoch."""
    params = copy.deepcopy(params)
    params.update(datasets=["fashion_mnist"], noise=[0.0, 0.2], thresholds=[0.0, 1.0])
    params["cleanlab"]["folds"] = 2
    params["fashion_mnist"]["data"].update(train_subsample=2000, test_subsample=500)
    params["fashion_mnist"]["train"].update(epochs=1)
    return params


def dvc(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(BIN / "dvc"), *args], project, check=check)


def stages_run(output: str) -> list[str]:
    """Names of the stages a `dvc repro`/`dvc exp run` ran, from its output."""
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]
