"""The plot stage's tables: a dataset's results read and checked, and shaped into the long tables its figures
draw (one row per point, with a panel per noise kind and regime: the shape the templates in .dvc/plots draw).

Next to :mod:`labelsweep.summary`, whose means, spreads and paired differences they rearrange; the drawing
itself stays in stages/plot.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labelsweep import artifacts, summary
from labelsweep.errors import DataError


def panel(noise_kind: str, regime: str) -> str:
    return f"{noise_kind.replace('_', '-')} noise, {regime} model"


def with_panels(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with noise_percent and panel columns in front of its own."""
    table = table.reset_index(drop=True)
    front = pd.DataFrame({"noise_percent": (100 * table.noise_level).round(6),
                          "panel": [panel(k, r) for k, r in zip(table.noise_kind, table.regime)]})
    return pd.concat([front, table], axis=1)


def read_study(results: Path, levels: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The accuracy tables and detection records of every level, or DataError saying what to rerun."""
    try:
        accuracy, detection = summary.read_accuracy(results, levels), summary.read_detection(results, levels)
    except FileNotFoundError as err:
        raise DataError(str(err)) from None
    missing = ({"noise_kind", "regime", "seed", "strategy", "test_accuracy"} - set(accuracy.columns)
               | {"noise_kind", "injected", "flagged", "precision", "by_filter"} - set(detection.columns))
    if missing:
        raise DataError(f"{results}: the accuracy tables or detection records lack {', '.join(sorted(missing))} "
                        "(rerun the stages before plot: dvc repro)")
    for table in (accuracy, detection):  # results from before the study joined the sweep: all of them the sweep's
        for column, default in (("sweep", True), ("study", False)):
            if column not in table:
                table[column] = default
    duplicated = accuracy.duplicated([*summary.CONDITION, "seed", "cell"])
    if duplicated.any():
        row = accuracy[duplicated].iloc[0]
        raise DataError(f"{artifacts.accuracy_csv(results, row.noise_level)}: cell {row.cell} appears twice "
                        "for one run (rerun train_eval: dvc repro)")
    return accuracy, detection


def accuracy_lines(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 1, from summary.cells: every cell but the interior prune/relabel shares (figure 2 has those)."""
    interior = table.cell.str.startswith("prune_relabel@") & ~table.cell.isin([summary.PRUNE_ALL, summary.RELABEL_ALL])
    keep_ends = table.cell.isin(["keep_rest@0", "keep_rest@1"])  # = the baseline and prune all
    table = with_panels(table[~interior & ~keep_ends])
    return table.rename(columns={"label": "strategy", "mean": "test_accuracy"})[
        ["noise_percent", "panel", "strategy", "cell", "test_accuracy", "sd", "n", "ci_low", "ci_high"]]


def gain_by_share(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Figure 2: accuracy minus the baseline's (paired per seed) at every share, rest relabelled or kept."""
    wide = summary.per_seed(accuracy)
    parts = []
    for strategy, rest in [("prune_relabel", "the rest relabelled"), ("keep_rest", "the rest kept as labelled")]:
        for cell in [c for c in wide if c.startswith(f"{strategy}@")]:
            stats = summary.spread(wide[cell] - wide["baseline"], summary.CONDITION).reset_index()
            parts.append(stats.assign(rest=rest, prune_share_percent=round(100 * float(cell.partition("@")[2]), 6)))
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
