"""Stage train_eval: train on one set of training labels and measure accuracy on the clean test set.

The labels are either the noisy labels as they are (the baseline) or a cell's pruned/relabelled
labels (-1 = left out). Every cell trains the same model with the same seed, so differences between
cells come from the labels alone. Writes a small metrics JSON.
"""

import argparse
from pathlib import Path

import numpy as np

from labelsweep import artifacts, config, stage
from labelsweep.cleaning import PRUNED


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--noise-level", type=float, required=True)
    parser.add_argument("--prune-share", type=float, help="the cell's threshold; omit for the baseline")
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--labels", required=True, help=".npy training labels, -1 for a pruned sample")
    parser.add_argument("--metrics", required=True, help="output JSON")
    args = parser.parse_args()
    params = config.load_params(args.dataset)
    noise_level = config.check_level(args.noise_level, "noise-level", upper_inclusive=False)
    if args.prune_share is not None:
        config.check_level(args.prune_share, "prune-share", upper_inclusive=True)

    labels = np.load(args.labels)
    keep = labels != PRUNED
    if not keep.any():
        raise stage.DataError(f"{args.labels}: every training sample is pruned, nothing is left to train on")
    raw = Path(args.raw)
    n_classes = len(artifacts.load_classes(raw))

    from labelsweep.training import fit, predict_proba

    images = np.load(raw / "train_images.npy")
    model = fit(images[keep], labels[keep], n_classes, params[args.dataset]["train"], params["seed"],
                desc=f"train {args.dataset} noise {noise_level} prune {args.prune_share}")
    predicted = predict_proba(model, np.load(raw / "test_images.npy")).argmax(axis=1)
    accuracy = float((predicted == np.load(raw / "test_labels.npy")).mean())
    print(f"{args.dataset} noise {noise_level} prune share {args.prune_share}: test accuracy {accuracy:.4f}")
    artifacts.save_json(args.metrics, {
        "dataset": args.dataset,
        "noise_level": noise_level,
        "prune_share": args.prune_share,
        "test_accuracy": round(accuracy, 6),
        "train_samples": int(keep.sum()),
        "pruned": int((~keep).sum()),
    })


if __name__ == "__main__":
    stage.run(main)
