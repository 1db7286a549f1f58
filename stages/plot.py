"""Stage plot: the study's three figures for one dataset, their data as CSV, and a label-issue gallery.

1. test accuracy vs noise: baseline (noisy labels as they are) vs cleanlab with every flagged sample
   pruned (threshold 1.0);
2. samples flagged by cleanlab vs labels injected, per noise level;
3. test accuracy vs noise, one line per threshold (share of the flagged samples pruned; the rest
   relabelled);
4. a gallery of the most suspicious training samples at the lowest noise level in the grid (0 %
   by default: the dataset's own label errors).
The grids come from params.yaml, so only the levels and thresholds of the current sweep are drawn.
"""

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from labelsweep import artifacts, config, stage  # noqa: E402

GALLERY_SIZE = 24


def read_metrics(path: Path) -> dict:
    if not path.is_file():
        raise stage.DataError(f"{path} is missing: run the stages before plot (dvc repro)")
    return json.loads(path.read_text())


def write_figure(fig: plt.Figure, path: Path) -> None:
    with artifacts.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with artifacts.atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def line_figure(title: str, xlabel: str, ylabel: str) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def plot_accuracy_vs_noise(out: Path, name: str, levels: list, baseline: list, prune_all: list | None) -> None:
    percent = [100 * p for p in levels]
    fig, ax = line_figure(f"{name}: test accuracy vs label noise", "injected label noise (%)", "test accuracy")
    ax.plot(percent, baseline, "o-", label="baseline (noisy labels)")
    if prune_all:
        ax.plot(percent, prune_all, "s-", label="cleanlab, 100 % prune")
    ax.legend()
    write_figure(fig, out / "accuracy_vs_noise.png")
    write_csv(out / "accuracy_vs_noise.csv", ["noise_level", "baseline", "cleanlab_prune_all"],
              [[p, b, c] for p, b, c in zip(levels, baseline, prune_all or [None] * len(levels))])


def plot_flagged_vs_injected(out: Path, name: str, levels: list, detection: list[dict]) -> None:
    percent = [100 * p for p in levels]
    fig, ax = line_figure(f"{name}: samples flagged by cleanlab vs labels injected", "injected label noise (%)",
                          "samples")
    width = 40 * min(np.diff(levels)) if len(levels) > 1 else 2
    ax.bar([p - width / 2 for p in percent], [d["injected"] for d in detection], width,
           label="labels flipped (injected)")
    ax.bar([p + width / 2 for p in percent], [d["flagged"] for d in detection], width, label="flagged by cleanlab")
    ax.legend()
    write_figure(fig, out / "flagged_vs_injected.png")
    write_csv(out / "flagged_vs_injected.csv",
              ["noise_level", "injected", "flagged", "flagged_minus_injected", "precision", "recall", "auroc"],
              [[p, d["injected"], d["flagged"], d["flagged_minus_injected"], d["precision"], d["recall"],
                d["auroc"]] for p, d in zip(levels, detection)])


def plot_accuracy_by_threshold(out: Path, name: str, levels: list, baseline: list, cells: dict) -> None:
    percent = [100 * p for p in levels]
    fig, ax = line_figure(f"{name}: test accuracy by share of flagged samples pruned", "injected label noise (%)",
                          "test accuracy")
    for color, (share, accuracy) in zip(plt.cm.viridis(np.linspace(0, 1, len(cells))), cells.items()):
        label = f"{100 * share:.0f} % prune / {100 - 100 * share:.0f} % relabel"
        ax.plot(percent, accuracy, "o-", ms=3, color=color, label=label)
    ax.plot(percent, baseline, "k--", label="baseline")
    ax.legend(fontsize=6, ncol=2)
    write_figure(fig, out / "accuracy_by_threshold.png")
    write_csv(out / "accuracy_by_threshold.csv", ["noise_level", "baseline"] + [f"prune_{t}" for t in cells],
              [[p, baseline[i]] + [acc[i] for acc in cells.values()] for i, p in enumerate(levels)])


def short_id(sample_id: str) -> str:
    """An index as it is; a file as its folders and the start of its name (file names often share a suffix)."""
    path = Path(sample_id)
    return sample_id if path.parent == Path(".") else f"{path.parent}/{path.stem[:8]}"


def plot_gallery(out: Path, name: str, level: float, issues: Path, raw: Path) -> None:
    """The GALLERY_SIZE flagged samples with the lowest label quality at noise `level`."""
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
    fig.suptitle(f"{name}: {len(worst)} most suspicious labels at {100 * level:.0f} % injected noise "
                 f"({int(flagged.sum())} flagged)", fontsize=9)
    fig.tight_layout()
    write_figure(fig, out / "gallery.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--issues", required=True, help="folder of the find_issues outputs")
    parser.add_argument("--metrics", required=True, help="folder of the dataset's metrics")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    levels, shares = sorted(params["noise"]), sorted(params["thresholds"])
    metrics, out = Path(args.metrics), Path(args.out)

    baseline = [read_metrics(artifacts.accuracy_json(metrics, p, None))["test_accuracy"] for p in levels]
    cells = {t: [read_metrics(artifacts.accuracy_json(metrics, p, t))["test_accuracy"] for p in levels]
             for t in shares}
    detection = [read_metrics(artifacts.detection_json(metrics, p)) for p in levels]
    name = {"fashion_mnist": "Fashion-MNIST", "roman": "Roman numerals"}.get(args.dataset, args.dataset)
    with stage.work():
        plot_accuracy_vs_noise(out, name, levels, baseline, cells.get(1.0))
        plot_flagged_vs_injected(out, name, levels, detection)
        plot_accuracy_by_threshold(out, name, levels, baseline, cells)
        plot_gallery(out, name, levels[0], artifacts.issues_dir(args.issues, levels[0]), Path(args.raw))


if __name__ == "__main__":
    stage.run(main)
