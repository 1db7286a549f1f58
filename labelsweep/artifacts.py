"""Writing stage outputs so that DVC never sees a half-written one.

Every output is written under a temporary name next to its final path and renamed into place
(``os.replace`` is atomic on one file system). A stage killed midway therefore leaves at most a
``*.tmp-*`` leftover, never a file or folder that looks finished, and the next ``dvc repro`` reruns it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported by the stages that write tables, not by every stage
    import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write `path` (a file or a folder) to; rename it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{glob.escape(path.name)}.tmp-*"):  # left by a killed run
        _remove(stale)
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        _remove(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def save_npy(path: str | Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def save_json(path: str | Path, data: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def save_arrays(folder: str | Path, arrays: dict[str, np.ndarray], extra: dict[str, str] | None = None) -> None:
    """Write a folder of ``<name>.npy`` files (plus text files in `extra`) as one atomic output."""
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for name, array in arrays.items():
            with open(tmp / f"{name}.npy", "wb") as f:
                np.save(f, array)
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text)


def load_arrays(folder: str | Path, *names: str) -> list[np.ndarray]:
    folder = Path(folder)
    return [np.load(folder / f"{name}.npy") for name in names]


def load_classes(raw: str | Path) -> list[str]:
    """Class names written by the download stage (their order is the label order)."""
    return json.loads((Path(raw) / "classes.json").read_text())


def save_csv(path: str | Path, table: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")


def level_name(noise_level: float) -> str:
    """How dvc.yaml names a noise level's files and folders (`noise_${item.noise}`: DVC writes the float as Python
    does)."""
    return f"noise_{noise_level}"


def percent(share: Any) -> Any:
    """A noise level or share (0-1, a number or a pandas Series) in percent, rounded to 6 decimals: the tables'
    ``*_percent`` columns."""
    return (100 * share).round(6) if hasattr(share, "round") else round(100 * float(share), 6)


def accuracy_csv(results: str | Path, noise_level: float) -> Path:
    """A level's train_eval table under a dataset's metrics folder, as dvc.yaml names it."""
    return Path(results) / "accuracy" / f"{level_name(noise_level)}.csv"


def detection_json(results: str | Path, noise_level: float) -> Path:
    """A level's detection-quality file under a dataset's metrics folder, as dvc.yaml names it."""
    return Path(results) / "detection" / f"{level_name(noise_level)}.json"


def predictions_npy(results: str | Path, noise_level: float) -> Path:
    """A level's test-set predictions (train_eval: one row per row of its accuracy table), as dvc.yaml names them."""
    return Path(results) / "predictions" / f"{level_name(noise_level)}.npy"
