"""The plot stage's tables: a dataset's results read and checked, and shaped into the long tables its figures
draw (one row per point, with a panel per noise kind and regime: the shape the templates in .dvc/plots draw).

Next to :mod:`labelsweep.analysis.summary`, whose means, spreads and paired differences they rearrange; the drawing
itself stays in stages/plot.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts
from labelsweep.analysis import summary
from labelsweep.errors import DataError
from labelsweep.strategies import BASELINE, KEEP_REST, PRUNE_ALL, PRUNE_RELABEL, RELABEL_ALL, STRATEGIES, Cell


def panel(noise_kind: str, regime: str) -> str:
    """A figure panel's name: one per noise kind and regime."""
    return f"{noise_kind.replace('_', '-')} noise, {regime} model"


def panels(table: pd.DataFrame) -> list[str]:
    return [panel(k, r) for k, r in zip(table.noise_kind, table.regime)]


def with_panels(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with noise_percent and panel columns in front of its own."""
    table = table.reset_index(drop=True)
    front = pd.DataFrame({"noise_percent": artifacts.percent(table.noise_level), "panel": panels(table)})
    return pd.concat([front, table], axis=1)


def read_study(results: Path, levels: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The accuracy tables and detection records of every level, or DataError saying what to rerun."""
    try:
        accuracy, detection = summary.read_accuracy(results, levels), summary.read_detection(results, levels)
    except FileNotFoundError as err:
        raise DataError(str(err)) from None
    missing = ({"noise_kind", "regime", "seed", "strategy", "test_accuracy", "sweep", "study"} - set(accuracy.columns)
               | {"noise_kind", "injected", "flagged", "precision", "by_filter"} - set(detection.columns))
    if missing:
        raise DataError(f"{results}: the accuracy tables or detection records lack {', '.join(sorted(missing))} "
                        "(rerun the stages before plot: dvc repro)")
    duplicated = accuracy.duplicated([*summary.CONDITION, "seed", "cell"])
    if duplicated.any():
        row = accuracy[duplicated].iloc[0]
        raise DataError(f"{artifacts.accuracy_csv(results, row.noise_level)}: cell {row.cell} appears twice "
                        "for one run (rerun train_eval: dvc repro)")
    return accuracy, detection


def accuracy_lines(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 1, from summary.cells: every cell but the interior prune/relabel shares (figure 2 has those)."""
    cells = [Cell.parse(key) for key in table.cell]
    interior = [c.strategy == PRUNE_RELABEL and c not in (PRUNE_ALL, RELABEL_ALL) for c in cells]
    ends = [c.strategy == KEEP_REST and c.share in (0, 1) for c in cells]  # = the baseline and prune all
    table = with_panels(table[~(np.array(interior, dtype=bool) | np.array(ends, dtype=bool))])
    return table.rename(columns={"label": "strategy", "mean": "test_accuracy"})[
        ["noise_percent", "panel", "strategy", "cell", "test_accuracy", "sd", "n", "ci_low", "ci_high"]]


def gain_by_share(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Figure 2: accuracy minus the baseline's (paired per seed) at every share, rest relabelled or kept."""
    wide = summary.per_seed(accuracy)
    parts = []
    for strategy in [s for s in STRATEGIES.values() if s.shared]:
        for share, key in summary.shares(wide, strategy.name).items():
            stats = summary.spread(wide[key] - wide[Cell(BASELINE).key], summary.CONDITION).reset_index()
            parts.append(stats.assign(rest=strategy.rest, prune_share_percent=artifacts.percent(share)))
    table = with_panels(pd.concat(parts, ignore_index=True))
    return table.rename(columns={"mean": "gain_over_baseline"})[
        ["noise_percent", "panel", "rest", "prune_share_percent", "gain_over_baseline", "sd", "n", "ci_low", "ci_high"]]


def detection_by_filter(detection: pd.DataFrame, configured: str) -> pd.DataFrame:
    """Figure 5: every filter_by's precision, recall and F1 over the seeds, with its 95 % interval and its
    paired difference from the `configured` filter_by (summary.filter_scores)."""
    table = summary.filter_scores(detection, configured)
    return with_panels(table) if len(table) else pd.DataFrame(columns=["noise_percent", "panel", *table.columns])


def flagged_vs_injected(detected: pd.DataFrame) -> pd.DataFrame:
    """Figure 4's bars: labels flipped, samples flagged and both, means over the seeds."""
    counts = {"injected": "labels flipped (injected)", "flagged": "samples flagged by cleanlab",
              "true_positives": "flagged and flipped"}
    long = with_panels(detected).melt(id_vars=["noise_percent", "panel"], value_vars=list(counts), var_name="count",
                                      value_name="samples")
    return long.assign(count=long["count"].map(counts), samples=long.samples.round(1))
