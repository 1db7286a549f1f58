"""One dataset's study as tables: every cell's accuracy, means and spreads over the seeds with their 95 % t-intervals,
paired differences, and the few headline numbers DVC shows as its metrics.

A *cell* is one training set of a run (labelsweep.strategies.Cell): the baseline (the noisy labels), the
prune/relabel threshold grid, and the strategies and controls (params.yaml `strategies`); the tables key it as
``<strategy>@<share>`` (:attr:`~labelsweep.strategies.Cell.key`). Results are summarised per *condition* -- noise
level x noise kind x regime -- over its seeds; a difference between two cells is taken within each seed first (both
were trained from the same weights on the same batches, with the same noise), then summarised: mean, sd and the 95 %
t-interval of the mean over the seeds (:func:`t_interval`). A difference counts as one only where that interval
excludes 0 (``excludes_zero``); with one seed there is no interval and no difference is claimed. `dvc exp show` and
`dvc metrics diff` get only :func:`headline`: means over every condition and seed, the same keys whatever the grid.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats

from labelsweep.artifacts import accuracy_csv, detection_json
from labelsweep.strategies import (
    BASELINE,
    CONFIDENT_RELABEL,
    KEEP_REST,
    PERFECT_DETECTION,
    PRUNE_ALL,
    PRUNE_RELABEL,
    RANDOM_REMOVAL,
    RELABEL_ALL,
    STRATEGIES,
    TRUE_LABELS,
    Cell,
    in_reading_order,
)

# How figures and tables name the datasets; any other dataset goes by its key in params.yaml.
TITLES = {"fashion_mnist": "Fashion-MNIST", "roman": "Roman numerals"}
CONDITION = ["noise_level", "noise_kind", "regime"]
# The original study's published numbers (single runs, read off its plots): Fashion-MNIST's test accuracy at
# 0 %, 30 % and 45 % symmetric noise (noise level -> accuracy), of the baseline and of pruning every flagged sample.
ORIGINAL = {"fashion_mnist": {Cell(BASELINE): {0.0: 0.886, 0.3: 0.781, 0.45: 0.659},
                              PRUNE_ALL: {0.0: 0.887, 0.3: 0.862, 0.45: 0.836}}}
# The seed's sweep's lines: the cells beside which the original study's points are drawn.
LINES = {cell.key: cell.label for cell in (Cell(BASELINE), PRUNE_ALL, RELABEL_ALL)}
PUBLISHED = "original study: "  # the published points' series starts so
CONFIDENCE = 0.95  # of every interval the tables, figures and claims give
# (name, minuend, subtrahend): the paired differences the reading (docs/results.md) rests on.
COMPARISONS: list[tuple[str, Cell, Cell]] = [
    ("cleanlab (prune all) − baseline", PRUNE_ALL, Cell(BASELINE)),
    ("prune all − relabel all", PRUNE_ALL, RELABEL_ALL),
    ("cleanlab (prune all) − random removal", PRUNE_ALL, Cell(RANDOM_REMOVAL)),
    ("perfect detection − cleanlab (prune all)", Cell(PERFECT_DETECTION), PRUNE_ALL),
    ("true labels − cleanlab (prune all)", Cell(TRUE_LABELS), PRUNE_ALL),
    ("prune half, keep rest − prune half, relabel rest", Cell(KEEP_REST, 0.5), Cell(PRUNE_RELABEL, 0.5)),
    ("confident relabel − prune all", Cell(CONFIDENT_RELABEL), PRUNE_ALL),
]
# The least-squares slope of accuracy over the prune/relabel grid's shares (0: relabel all, 1: prune all), per
# seed: "relabelling hurts in proportion to its share" predicts a slope above 0. Given where the grid has at
# least four shares (over 0, 1/2, 1 the least-squares slope is prune all − relabel all again).
SLOPE = "slope over the share pruned (rest relabelled)"


def cell_label(key: str) -> str:
    """How figures and tables name the cell of a table key (a strategy no longer registered: by its key)."""
    cell = Cell.parse(key)
    return cell.label if cell.strategy in STRATEGIES else key


def shares(wide: pd.DataFrame, strategy: str) -> dict[float, str]:
    """The share -> column key of `strategy`'s cells among `wide`'s columns (table keys)."""
    return {cell.share: key for key in wide for cell in [Cell.parse(key)] if cell.strategy == strategy}


def _require(paths: list[Path]) -> None:
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]} is missing: run the stages before plot (dvc repro)")


def read_accuracy(results: str | Path, levels: list[float]) -> pd.DataFrame:
    """Every cell's test accuracy at `levels`: one row per (noise_level, noise_kind, regime, seed, cell)."""
    paths = [accuracy_csv(results, level) for level in levels]
    _require(paths)
    table = pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)
    return table.assign(cell=[Cell.of(s, t).key for s, t in zip(table.strategy, table.prune_share)])


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


def t_interval(mean: ArrayLike, sd: ArrayLike, n: ArrayLike, confidence: float = CONFIDENCE
               ) -> tuple[np.ndarray, np.ndarray]:
    """The `confidence` t-interval of a mean over n seeds: mean ± t(n-1) · sd / sqrt(n), elementwise.

    Seeds are the replicates (a difference is taken within a seed first), so the interval says where the mean
    over seeds would lie; NaN where n < 2 (no spread, so no interval). It does not hold the test set's own
    sampling error, which every seed shares."""
    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        half = scipy_stats.t.ppf(0.5 + confidence / 2, np.where(n >= 2, n - 1, np.nan)) * sd / np.sqrt(n)
    return mean - half, mean + half


def t_test_p(mean: ArrayLike, sd: ArrayLike, n: ArrayLike) -> np.ndarray:
    """Two-sided one-sample t-test p-value of mean = 0 (the test the interval inverts); NaN where n < 2; 0 where
    every seed gives the same non-zero value, 1 where they are all 0."""
    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.abs(mean) * np.sqrt(n) / sd
        t = np.where((sd == 0) & (mean == 0), 0.0, t)
        return np.where(n >= 2, 2 * scipy_stats.t.sf(t, np.where(n >= 2, n - 1, 1)), np.nan)


def excludes_zero(low: ArrayLike, high: ArrayLike) -> np.ndarray:
    """Whether an interval lies wholly above or wholly below 0 (False where there is no interval)."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    return (low > 0) | (high < 0)


def with_interval(table: pd.DataFrame, prefix: str = "") -> pd.DataFrame:
    """`table` with ``<prefix>ci_low`` and ``<prefix>ci_high``: the t-interval of its ``<prefix>mean`` (or the
    bare `prefix` column) from ``<prefix>sd`` and ``n``."""
    mean = table[f"{prefix}mean"] if f"{prefix}mean" in table else table[prefix.rstrip("_")]
    low, high = t_interval(mean, table[f"{prefix}sd"], table["n"])
    return table.assign(**{f"{prefix}ci_low": low, f"{prefix}ci_high": high})


def ensure_intervals(table: pd.DataFrame, prefixes: tuple[str, ...] = ("",)) -> pd.DataFrame:
    """`table` (results.csv, differences.csv or detection.csv as read back) with the intervals of
    :func:`with_interval` for each prefix, computed from its mean, sd and n where the table lacks them (tables
    written before the intervals were), and ``excludes_zero`` where it has ``ci_low``."""
    for prefix in prefixes:
        if f"{prefix}ci_low" not in table:
            table = with_interval(table, prefix)
    if "ci_low" in table and "excludes_zero" not in table:
        table = table.assign(excludes_zero=excludes_zero(table.ci_low, table.ci_high))
    return table


def spread(values: pd.DataFrame | pd.Series, by: list[str]) -> pd.DataFrame:
    """Mean, standard deviation (ddof 1; NaN for one seed), min, max, n and the 95 % t-interval of the mean
    (ci_low, ci_high; NaN for one seed) of `values` per `by` group."""
    stats = values.groupby(level=by, sort=False).agg(["mean", "std", "min", "max", "count"])
    return with_interval(stats.rename(columns={"std": "sd", "count": "n"}))


def cells(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Every cell's accuracy per condition over the seeds: condition, cell, label, mean, sd, min, max, n, ci_low,
    ci_high."""
    long = per_seed(accuracy).stack().rename("test_accuracy").reset_index()
    stats = spread(long.set_index([*CONDITION, "cell"]).test_accuracy, [*CONDITION, "cell"]).reset_index()
    return stats.assign(label=stats.cell.map(cell_label))


def memorisation(accuracy: pd.DataFrame) -> pd.DataFrame:
    """How much each cell's model fits the wrong labels it trained on: the share of them it reproduces at the end
    of training (train_eval's ``memorised`` / ``wrong_labels``), per condition and cell over the seeds, with the
    columns of :func:`spread`. Cells without wrong labels, and results from before train_eval counted them, are
    left out (an empty table)."""
    columns = [*CONDITION, "cell", "label", "mean", "sd", "min", "max", "n", "ci_low", "ci_high"]
    if "memorised" not in accuracy:
        return pd.DataFrame(columns=columns)
    rows = accuracy[accuracy.wrong_labels > 0]
    share = (rows.memorised / rows.wrong_labels).rename("memorised_share")
    stats = spread(pd.concat([rows[[*CONDITION, "cell"]], share], axis=1).set_index([*CONDITION, "cell"])
                   .memorised_share, [*CONDITION, "cell"]).reset_index()
    return stats.assign(label=stats.cell.map(cell_label))[columns]


def share_slope(wide: pd.DataFrame) -> pd.Series | None:
    """Per condition and seed, the least-squares slope of accuracy over the prune/relabel shares (accuracy
    change from relabelling all to pruning all, on a straight line); None where the grid has < 4 shares."""
    grid = shares(wide, PRUNE_RELABEL)
    if len(grid) < 4:
        return None
    points = np.array(sorted(grid))
    values = wide[[grid[t] for t in points]].to_numpy()
    centred = points - points.mean()
    slope = (values - values.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    return pd.Series(slope, index=wide.index)


def differences(accuracy: pd.DataFrame) -> pd.DataFrame:
    """The paired differences of :data:`COMPARISONS` (and the :data:`SLOPE`) that the grid has, per condition
    over the seeds: mean, sd, min, max, n, the seeds in which it is above 0, its 95 % t-interval and whether
    that interval excludes 0."""
    wide = per_seed(accuracy)
    paired = {name: wide[minuend.key] - wide[subtrahend.key] for name, minuend, subtrahend in COMPARISONS
              if minuend.key in wide and subtrahend.key in wide}
    slope = share_slope(wide)
    if slope is not None:
        paired[SLOPE] = slope
    parts = [spread(values, CONDITION).reset_index().assign(
        comparison=name, above_zero=(values > 0).groupby(level=CONDITION, sort=False).sum().to_numpy())
        for name, values in paired.items()]
    columns = [*CONDITION, "comparison", "mean", "sd", "min", "max", "n", "above_zero", "ci_low", "ci_high",
               "excludes_zero"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True)
    return table.assign(excludes_zero=excludes_zero(table.ci_low, table.ci_high))[columns]


# The detection numbers whose sd over the seeds detection.csv gives (as <number>_sd), for their intervals.
DETECTION_SPREAD = ["flagged_minus_injected", "precision", "recall", "f1", "suggested_right",
                    "wrong_after_relabel_all", "wrong_after_prune_all"]


def detection_summary(detection: pd.DataFrame) -> pd.DataFrame:
    """cleanlab's detection per condition: means over the seeds, and the sd of :data:`DETECTION_SPREAD`
    (from which the report and the claims take their 95 % intervals, :func:`with_interval`)."""
    numbers = ["injected", "flagged", "flagged_minus_injected", "true_positives", "precision", "recall", "f1",
               "auroc", "suggested_right", "wrong_given", "wrong_after_relabel_all", "wrong_after_prune_all"]
    grouped = detection.astype({key: float for key in numbers}).groupby(CONDITION, sort=False)
    means = grouped[numbers].mean()
    sds = grouped[DETECTION_SPREAD].std().add_suffix("_sd")
    return pd.concat([means, sds, grouped.size().rename("n")], axis=1).reset_index()


def filter_scores(detection: pd.DataFrame, configured: str) -> pd.DataFrame:
    """Every cleanlab filter_by's precision, recall and F1 against the injected flips per condition over the
    seeds (value = mean, sd, n, 95 % interval), and its paired difference from the `configured` filter_by
    within each seed (vs_configured_mean, _ci_low, _ci_high): which filter detects best, with its interval.
    Levels with nothing injected are left out: against an empty truth every flag counts as wrong."""
    rows = [{**{key: record[key] for key in (*CONDITION, "seed")}, "filter_by": method, "measure": measure,
             "value": np.nan if scores[measure] is None else scores[measure]}
            for record in detection[detection.injected > 0].to_dict("records")
            for method, scores in record["by_filter"].items() for measure in ("precision", "recall", "f1")]
    columns = [*CONDITION, "filter_by", "measure", "value", "sd", "n", "ci_low", "ci_high", "vs_configured_mean",
               "vs_configured_ci_low", "vs_configured_ci_high"]
    if not rows:
        return pd.DataFrame(columns=columns)
    long = pd.DataFrame(rows).set_index([*CONDITION, "seed", "measure", "filter_by"]).value
    paired = long - long.xs(configured, level="filter_by").reindex(long.droplevel("filter_by").index).to_numpy()
    by = [*CONDITION, "filter_by", "measure"]
    scores = spread(long, by).rename(columns={"mean": "value"})
    versus = spread(paired, by)[["mean", "ci_low", "ci_high"]].add_prefix("vs_configured_")
    return pd.concat([scores, versus], axis=1).reset_index()[columns]


def headline(accuracy: pd.DataFrame, detection: pd.DataFrame) -> dict[str, float | None]:
    """The dataset's headline metrics: means over every condition and seed of the grid (None where the grid
    lacks the cell), one per strategy (a shared one: the mean over its shares strictly between 0 and 1; the
    prune/relabel grid: its ends, prune all and relabel all), and cleanlab's detection."""
    wide = per_seed(accuracy)

    def mean(columns: list[str]) -> float | None:
        present = [c for c in columns if c in wide]
        return round(float(wide[present].to_numpy().mean()), 4) if present else None

    noisy = detection[detection.injected > 0]

    def detected(key: str) -> float | None:
        value = noisy[key].astype(float).mean() if len(noisy) else math.nan
        return None if math.isnan(value) else round(float(value), 4)

    means: dict[str, float | None] = {}
    for strategy in in_reading_order():
        if strategy.name == PRUNE_RELABEL:
            means.update(prune_all=mean([PRUNE_ALL.key]), relabel_all=mean([RELABEL_ALL.key]))
        elif strategy.shared:
            means[strategy.name] = mean([key for share, key in shares(wide, strategy.name).items() if 0 < share < 1])
        else:
            means[strategy.name] = mean([Cell(strategy.name).key])
    return {**means, "detection_precision": detected("precision"), "detection_recall": detected("recall")}
