"""The study's figures (PNG) and the seed's sweep written by the plot stage: drawn from the long tables of
labelsweep.analysis.tables and labelsweep.analysis.sweep, one panel per noise kind and regime; the controls and the
baseline (labelsweep.strategies: their kind) are drawn dashed."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from labelsweep import artifacts, runs  # noqa: E402
from labelsweep.analysis import paired as paired_module  # noqa: E402
from labelsweep.analysis import sweep  # noqa: E402
from labelsweep.analysis.layout import block_axes, bottom, first_column, panel_axes  # noqa: E402
from labelsweep.analysis.sweep import short_id  # noqa: E402
from labelsweep.analysis.tables import with_panels  # noqa: E402
from labelsweep.errors import DataError  # noqa: E402
from labelsweep.strategies import CLEANLAB, Cell  # noqa: E402

NOISE_AXIS = "injected label noise (% of training labels wrong)"
SHARE_AXIS = "share of the flagged samples pruned (%), lowest label quality first"
GALLERY_SIZE = 24


def interval_bars(mean: pd.Series, table: pd.DataFrame) -> np.ndarray:
    """The error bars of `mean`: below and above it to the 95 % interval (table's ci_low, ci_high); none (0)
    where there is no interval: one seed (paired.csv keeps a test-set-only interval there, which no claim uses)."""
    one_seed = (table.n < 2).to_numpy() if "n" in table else np.zeros(len(table), dtype=bool)
    bars = np.vstack([mean - table.ci_low, table.ci_high - mean]).astype(float)
    bars[:, one_seed] = np.nan
    return np.nan_to_num(bars, nan=0.0)


def colour(i: int, n: int) -> object:
    """The i-th of n series' colour: matplotlib's default cycle, or 20 colours where it would repeat (it has 10)."""
    return f"C{i}" if n <= 10 else plt.get_cmap("tab20")(i % 20)


def write_figure(fig: plt.Figure, path: Path) -> None:
    with artifacts.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)


def empty_figure(title: str, why: str) -> plt.Figure:
    """A figure that says why it has nothing to draw (a grid without the cells or levels it needs)."""
    fig, ax = plt.subplots(figsize=(7, 1.6), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, why, ha="center", va="center")
    fig.suptitle(title)
    return fig


def draw_accuracy(lines: pd.DataFrame, name: str) -> plt.Figure:
    panels = list(dict.fromkeys(lines.panel))
    fig, axes = panel_axes(len(panels), sharey=True)
    strategies = list(dict.fromkeys(lines.strategy))
    dashed = {label for label, key in zip(lines.strategy, lines.cell) if Cell.parse(key).record.kind != CLEANLAB}
    step = 0.3 * lines.noise_percent.diff().abs().replace(0, np.nan).min() / max(len(strategies), 1) \
        if lines.noise_percent.nunique() > 1 else 0.3
    for ax, name_of_panel in zip(axes, panels):
        for i, strategy in enumerate(strategies):
            line = lines[(lines.panel == name_of_panel) & (lines.strategy == strategy)]
            ax.errorbar(line.noise_percent + (i - len(strategies) / 2) * step, line.test_accuracy,
                        yerr=interval_bars(line.test_accuracy, line),
                        marker="o", ms=3.5, capsize=2, lw=1.2, ls="--" if strategy in dashed else "-", label=strategy,
                        color=colour(i, len(strategies)))
        ax.set_xticks(sorted(lines.noise_percent.unique()))
        ax.set_xlabel(f"{NOISE_AXIS}\n(each strategy's points shifted sideways a little, to be told apart)", fontsize=9)
        ax.set_title(name_of_panel, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in first_column(axes):
        ax.set_ylabel("test accuracy\n(mean and 95 % interval over seeds)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(4, len(panels) + 1),
               fontsize=8)  # no wider than the panels: a legend column is about as wide as a panel's half
    fig.suptitle(f"{name}: test accuracy by strategy")
    return fig


def draw_gain(gains: pd.DataFrame, name: str) -> plt.Figure:
    panels, levels = list(dict.fromkeys(gains.panel)), sorted(gains.noise_percent.unique())
    cells = [(level, name_of_panel) for level in levels for name_of_panel in panels]  # a level's panels, in a row
    fig, axes = panel_axes(len(cells), height=2.8, sharex=True)
    for ax, (level, name_of_panel) in zip(axes, cells):
        for i, (rest, line) in enumerate(gains[(gains.panel == name_of_panel) & (gains.noise_percent == level)]
                                         .groupby("rest", sort=False)):
            ax.errorbar(line.prune_share_percent + 1.2 * (i - 0.5), line.gain_over_baseline,
                        yerr=interval_bars(line.gain_over_baseline, line),
                        marker="o", ms=3.5, capsize=2, label=rest, color=f"C{i}")
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(f"{name_of_panel}, {level:g} % noise", fontsize=9)
        ax.grid(alpha=0.3)
    for ax in first_column(axes):
        ax.set_ylabel("accuracy − baseline")
    for ax in bottom(axes):
        ax.set_xlabel(SHARE_AXIS, fontsize=8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle(f"{name}: gain over the baseline vs the share of flagged samples pruned (paired per seed)")
    return fig


def draw_differences(table: pd.DataFrame, name: str,
                     title: str = "paired differences in test accuracy, within each seed") -> plt.Figure:
    """Per panel, each comparison's mean and 95 % interval (a point per noise level), 0 marked."""
    if table.empty:
        return empty_figure(f"{name}: {title}", "no comparison: the grid has none of the cells they compare")
    panels, comparisons = list(dict.fromkeys(table.panel)), list(dict.fromkeys(table.comparison))
    levels = sorted(table.noise_percent.unique())
    # A comparison's row holds one point per level, spread within the row so that no point crosses into the next.
    step = min(0.25, 0.8 / len(levels))
    fig, axes = panel_axes(len(panels), height=max(0.45, 0.12 * len(levels)) * len(comparisons) + 1.2, width=4.0,
                           sharey=True, sharex=True)
    for ax, name_of_panel in zip(axes, panels):
        for i, level in enumerate(levels):
            part = table[(table.panel == name_of_panel) & (table.noise_percent == level)]
            y = np.array([comparisons.index(c) for c in part.comparison]) + step * (i - (len(levels) - 1) / 2)
            ax.errorbar(part["mean"], y, xerr=interval_bars(part["mean"], part), fmt="o", ms=4, capsize=2,
                        color=colour(i, len(levels)), label=f"{level:g} % noise")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(name_of_panel, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    for ax in bottom(axes):
        ax.set_xlabel("accuracy difference (mean, 95 % interval)")
    axes[0].set_yticks(range(len(comparisons)), comparisons)
    axes[0].invert_yaxis()
    for ax in first_column(axes):  # a shared axis's labels, drawn again at each row's start: the same size in each
        ax.tick_params(axis="y", labelsize=8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(len(levels), 6),
               fontsize=8)
    # Wrapped to the figure's width (about 9 title characters an inch), so that a narrow figure's title stays whole.
    fig.suptitle(textwrap.fill(f"{name}: {title}", width=max(40, int(9 * fig.get_figwidth()))))
    return fig


def draw_alternatives(paired: pd.DataFrame, name: str) -> plt.Figure:
    """Clean, train robustly, or both (issue 28): cleanlab's prune-all and every robust-training alternative minus
    the baseline, side by side per panel and noise level, with the per-image 95 % intervals of paired.csv (seed
    spread and test-set error)."""
    options = [paired_module.VERSUS_BASELINE.format(o) for o in
               [paired_module.PRUNE_ALL_NAME, *(cell.header for cell in paired_module.alternatives())]]
    table = paired[paired.comparison.isin(options)]
    table = table.assign(order=table.comparison.map(options.index)).sort_values("order", kind="stable")
    title = "clean, train robustly, or both? Accuracy minus the baseline's (seeds and test images)"
    if not table.comparison.isin(options[1:]).any():  # the grid ran none of them (docs/rerun.md's experiment does)
        title = "cleanlab's prune-all minus the baseline (seeds and test images); no robust alternative in this grid"
    return draw_differences(with_panels(table) if len(table) else table, name, title)


def draw_counts(bars: pd.DataFrame, name: str) -> plt.Figure:
    panels = list(dict.fromkeys(bars.panel))
    fig, axes = panel_axes(len(panels), width=3.6, sharey=True)
    kinds = list(dict.fromkeys(bars["count"]))
    for ax, name_of_panel in zip(axes, panels):
        counts = bars[bars.panel == name_of_panel].pivot(index="noise_percent", columns="count", values="samples")
        width = 0.8 / len(kinds)
        for i, kind in enumerate(kinds):
            ax.bar(np.arange(len(counts)) + (i - (len(kinds) - 1) / 2) * width, counts[kind], width, label=kind,
                   color=f"C{i}")
        ax.set_xticks(range(len(counts)), [f"{p:g}" for p in counts.index])
        ax.set_xlabel(NOISE_AXIS, fontsize=8)
        ax.set_title(name_of_panel, fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    for ax in first_column(axes):
        ax.set_ylabel("training samples (mean over seeds)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle(f"{name}: samples flagged by cleanlab vs labels injected")
    return fig


def draw_by_filter(lines: pd.DataFrame, name: str, configured: str) -> plt.Figure:
    if lines.empty:
        return empty_figure(f"{name}: label-issue detection by cleanlab's filter_by",
                            "no level with injected noise: nothing to score the flags against")
    panels = list(dict.fromkeys(lines.panel))
    measures = {"precision": "precision", "recall": "recall", "f1": "F1"}
    fig, blocks = block_axes(len(panels), len(measures), width=3.6, height=2.4, sharex=True, sharey=True)
    for block, name_of_panel in zip(blocks, panels):  # a panel: its measures stacked
        for ax, (measure, label) in zip(block, measures.items()):
            part = lines[(lines.panel == name_of_panel) & (lines.measure == measure)]
            for method, line in part.groupby("filter_by", sort=False):
                ax.plot(line.noise_percent, line.value, marker="o", ms=3, lw=2.5 if method == configured else 1.2,
                        label=f"{method} (used)" if method == configured else method)
            ax.grid(alpha=0.3)
            if ax.get_subplotspec().is_first_col():
                ax.set_ylabel(label)
        block[0].set_title(name_of_panel, fontsize=9)
    for ax in bottom([block[-1] for block in blocks]):
        ax.set_xlabel(NOISE_AXIS, fontsize=8)
        ax.set_xticks(sorted(lines.noise_percent.unique()))  # the levels measured (one level: no fractional ticks)
    fig.legend(*blocks[0][0].get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=8)
    fig.suptitle(f"{name}: label-issue detection by cleanlab's filter_by\nagainst the injected flips, mean over seeds")
    return fig


def draw_gallery(name: str, level: float, noisy: Path, issues: Path, raw: Path) -> plt.Figure:
    """The GALLERY_SIZE flagged samples with the lowest label quality in the first run at noise `level`."""
    for folder in (noisy, issues, raw):
        if not folder.is_dir():
            raise DataError(f"{folder} is missing: run the stages before plot (dvc repro)")
    run = runs.load(noisy)[0]
    (given,) = (rows[0] for rows in artifacts.load_arrays(noisy, "labels"))
    flagged, quality, suggested = (rows[0] for rows in artifacts.load_arrays(issues, "flagged", "quality", "suggested"))
    images = np.load(raw / "train_images.npy")
    classes = artifacts.load_classes(raw)
    ids = (raw / "train_ids.txt").read_text().splitlines()
    worst = [i for i in np.lexsort((np.arange(len(quality)), np.nan_to_num(quality, nan=np.inf))) if flagged[i]]
    worst = worst[:GALLERY_SIZE]
    cols = 6
    rows = max(1, -(-len(worst) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.9, rows * 2.7), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, worst):
        image = images[i].transpose(1, 2, 0)
        ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray")
        ax.set_title(f"{short_id(ids[i])}\ngiven: {classes[given[i]]}\nsuggested: {classes[suggested[i]]}\n"
                     f"quality {quality[i]:.3f}", fontsize=6)
    fig.suptitle(f"{name}: {len(worst)} most suspicious labels at {100 * level:g} % {run.noise_kind} noise "
                 f"({int(flagged.sum())} flagged; {run.regime} model, seed {run.seed})", fontsize=9)
    fig.tight_layout()
    return fig


def write_sweep(dataset: str, raw: Path, issues: Path, accuracy: pd.DataFrame, detection: pd.DataFrame,
                levels: list[float], name: str, out: Path) -> None:
    """The seed's sweep (labelsweep.analysis.sweep): its three figures and their tables, and the review of the
    dataset's own labels at 0 % injected noise (where the grid has that level)."""
    accuracy, detection = accuracy[accuracy.sweep], detection[detection.sweep]
    lines, grid, flagged = (sweep.accuracy_lines(accuracy, dataset), sweep.gain_grid(accuracy),
                            sweep.flagged_lines(detection))
    for stem, data, draw in [("sweep_accuracy", lines, sweep.draw_accuracy), ("sweep_gain", grid, sweep.draw_heatmap),
                             ("sweep_flagged", flagged, sweep.draw_flagged)]:
        artifacts.save_csv(out / f"{stem}.csv", data)
        write_figure(draw(data, name) if len(data) else empty_figure(f"{name}: the seed's sweep",
                                                                      "the grid has none of the cells this draws"),
                     out / f"{stem}.png")
    review = issues / artifacts.level_name(0.0) / "review.csv"
    if 0.0 in levels and review.is_file():
        table = sweep.review_table(pd.read_csv(review, dtype={"sample_id": str}))  # "17312" is an id, not a number
        ids = (raw / "train_ids.txt").read_text().splitlines()
        fig = sweep.draw_review(table, np.load(raw / "train_images.npy"), ids, name)
    else:
        table = pd.DataFrame(columns=["rank", "sample_id", "given_label", "label_quality", "suggested_label",
                                      "suggested_prob", "runs_averaged"])
        fig = empty_figure(f"{name}: the dataset's own labels", "no level at 0 % injected noise in the grid")
    artifacts.save_csv(out / "label_review.csv", table)
    write_figure(fig, out / "label_review.png")
