"""Stage apply_prune_relabel: the training labels of one (noise level, threshold) cell.

Of the samples cleanlab flagged, the share `prune_share` with the lowest label quality is pruned and
the rest are relabelled to their suggested label (prune_share=1: prune all; 0: relabel all). Writes
one label per training sample, -1 for a pruned one.
"""

import argparse

from labelsweep import artifacts, config, stage
from labelsweep.cleaning import PRUNED, cleaned_labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prune-share", type=float, required=True)
    parser.add_argument("--noisy", required=True, help="the inject_noise stage's folder")
    parser.add_argument("--issues", required=True, help="the find_issues stage's folder")
    parser.add_argument("--out", required=True, help="output .npy file")
    args = parser.parse_args()
    config.load_params()
    prune_share = config.check_level(args.prune_share, "prune-share", upper_inclusive=True)

    (given,) = artifacts.load_arrays(args.noisy, "labels")
    flagged, quality, suggested = artifacts.load_arrays(args.issues, "flagged", "quality", "suggested")
    with stage.work():
        labels = cleaned_labels(given, flagged, quality, suggested, prune_share)
    n_pruned = int((labels == PRUNED).sum())
    print(f"prune share {prune_share}: pruned {n_pruned}, relabelled {int(flagged.sum()) - n_pruned}, "
          f"changed label of {int(((labels != given) & (labels != PRUNED)).sum())}")
    artifacts.save_npy(args.out, labels)


if __name__ == "__main__":
    stage.run(main)
