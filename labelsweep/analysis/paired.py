"""Paired differences from the per-image correctness of every cell (train_eval's test-set predictions), with the
intervals of labelsweep.analysis.intervals: the seed-to-seed spread *and* the test set's own sampling error
(issue 29), a p-value each, and Holm's correction over the dataset's comparisons. The plot stage writes the table as
plots/<dataset>/paired.csv; the claims blocks of labelsweep.analysis.paired_claims and judged read it.

A comparison is a *contrast* of cells -- cell key -> weight -- taken per seed and test image and averaged:
``A − B`` is {A: 1, B: −1}; the slope over the prune/relabel shares (summary.SLOPE) is the least-squares weights
of the shares. The comparisons are summary.COMPARISONS, each robust-training alternative of the strategy registry
(a record with `training` settings: issue 28) against the baseline and against cleanlab's prune-all, and the slope.
Rows with one seed keep their test-set-only interval (the seed spread is unknown) but are left out of Holm's family
and claim nothing (``holm_rejects`` False).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts
from labelsweep.analysis.intervals import holm_adjusted, paired_difference
from labelsweep.analysis.summary import COMPARISONS, CONDITION, CONFIDENCE, SLOPE, shares
from labelsweep.errors import DataError
from labelsweep.strategies import BASELINE, PRUNE_ALL, PRUNE_RELABEL, STRATEGIES, Cell

COLUMNS = [*CONDITION, "comparison", "mean", "ci_low", "ci_high", "se", "df", "p", "seed_sd", "image_se", "n",
           "n_images", "excludes_zero", "p_holm", "holm_rejects"]
PRUNE_ALL_NAME = "cleanlab (prune all)"  # how the comparisons name cleanlab's prune-all (summary.COMPARISONS')
VERSUS_BASELINE, VERSUS_PRUNE_ALL = "{} − baseline", "{} − " + PRUNE_ALL_NAME


def alternatives() -> list[Cell]:
    """The registry's robust-training alternatives (issue 28): the strategies whose record carries `training`
    settings of its own (a loss, early stopping), in registry order."""
    return [Cell(s.name) for s in STRATEGIES.values() if s.training and not s.shared]


def comparisons() -> list[tuple[str, Cell, Cell]]:
    """summary.COMPARISONS and every alternative against the baseline and against cleanlab's prune-all."""
    robust = [(form.format(cell.header), cell, other) for cell in alternatives()
              for form, other in ((VERSUS_BASELINE, Cell(BASELINE)), (VERSUS_PRUNE_ALL, PRUNE_ALL))]
    return [*COMPARISONS, *robust]


def contrasts(keys: list[str]) -> list[tuple[str, dict[str, float]]]:
    """The comparisons whose cells are among `keys` (one condition's cell keys) as contrasts, and the slope over
    the prune/relabel shares where there are at least four (summary.share_slope's rule)."""
    found = [(name, {a.key: 1.0, b.key: -1.0}) for name, a, b in comparisons() if a.key in keys and b.key in keys]
    grid = shares(keys, PRUNE_RELABEL)
    if len(grid) >= 4:
        points = np.array(sorted(grid))
        centred = points - points.mean()
        found.append((SLOPE, {grid[t]: w for t, w in zip(points, centred / (centred @ centred))}))
    return found


def read_correct(results: str | Path, raw: str | Path, levels: list[float], rows: int) -> np.ndarray:
    """Per row of the accuracy tables of `levels` (read in that order: summary.read_accuracy), whether its model
    got each test image right: bool, rows x test images."""
    truth = np.load(Path(raw) / "test_labels.npy")
    paths = [artifacts.predictions_npy(results, level) for level in levels]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DataError(f"{missing[0]} is missing: run train_eval before plot (dvc repro)")
    correct = np.concatenate([np.load(p) == truth for p in paths])
    if len(correct) != rows:
        raise DataError(f"{Path(results) / 'predictions'}: {len(correct)} rows of predictions for {rows} rows of "
                        "accuracy (rerun train_eval: dvc repro)")
    return correct


def contrast(correct: np.ndarray, positions: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """Seeds x images: the contrast's weighted sum of correctness, over the seeds that have every cell."""
    rows = positions[list(weights)].dropna().astype(int)
    total = sum(w * correct[rows[key].to_numpy()].astype(float) for key, w in weights.items())
    # Rounded: weights that sum to 0 in exact arithmetic leave 1e-17 where every cell agrees, which would read as
    # a difference with a zero-width interval.
    return np.round(total, 12)


def paired_table(accuracy: pd.DataFrame, correct: np.ndarray, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Every comparison of :func:`contrasts` per condition (rows of `accuracy`, whose i-th row is `correct`'s):
    mean, interval, se, df, p (labelsweep.analysis.intervals.paired_difference), seed sd of the difference, the
    test set's own se, seeds, images, whether the interval excludes 0, and Holm over the rows with ≥ 2 seeds."""
    records = []
    positioned = accuracy.assign(position=np.arange(len(accuracy)))
    for key, group in positioned.groupby(CONDITION, sort=False):
        positions = group.pivot_table(index="seed", columns="cell", values="position")
        for name, weights in contrasts(list(positions.columns)):
            d = contrast(correct, positions, weights)
            if np.ndim(d) < 2 or not len(d):
                continue
            r = paired_difference(d, np.zeros_like(d), confidence)
            records.append({**dict(zip(CONDITION, key)), "comparison": name, "mean": r.mean, "ci_low": r.low,
                            "ci_high": r.high, "se": r.se, "df": r.df, "p": r.p,
                            "seed_sd": np.sqrt(r.seed_var * r.n_seeds) if r.n_seeds > 1 else np.nan,
                            "image_se": np.sqrt(r.image_var), "n": r.n_seeds, "n_images": r.n_images})
    return with_holm(pd.DataFrame(records, columns=COLUMNS[:-3]), confidence)


def with_holm(table: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """`table` with excludes_zero (the raw interval, ≥ 2 seeds), Holm's adjusted p over its rows with ≥ 2 seeds
    (the dataset's family; NaN elsewhere) and whether Holm rejects 0 at familywise error 1 − confidence."""
    family = (table.n >= 2).to_numpy()
    adjusted = np.full(len(table), np.nan)
    adjusted[family] = holm_adjusted(table.p.to_numpy()[family])
    excludes = family & ((table.ci_low > 0) | (table.ci_high < 0)).to_numpy()
    return table.assign(excludes_zero=excludes, p_holm=adjusted,
                        holm_rejects=family & (np.nan_to_num(adjusted, nan=1.0) <= 1 - confidence))[COLUMNS]
