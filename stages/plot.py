"""Stage plot: one dataset's sweep as figures (PNG), their data (CSV, for `dvc plots show`) and headline metrics.

For the noise levels and prune shares in params.yaml (any grid: one level, shares without 0 or 1), it draws
1. accuracy_vs_noise: test accuracy vs injected noise for the baseline (noisy labels as they are), cleanlab
   pruning every flagged sample (share 1.0) and relabelling every one (share 0.0) where the grid has those
   shares, and the best share of each level where the grid has others (picked on the test set: an upper bound);
2. gain_heatmap: test accuracy minus the baseline's, noise level x prune share, each cell's value written in it;
3. flagged_vs_injected: per level, labels flipped by inject_noise, samples flagged by cleanlab, and both;
4. detection_by_filter: precision, recall and F1 against the injected flips of every `filter_by` of
   cleanlab.filter.find_label_issues, per level (the configured one decides what is pruned/relabelled);
5. gallery: the 24 flagged samples with the lowest label quality at the grid's lowest noise level.
The CSVs are long tables (one row per point: the shape the templates in .dvc/plots draw); levels.csv holds every
level's accuracies and detection record in one row, and data.json the data's summary (both for
labelsweep.report); metrics/<dataset>.json is summary.headline, means over the grid's levels.
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from labelsweep import artifacts, config, stage, summary  # noqa: E402

NOISE_AXIS = "injected label noise (% of training labels flipped)"
SHARE_AXIS = "share of the flagged samples pruned (%)\n(lowest label quality first; the rest relabelled)"
GALLERY_SIZE = 24


def percent(values: pd.Series | pd.Index) -> pd.Series | pd.Index:
    return (100 * values).round(6)


def read_sweep(results: Path, levels: list[float], shares: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every model's accuracy (baseline + the grid's shares, each present exactly once) and the detection records."""
    try:
        accuracy, detection = summary.read_accuracy(results, levels), summary.read_detection(results, levels)
    except FileNotFoundError as err:
        raise stage.DataError(str(err)) from None
    missing = ({"noise_level", "strategy", "prune_share", "test_accuracy"} - set(accuracy.columns)
               | {"injected", "flagged", "true_positives", "precision", "recall", "by_filter"} - set(detection.columns))
    if missing:
        raise stage.DataError(f"{results}: the accuracy tables or detection records lack {', '.join(sorted(missing))} "
                              "(rerun the stages before plot: dvc repro)")
    accuracy = accuracy[(accuracy.strategy == "baseline") | accuracy.prune_share.isin(shares)]
    cells = accuracy.groupby(["noise_level", accuracy.prune_share.fillna(-1)]).size()
    for level in levels:
        for share in [-1, *shares]:
            if cells.get((level, share), 0) != 1:
                what = "the baseline" if share == -1 else f"prune share {share}"
                raise stage.DataError(f"{artifacts.accuracy_csv(results, level)}: {cells.get((level, share), 0)} "
                                      f"rows for {what}, expected 1 (rerun train_eval: dvc repro)")
    return accuracy, detection


def accuracy_vs_noise(table: pd.DataFrame) -> pd.DataFrame:
    """The lines of figure 1, long: noise_percent, strategy, prune_share_percent (empty for the baseline), accuracy."""
    cells = table.drop(columns="baseline")
    lines = [("baseline (noisy labels)", table.baseline, np.nan)]
    if 1.0 in cells:
        lines.append(("cleanlab: prune all flagged", cells[1.0], 1.0))
    if 0.0 in cells:
        lines.append(("cleanlab: relabel all flagged", cells[0.0], 0.0))
    if set(cells) - {0.0, 1.0}:
        lines.append(("cleanlab: best share per level (picked on test)", cells.max(axis=1), cells.idxmax(axis=1)))
    return pd.concat([pd.DataFrame({"noise_percent": percent(table.index), "strategy": name,
                                    "prune_share_percent": percent(pd.Series(share, index=table.index)),
                                    "test_accuracy": accuracy.to_numpy()}) for name, accuracy, share in lines],
                     ignore_index=True)


def accuracy_by_share(table: pd.DataFrame) -> pd.DataFrame:
    """Figure 2's cells, long: noise_percent, prune_share_percent, test_accuracy, gain_over_baseline."""
    cells = table.drop(columns="baseline").rename_axis(index="noise_level", columns="prune_share")
    gain = cells.sub(table.baseline, axis=0).round(6)
    long = pd.DataFrame({"test_accuracy": cells.stack(), "gain_over_baseline": gain.stack()}).reset_index()
    return long.assign(noise_percent=percent(long.noise_level), prune_share_percent=percent(long.prune_share))[
        ["noise_percent", "prune_share_percent", "test_accuracy", "gain_over_baseline"]]


def flagged_vs_injected(detection: pd.DataFrame) -> pd.DataFrame:
    """Figure 3's bars, long: noise_percent, count (what is counted), samples."""
    counts = {"injected": "labels flipped (injected)", "flagged": "samples flagged by cleanlab",
              "true_positives": "flagged and flipped"}
    long = detection.melt(id_vars="noise_level", value_vars=list(counts), var_name="count", value_name="samples")
    return long.assign(noise_percent=percent(long.noise_level), count=long["count"].map(counts))[
        ["noise_percent", "count", "samples"]]


def levels_table(table: pd.DataFrame, detection: pd.DataFrame) -> pd.DataFrame:
    """Every level's results in one row: the accuracies (baseline, prune_<share>) and the detection record
    without its per-filter_by part; the README's tables are made from it."""
    accuracy = table.rename(columns={share: f"prune_{share}" for share in table.columns if share != "baseline"})
    return accuracy.reset_index().merge(detection.drop(columns="by_filter"), on="noise_level")


def detection_by_filter(detection: pd.DataFrame) -> pd.DataFrame:
    """Figure 4's lines, long: noise_percent, filter_by, measure (precision/recall/F1), value. Levels with
    nothing injected are left out: against an empty truth every flag counts as wrong."""
    injected = detection[detection.injected > 0]
    rows = [{"noise_percent": 100 * level, "filter_by": method, "measure": measure, "value": scores[measure]}
            for level, by_filter in zip(injected.noise_level, injected.by_filter)
            for method, scores in by_filter.items() for measure in ("precision", "recall", "f1")]
    long = pd.DataFrame(rows, columns=["noise_percent", "filter_by", "measure", "value"])
    return long.assign(noise_percent=long.noise_percent.round(6))


def write_figure(fig: plt.Figure, path: Path) -> None:
    with artifacts.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def draw_accuracy(lines: pd.DataFrame, name: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    for (strategy, line), marker in zip(lines.groupby("strategy", sort=False), "osD^"):
        ax.plot(line.noise_percent, line.test_accuracy, marker=marker, ms=4, label=strategy)
    ax.set(title=f"{name}: test accuracy vs label noise", xlabel=NOISE_AXIS, ylabel="test accuracy (0-1)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def draw_gain(cells: pd.DataFrame, name: str) -> plt.Figure:
    gain = cells.pivot(index="noise_percent", columns="prune_share_percent", values="gain_over_baseline")
    limit = max(float(gain.abs().max().max()), 1e-6)
    fig, ax = plt.subplots(figsize=(max(6.0, 2.2 + 0.62 * gain.shape[1]), max(3.0, 1.9 + 0.34 * gain.shape[0])),
                           layout="constrained")
    image = ax.imshow(gain, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    for (row, col), value in np.ndenumerate(gain.to_numpy()):
        ax.text(col, row, f"{value:+.3f}", ha="center", va="center", fontsize=7,
                color="white" if abs(value) > 0.6 * limit else "black")
    ax.set_xticks(range(gain.shape[1]), [f"{p:g}" for p in gain.columns])
    ax.set_yticks(range(gain.shape[0]), [f"{p:g}" for p in gain.index])
    ax.set(title=f"{name}: test accuracy minus the baseline's", xlabel=SHARE_AXIS, ylabel=NOISE_AXIS)
    fig.colorbar(image, ax=ax, label="accuracy − baseline accuracy")
    return fig


def draw_counts(bars: pd.DataFrame, name: str) -> plt.Figure:
    counts = bars.pivot(index="noise_percent", columns="count", values="samples")[bars["count"].unique()]
    fig, ax = plt.subplots(figsize=(max(6.0, 2 + 0.55 * len(counts)), 4.2), layout="constrained")
    width = 0.8 / counts.shape[1]
    for i, kind in enumerate(counts):
        ax.bar(np.arange(len(counts)) + (i - (counts.shape[1] - 1) / 2) * width, counts[kind], width, label=kind)
    ax.set_xticks(range(len(counts)), [f"{p:g}" for p in counts.index])
    ax.set(title=f"{name}: samples flagged by cleanlab vs labels injected", xlabel=NOISE_AXIS, ylabel="samples")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return fig


def draw_by_filter(lines: pd.DataFrame, name: str, configured: str) -> plt.Figure:
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharex=True, sharey=True, layout="constrained")
    for ax, (measure, group) in zip(axes, lines.groupby("measure", sort=False)):
        for method, line in group.groupby("filter_by", sort=False):
            ax.plot(line.noise_percent, line.value, marker="o", ms=3, lw=2.5 if method == configured else 1.2,
                    label=f"{method} (used)" if method == configured else method)
        ax.set(title=measure if measure != "f1" else "F1", xlabel=NOISE_AXIS)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("against the injected flips (0-1)")
    axes[-1].legend(fontsize=7)
    fig.suptitle(f"{name}: label-issue detection by cleanlab's filter_by")
    return fig


def short_id(sample_id: str) -> str:
    """An index as it is; a file as its folders and the start of its name (file names often share a suffix)."""
    path = Path(sample_id)
    return sample_id if path.parent == Path(".") else f"{path.parent}/{path.stem[:8]}"


def draw_gallery(name: str, level: float, issues: Path, raw: Path) -> plt.Figure:
    """The GALLERY_SIZE flagged samples with the lowest label quality at noise `level`."""
    for folder in (issues, raw):
        if not folder.is_dir():
            raise stage.DataError(f"{folder} is missing: run the stages before plot (dvc repro)")
    given, flagged, quality, suggested = artifacts.load_arrays(issues, "given", "flagged", "quality", "suggested")
    images = np.load(raw / "train_images.npy")
    classes = artifacts.load_classes(raw)
    ids = (raw / "train_ids.txt").read_text().splitlines()
    worst = [i for i in np.lexsort((np.arange(len(quality)), quality)) if flagged[i]][:GALLERY_SIZE]
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
    fig.suptitle(f"{name}: {len(worst)} most suspicious labels at {100 * level:g} % injected noise "
                 f"({int(flagged.sum())} flagged)", fontsize=9)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--summary", required=True, help="the download stage's summary of the data (JSON)")
    parser.add_argument("--issues", required=True, help="folder of the find_issues outputs (one folder per level)")
    parser.add_argument("--results", required=True, help="the dataset's folder with accuracy/ and detection/")
    parser.add_argument("--metrics", required=True, help="output JSON: the headline metrics")
    parser.add_argument("--out", required=True, help="output folder of the figures and their data")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    levels, shares = sorted(params["noise"]), sorted(params["thresholds"])
    out, name = Path(args.out), summary.TITLES.get(args.dataset, args.dataset)

    accuracy, detection = read_sweep(Path(args.results), levels, shares)
    table = summary.by_share(accuracy)
    with stage.work():
        lines, cells, bars = accuracy_vs_noise(table), accuracy_by_share(table), flagged_vs_injected(detection)
        filters = detection_by_filter(detection)
        gallery = draw_gallery(name, levels[0], artifacts.issues_dir(args.issues, levels[0]), Path(args.raw))
        for stem, data in [("accuracy_vs_noise", lines), ("accuracy_by_share", cells), ("flagged_vs_injected", bars),
                           ("detection_by_filter", filters), ("levels", levels_table(table, detection))]:
            artifacts.save_csv(out / f"{stem}.csv", data)
        for stem, fig in [("accuracy_vs_noise", draw_accuracy(lines, name)), ("gain_heatmap", draw_gain(cells, name)),
                          ("flagged_vs_injected", draw_counts(bars, name)),
                          ("detection_by_filter", draw_by_filter(filters, name, params["cleanlab"]["filter_by"])),
                          ("gallery", gallery)]:
            write_figure(fig, out / f"{stem}.png")
        artifacts.save_json(out / "data.json", json.loads(Path(args.summary).read_text()))
        artifacts.save_json(args.metrics, summary.headline(accuracy, detection))


if __name__ == "__main__":
    stage.run(main)
