"""One dataset's study as tables: every cell's accuracy, means and spreads over the seeds, paired differences,
and the few headline numbers DVC shows as its metrics.

A *cell* is one training set of a run: the baseline (the noisy labels), the prune/relabel threshold grid,
and the strategies and controls (params.yaml `strategies`); its key is the strategy, with ``@<share>`` for
the threshold cells (``prune_relabel@1`` prunes every flagged sample, ``prune_relabel@0`` relabels them
all). Results are summarised per *condition* -- noise level x noise kind x regime -- over its seeds; a
difference between two cells is taken within each seed first (both were trained from the same weights on
the same batches, with the same noise), then summarised. `dvc exp show` and `dvc metrics diff` get only
:func:`headline`: means over every condition and seed, the same keys whatever the grid.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from labelsweep.artifacts import accuracy_csv, detection_json

# How figures and tables name the datasets; any other dataset goes by its key in params.yaml.
TITLES = {"fashion_mnist": "Fashion-MNIST", "roman": "Roman numerals"}
CONDITION = ["noise_level", "noise_kind", "regime"]
PRUNE_ALL, RELABEL_ALL = "prune_relabel@1", "prune_relabel@0"
# (name, minuend, subtrahend): the paired differences the reading (docs/results.md) rests on.
COMPARISONS = [
    ("cleanlab (prune all) − baseline", PRUNE_ALL, "baseline"),
    ("prune all − relabel all", PRUNE_ALL, RELABEL_ALL),
    ("cleanlab (prune all) − random removal", PRUNE_ALL, "random_removal"),
    ("perfect detection − cleanlab (prune all)", "perfect_detection", PRUNE_ALL),
    ("true labels − cleanlab (prune all)", "true_labels", PRUNE_ALL),
    ("prune half, keep rest − prune half, relabel rest", "keep_rest@0.5", "prune_relabel@0.5"),
    ("confident relabel − prune all", "confident_relabel", PRUNE_ALL),
]


def cell_key(strategy: str, prune_share: float) -> str:
    return strategy if prune_share != prune_share else f"{strategy}@{prune_share:g}"  # NaN: not a threshold cell


def cell_label(cell: str) -> str:
    """How figures and tables name a cell."""
    strategy, _, share = cell.partition("@")
    if strategy == "prune_relabel":
        t = float(share)
        return {1.0: "cleanlab: prune all flagged", 0.0: "cleanlab: relabel all flagged"}.get(
            t, f"cleanlab: prune {100 * t:g} %, relabel the rest")
    if strategy == "keep_rest":
        return f"cleanlab: prune {100 * float(share):g} %, keep the rest"
    return {"baseline": "baseline (noisy labels)", "perfect_detection": "control: prune exactly the flips",
            "random_removal": "control: prune as many at random", "true_labels": "control: true labels",
            "confident_relabel": "cleanlab: relabel if p ≥ min, prune the rest"}.get(strategy, strategy)


def _require(paths: list[Path]) -> None:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing: run the stages before plot (dvc repro)")


def read_accuracy(results: str | Path, levels: list[float]) -> pd.DataFrame:
    """Every cell's test accuracy at `levels`: one row per (noise_level, noise_kind, regime, seed, cell)."""
    paths = [accuracy_csv(results, level) for level in levels]
    _require(paths)
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    return table.assign(cell=[cell_key(s, t) for s, t in zip(table.strategy, table.prune_share)])


def read_detection(results: str | Path, levels: list[float]) -> pd.DataFrame:
    """cleanlab's detection against the injected flips: one row per (noise_level, run)."""
    paths = [detection_json(results, level) for level in levels]
    _require(paths)
    records = [json.loads(p.read_text()) for p in paths]
    return pd.DataFrame([{"noise_level": record["noise_level"], **run} for record in records
                         for run in record["runs"]])


def per_seed(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Accuracy as condition x seed rows and one column per cell (in the order the cells come)."""
    return accuracy.pivot_table(index=[*CONDITION, "seed"], columns="cell", values="test_accuracy",
                                sort=False)[accuracy.cell.unique()]


def spread(values: pd.DataFrame | pd.Series, by: list[str]) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1; NaN for one seed), min, max and n of `values` per `by` group."""
    stats = values.groupby(level=by, sort=False).agg(["mean", "std", "min", "max", "count"])
    return stats.rename(columns={"std": "sd", "count": "n"})


def cells(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Every cell's accuracy per condition over the seeds: condition, cell, label, mean, sd, min, max, n."""
    long = per_seed(accuracy).stack().rename("test_accuracy").reset_index()
    stats = spread(long.set_index([*CONDITION, "cell"]).test_accuracy, [*CONDITION, "cell"]).reset_index()
    return stats.assign(label=stats.cell.map(cell_label))


def differences(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The paired differences of :data:`COMPARISONS` that the grid has, per condition over the seeds."""
    wide = per_seed(accuracy)
    parts = []
    for name, minuend, subtrahend in COMPARISONS:
        if minuend in wide and subtrahend in wide:
            paired = (wide[minuend] - wide[subtrahend]).rename("difference")
            stats = spread(paired, CONDITION).reset_index()
            parts.append(stats.assign(comparison=name, above_zero=(paired > 0).groupby(level=CONDITION,
                                                                                        sort=False).sum().to_numpy()))
    columns = [*CONDITION, "comparison", "mean", "sd", "min", "max", "n", "above_zero"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def detection_summary(detection: pd.DataFrame) -> pd.DataFrame:
    """cleanlab's detection per condition: means over the seeds (and sd of precision and recall)."""
    numbers = ["injected", "flagged", "flagged_minus_injected", "true_positives", "precision", "recall", "f1",
               "auroc", "suggested_right", "wrong_given", "wrong_after_relabel_all", "wrong_after_prune_all"]
    grouped = detection.astype({key: float for key in numbers}).groupby(CONDITION, sort=False)
    means = grouped[numbers].mean()
    sds = grouped[["precision", "recall"]].std().add_suffix("_sd")
    return pd.concat([means, sds, grouped.size().rename("n")], axis=1).reset_index()


def headline(accuracy: pd.DataFrame, detection: pd.DataFrame) -> dict[str, float | None]:
    """The dataset's headline metrics: means over every condition and seed of the grid (None where the grid
    lacks the cell). `keep_rest` is the mean over the threshold grid's shares strictly between 0 and 1."""
    wide = per_seed(accuracy)

    def mean(columns: list[str]) -> float | None:
        present = [c for c in columns if c in wide]
        return round(float(wide[present].to_numpy().mean()), 4) if present else None

    interior = [c for c in wide if c.startswith("keep_rest@") and 0 < float(c.partition("@")[2]) < 1]
    noisy = detection[detection.injected > 0]

    def detected(key: str) -> float | None:
        value = noisy[key].astype(float).mean() if len(noisy) else math.nan
        return None if value != value else round(float(value), 4)

    return {
        "baseline": mean(["baseline"]),
        "prune_all": mean([PRUNE_ALL]),
        "relabel_all": mean([RELABEL_ALL]),
        "keep_rest": mean(interior),
        "confident_relabel": mean(["confident_relabel"]),
        "random_removal": mean(["random_removal"]),
        "perfect_detection": mean(["perfect_detection"]),
        "true_labels": mean(["true_labels"]),
        "detection_precision": detected("precision"),
        "detection_recall": detected("recall"),
    }
