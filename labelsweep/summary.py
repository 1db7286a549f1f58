"""One dataset's sweep as tables, and the few headline numbers DVC shows as its metrics.

The per-cell results (one row per trained model, one detection record per noise level) are plot data;
`dvc exp show` and `dvc metrics diff` get only :func:`headline`: means over the grid's noise levels,
the same keys whatever the grid, so experiments with different grids stay comparable column by column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from labelsweep.artifacts import accuracy_csv, detection_json

# How figures and tables name the datasets; any other dataset goes by its key in params.yaml.
TITLES = {"fashion_mnist": "Fashion-MNIST", "roman": "Roman numerals"}


def read_accuracy(results: str | Path, levels: list[float]) -> pd.DataFrame:
    """Every model's test accuracy at `levels`: one row per (noise_level, strategy, prune_share)."""
    paths = [accuracy_csv(results, level) for level in levels]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing: run the stages before plot (dvc repro)")
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def read_detection(results: str | Path, levels: list[float]) -> pd.DataFrame:
    """cleanlab's detection against the injected flips: one row per noise level."""
    paths = [detection_json(results, level) for level in levels]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing: run the stages before plot (dvc repro)")
    return pd.DataFrame([json.loads(p.read_text()) for p in paths])


def by_share(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Test accuracy as a noise level x prune share table, with the baseline as its first column."""
    cells = accuracy[accuracy.strategy == "prune_relabel"].pivot(index="noise_level", columns="prune_share",
                                                                 values="test_accuracy")
    baseline = accuracy[accuracy.strategy == "baseline"].set_index("noise_level").test_accuracy
    return pd.concat([baseline.rename("baseline"), cells], axis=1).sort_index()


def headline(accuracy: pd.DataFrame, detection: pd.DataFrame) -> dict[str, float]:
    """The dataset's headline metrics, each a mean over the grid's noise levels.

    `prune_all` / `relabel_all` are the threshold cells 1.0 / 0.0 (None when the grid lacks them);
    gains are paired within a level before averaging.
    """
    table = by_share(accuracy)
    cells = table.drop(columns="baseline")

    def mean(series: pd.Series | None) -> float | None:
        return None if series is None or series.isna().all() else round(float(series.mean()), 4)

    prune_all, relabel_all = cells.get(1.0), cells.get(0.0)
    return {
        "baseline": mean(table.baseline),
        "prune_all": mean(prune_all),
        "relabel_all": mean(relabel_all),
        "best_share": mean(cells.max(axis=1)),
        "prune_all_gain": mean(None if prune_all is None else prune_all - table.baseline),
        "prune_minus_relabel": mean(None if prune_all is None or relabel_all is None else prune_all - relabel_all),
        "detection_precision": mean(detection.precision.astype(float)),
        "detection_recall": mean(detection.recall.astype(float)),
    }
