"""Stage apply_prune_relabel: the training labels of every threshold cell of one noise level.

For each prune share t of the threshold grid (params.yaml `thresholds`): of the samples cleanlab
flagged, the share t with the lowest label quality is pruned and the rest are relabelled to their
suggested label (t=1: prune all; t=0: relabel all). Writes a folder: `labels.npy` (one row per
threshold, one label per training sample, -1 for a pruned one) and `prune_shares.npy` (the row order).
"""

import argparse

import numpy as np

from labelsweep import artifacts, config, stage
from labelsweep.cleaning import PRUNED, cleaned_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--noisy", required=True, help="the inject_noise stage's folder")
    parser.add_argument("--issues", required=True, help="the find_issues stage's folder")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()
    prune_shares = np.array(sorted(config.load_params()["thresholds"]), dtype=np.float64)

    (given,) = artifacts.load_arrays(args.noisy, "labels")
    flagged, quality, suggested = artifacts.load_arrays(args.issues, "flagged", "quality", "suggested")
    with stage.work():
        labels = np.stack([cleaned_labels(given, flagged, quality, suggested, t) for t in prune_shares])
    for prune_share, row in zip(prune_shares, labels):
        n_pruned = int((row == PRUNED).sum())
        print(f"prune share {prune_share}: pruned {n_pruned}, relabelled {int(flagged.sum()) - n_pruned}, "
              f"changed label of {int(((row != given) & (row != PRUNED)).sum())}")
    artifacts.save_arrays(args.out, {"labels": labels, "prune_shares": prune_shares})


if __name__ == "__main__":
    stage.run(main)
