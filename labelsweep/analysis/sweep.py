"""The seed's sweep as tables and figures: the original study's questions over every noise level.

The sweep's runs (params.yaml `runs`, one seed by default) train the baseline and every threshold of the
grid at every level of `noise`. Three views answer the original study's questions, one panel per noise
kind and regime: accuracy against injected noise for the baseline, prune-all and relabel-all (with the
original study's published Fashion-MNIST points beside them); accuracy minus the baseline's over noise
level x prune share (a heatmap: where pruning or relabelling helps); and samples flagged against labels
injected. With several sweep seeds every number is a mean over them.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from labelsweep.analysis import summary
from labelsweep.analysis.layout import first_column, panel_axes
from labelsweep.analysis.summary import LINES, PUBLISHED
from labelsweep.analysis.tables import panels
from labelsweep.artifacts import percent
from labelsweep.noise import SYMMETRIC
from labelsweep.strategies import BASELINE, PRUNE_RELABEL, Cell


def _means(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Mean test accuracy per (noise level, kind, regime, cell) over the sweep's seeds, with its 95 % t-interval
    (NaN with one seed) and a panel column."""
    by = [*summary.CONDITION, "cell"]
    means = summary.spread(accuracy.set_index(by).test_accuracy, by).reset_index().rename(
        columns={"mean": "test_accuracy"})
    return means.assign(noise_percent=percent(means.noise_level), panel=panels(means))


def accuracy_lines(accuracy: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Accuracy vs noise of the baseline, prune-all and relabel-all, plus the original study's points."""
    means = _means(accuracy[accuracy.cell.isin(LINES)])
    table = means.assign(series=means.cell.map(LINES))[["noise_percent", "panel", "series", "test_accuracy",
                                                         "ci_low", "ci_high"]]
    published = [{"noise_percent": percent(level), "panel": name,
                  "series": f"{PUBLISHED}{LINES[cell.key].split(' (')[0]}", "test_accuracy": value}
                 for name in table.panel.unique() if name.startswith(SYMMETRIC)
                 for cell, points in summary.ORIGINAL.get(dataset, {}).items() for level, value in points.items()]
    return pd.concat([table, pd.DataFrame(published, columns=table.columns)], ignore_index=True)


def gain_grid(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Accuracy minus the baseline's (paired within each seed, then averaged) at every noise level and share
    pruned, the rest relabelled: the heatmap's cells."""
    wide = summary.per_seed(accuracy)
    shares = list(summary.shares(wide, PRUNE_RELABEL).values())
    gains = wide[shares].sub(wide[Cell(BASELINE).key], axis=0).groupby(level=summary.CONDITION, sort=False).mean()
    long = gains.stack().rename("gain_over_baseline").reset_index()
    long = long.assign(noise_percent=percent(long.noise_level),
                       prune_share_percent=[percent(Cell.parse(c).share) for c in long.cell], panel=panels(long))
    return long[["noise_percent", "panel", "prune_share_percent", "gain_over_baseline"]].round(6)


def flagged_lines(detection: pd.DataFrame) -> pd.DataFrame:
    """Labels injected, samples flagged, and flagged that were flipped, per level (means over the seeds)."""
    counts = {"injected": "labels flipped (injected)", "flagged": "samples flagged by cleanlab",
              "true_positives": "flagged and flipped"}
    means = detection.groupby(summary.CONDITION, sort=False)[list(counts)].mean().reset_index()
    long = means.melt(id_vars=summary.CONDITION, value_vars=list(counts), var_name="count", value_name="samples")
    return pd.DataFrame({"noise_percent": percent(long.noise_level), "panel": panels(long),
                         "count": long["count"].map(counts), "samples": long.samples.round(1)})


def _panels(table: pd.DataFrame, width: float = 4.6, height: float = 3.6) -> tuple[plt.Figure, list, list]:
    panels = list(dict.fromkeys(table.panel))
    # At least 10 inches wide, so that a one-panel sweep (one regime) still fits its title and legend.
    fig, axes = panel_axes(len(panels), width, height, min_width=10.0, sharey=True)
    return fig, axes, panels


def draw_accuracy(lines: pd.DataFrame, name: str) -> plt.Figure:
    """Lines of the sweep's cells; the original study's published points as open squares in their cell's colour."""
    fig, axes, panels = _panels(lines)
    colours = {series: f"C{i}" for i, series in enumerate(LINES.values())}
    for ax, name_of_panel in zip(axes, panels):
        for series, line in lines[lines.panel == name_of_panel].groupby("series", sort=False):
            published = series.startswith(PUBLISHED)
            cell = series.removeprefix(PUBLISHED)
            colour = next((c for s, c in colours.items() if s.startswith(cell)), "grey")
            bars = np.nan_to_num(np.vstack([line.test_accuracy - line.ci_low, line.ci_high - line.test_accuracy])
                                 .astype(float), nan=0.0)  # the 95 % interval over the seeds; none with one seed
            ax.errorbar(line.noise_percent, line.test_accuracy, yerr=None if published else bars,
                        marker="s" if published else "o", ms=7 if published else 3, capsize=2,
                        ls="none" if published else "-", color=colour, label=series, mfc="none" if published else None)
        ax.set_title(name_of_panel, fontsize=10)
        ax.set_xlabel("injected label noise (% of training labels wrong)", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in first_column(axes):
        ax.set_ylabel("test accuracy")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    published = lines.series.str.startswith(PUBLISHED).any()
    squares = "squares: the original study's numbers; " if published else ""
    fig.suptitle(f"{name}, the seed's sweep: test accuracy vs injected noise\n({squares}bars: 95 % "
                 "intervals over the seeds)")
    return fig


def draw_heatmap(grid: pd.DataFrame, name: str) -> plt.Figure:
    fig, axes, panels = _panels(grid, width=4.8, height=4.0)
    limit = max(float(grid.gain_over_baseline.abs().max()), 1e-3)
    for ax, name_of_panel in zip(axes, panels):
        table = grid[grid.panel == name_of_panel].pivot(index="prune_share_percent", columns="noise_percent",
                                                        values="gain_over_baseline")
        image = ax.imshow(table.to_numpy(), origin="lower", aspect="auto", cmap="RdBu", vmin=-limit, vmax=limit)
        ax.set_xticks(range(len(table.columns)), [f"{p:g}" for p in table.columns], fontsize=7)
        ax.set_yticks(range(len(table.index)), [f"{s:g}" for s in table.index], fontsize=7)
        for (row, col), value in np.ndenumerate(table.to_numpy()):
            ax.text(col, row, f"{100 * value:+.0f}", ha="center", va="center", fontsize=5.5)
        ax.set_title(name_of_panel, fontsize=10)
        ax.set_xlabel("injected label noise (%)", fontsize=9)
    for ax in first_column(axes):
        ax.set_ylabel("share of the flagged pruned (%), the rest relabelled", fontsize=9)
    fig.colorbar(image, ax=list(axes), label="test accuracy − baseline (numbers: points of %)", shrink=0.8)
    fig.suptitle(f"{name}, the seed's sweep: gain over the baseline by noise level and share pruned")
    return fig


def draw_flagged(lines: pd.DataFrame, name: str) -> plt.Figure:
    fig, axes, panels = _panels(lines, width=4.0)
    for ax, name_of_panel in zip(axes, panels):
        for i, (count, line) in enumerate(lines[lines.panel == name_of_panel].groupby("count", sort=False)):
            ax.plot(line.noise_percent, line.samples, marker="o", ms=3, color=f"C{i}", label=count)
        ax.set_title(name_of_panel, fontsize=10)
        ax.set_xlabel("injected label noise (% of training labels wrong)", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in first_column(axes):
        ax.set_ylabel("training samples")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(f"{name}, the seed's sweep: samples flagged by cleanlab vs labels injected")
    return fig


def review_table(review: pd.DataFrame) -> pd.DataFrame:
    """The flagged rows of find_issues' review.csv (the dataset's own labels at 0 % injected noise), most
    suspicious first, ranked from 1."""
    flagged = review[review.flagged == 1].reset_index(drop=True)
    return pd.concat([pd.DataFrame({"rank": np.arange(1, len(flagged) + 1)}), flagged.drop(columns="flagged")], axis=1)


def draw_review(table: pd.DataFrame, images: np.ndarray, ids: list[str], name: str, size: int = 24) -> plt.Figure:
    """The `size` most suspicious flagged images with their given and suggested labels."""
    index = {sample_id: i for i, sample_id in enumerate(ids)}
    shown = table.head(size)
    cols = 6
    fig, axes = plt.subplots(max(1, -(-len(shown) // cols)), cols, figsize=(cols * 1.9, 2.7 * max(1, -(-len(shown)
                             // cols))), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, shown.itertuples()):
        image = images[index[row.sample_id]].transpose(1, 2, 0)
        ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray")
        ax.set_title(f"#{row.rank} {short_id(row.sample_id)}\ngiven: {row.given_label}\nsuggested: "
                     f"{row.suggested_label} (p {row.suggested_prob:.2f})", fontsize=6)
    runs_averaged = int(table.runs_averaged.max()) if len(table) else 0
    fig.suptitle(f"{name}: the dataset's own labels, {len(table)} flagged by cleanlab at 0 % injected noise "
                 f"(probabilities of {runs_averaged} run(s) averaged); the {len(shown)} most suspicious", fontsize=9)
    fig.tight_layout()
    return fig


def short_id(sample_id: str) -> str:
    """An index as it is; a file as its folders and the start of its name (file names often share a suffix)."""
    head, _, tail = str(sample_id).rpartition("/")
    return tail if not head else f"{head}/{tail.rsplit('.', 1)[0][:8]}"
