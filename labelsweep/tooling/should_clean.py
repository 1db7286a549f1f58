"""Should I clean these labels? `python -m labelsweep.tooling.should_clean /abs/folder [--seeds N]` (or `make
should-i-clean IMAGES=/abs/folder`).

The 0 % analysis of issue 29 on one's own class-per-folder images: the folder becomes the `custom` dataset, and one
`dvc exp run` (the pipeline itself, so every run lands in DVC's run-cache and a rerun with more seeds trains only the
new ones) runs the `real_errors` grid at 0 % injected noise with N seeds: per seed the baseline (the labels as given)
and cleanlab's prune-all. It prints the paired difference in test accuracy with its 95 % interval, counting the
seed-to-seed spread and the test set's own sampling error (labelsweep.analysis.intervals.paired_difference), and
where the review of the labels is: every training image ranked by the probabilities of all the runs averaged
(plots/custom/label_review.csv, and the most suspicious images in label_review.png).

Suggested labels come from the cross-validated probabilities (`relabel_with: crossval`): no extra refit per seed.
A folder that cannot be analysed (missing, fewer than two classes, a class with fewer images than cleanlab's folds)
is refused in one line before any work.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts
from labelsweep.analysis.intervals import PairedInterval, paired_difference
from labelsweep.config import load_params
from labelsweep.errors import ConfigError, DataError
from labelsweep.strategies import BASELINE, PRUNE_ALL

DATASET = "custom"  # params.yaml's section for one's own class-per-folder images
SEEDS = 10  # the default: a 1-point difference needs about 20 at the Roman numerals' spread; 10 fit 10 minutes


def check_folder(folder: Path, folds: int) -> dict[str, int]:
    """Images per class folder of `folder`; DataError in one line if the analysis cannot run on it."""
    from torchvision.datasets.folder import IMG_EXTENSIONS  # what the download stage's ImageFolder reads

    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (give a folder with one sub-folder of images per class)")
    counts = {d.name: sum(1 for f in d.rglob("*") if f.suffix.lower() in IMG_EXTENSIONS)
              for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")}
    counts = {name: n for name, n in counts.items() if n}
    if len(counts) < 2:
        raise DataError(f"{folder}: {len(counts)} class folder(s) with images; cleaning labels needs at least 2 "
                        "(one sub-folder of images per class)")
    small = {name: n for name, n in counts.items() if n < folds}
    if small:
        name, n = next(iter(small.items()))
        raise DataError(f"{folder}/{name}: {n} image(s), fewer than cleanlab.folds = {folds} (its cross-validation "
                        f"needs at least one per fold): add images, or leave the class out")
    return counts


def overrides(folder: Path, seeds: int) -> list[str]:
    """`dvc exp run`'s -S settings: the folder as the `custom` dataset, 0 % only, the real_errors grid with `seeds`
    seeds and the cells the verdict needs."""
    settings = {"datasets": f"[{DATASET}]", f"{DATASET}.data.path": str(folder), "noise": "[0.0]",
                "thresholds": "[1.0]", "runs.regimes": "[default]", "runs.seeds": "[0]", "study": "null",
                "cleanlab.relabel_with": "crossval", "real_errors.datasets": f"[{DATASET}]",
                "real_errors.regimes": "[default]", "real_errors.seeds": str(list(range(seeds))),
                "real_errors.thresholds": "[1.0]", "real_errors.strategies": "[]"}
    return [arg for key, value in settings.items() for arg in ("-S", f"{key}={value}")]


def verdict(accuracy: pd.DataFrame, predictions: np.ndarray, test_labels: np.ndarray) -> PairedInterval:
    """Prune-all minus the baseline over the real_errors runs' seeds, paired by seed and test image: from train_eval's
    table at 0 % (`accuracy`) and its predictions (one row per row of the table)."""
    correct = predictions == test_labels
    study, seeds = accuracy.study.astype(bool).to_numpy(), accuracy.seed.to_numpy()

    def by_seed(cell: pd.Series) -> np.ndarray:
        rows = np.flatnonzero(study & cell.to_numpy())
        return correct[rows[np.argsort(seeds[rows])]]

    pruned = by_seed((accuracy.strategy == PRUNE_ALL.strategy) & (accuracy.prune_share == PRUNE_ALL.share))
    return paired_difference(pruned, by_seed(accuracy.strategy == BASELINE))


def pruned_per_seed(accuracy: pd.DataFrame) -> float:
    """How many training images prune-all drops, on average over the seeds: the baseline's training samples minus
    prune-all's, per seed (each seed's run flags from its own out-of-sample probabilities)."""
    rows = accuracy[accuracy.study.astype(bool)]
    kept = {name: rows[cell].set_index("seed").train_samples for name, cell in (
        ("baseline", rows.strategy == BASELINE),
        ("pruned", (rows.strategy == PRUNE_ALL.strategy) & (rows.prune_share == PRUNE_ALL.share)))}
    return float((kept["baseline"] - kept["pruned"]).mean())


def report(root: Path) -> str:
    """The sentence the command prints, from the workspace's results."""
    data, raw = root / "data" / DATASET, root / "data" / DATASET / "raw"
    accuracy = pd.read_csv(artifacts.accuracy_csv(data, 0.0))
    interval = verdict(accuracy, np.load(data / "predictions" / f"{artifacts.level_name(0.0)}.npy"),
                       np.load(raw / "test_labels.npy"))
    review = root / "plots" / DATASET / "label_review.csv"
    return (f"Cleaning these labels (pruning what cleanlab flags in each seed's run: {pruned_per_seed(accuracy):.1f} "
            f"images a seed on average) would change test accuracy by {100 * interval.mean:+.1f} points "
            f"[95 % interval {100 * interval.low:+.1f}, {100 * interval.high:+.1f}] ({interval.n_seeds} seeds, "
            f"{interval.n_images:,} test images).\nHere are the labels to look at first: {review} (ranked, most "
            f"suspicious first) and {review.with_suffix('.png')}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder with one sub-folder of images per class")
    parser.add_argument("--seeds", type=int, default=SEEDS, help=f"seeds (runs) to average (default {SEEDS})")
    args = parser.parse_args(argv)
    root = Path.cwd()
    try:
        if args.seeds < 2:
            raise ConfigError(f"--seeds = {args.seeds} is not allowed: at least 2 (an interval needs two seeds)")
        check_folder(args.folder.absolute(), load_params(path=root / "params.yaml").cleanlab.folds)
    except (ConfigError, DataError) as err:
        print(f"should_clean: {err}", file=sys.stderr)
        return 2
    command = ["dvc", "exp", "run", *overrides(args.folder.absolute(), args.seeds)]
    if subprocess.run(command, cwd=root).returncode:
        print(f"should_clean: {' '.join(command)} failed (its output above says why)", file=sys.stderr)
        return 1
    print(report(root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
