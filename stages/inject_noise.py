"""Stage inject_noise: flip exactly round(noise_level * n) training labels, each to another class.

The test set is never touched. Writes a folder with the noisy labels (`labels.npy`) and the
ground-truth mask of flipped samples (`flipped.npy`); the original labels stay in the raw folder.
"""

import argparse
from pathlib import Path

import numpy as np

from labelsweep import artifacts, config, stage
from labelsweep.noise import inject_symmetric_noise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--noise-level", type=float, required=True)
    parser.add_argument("--raw", required=True, help="the download stage's folder")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args()
    params = config.load_params()
    noise_level = config.check_level(args.noise_level, "noise-level", upper_inclusive=False)

    true_labels = np.load(Path(args.raw) / "train_labels.npy")
    n_classes = len(artifacts.load_classes(args.raw))
    with stage.work():
        noisy_labels, flipped = inject_symmetric_noise(true_labels, noise_level, n_classes, params["seed"])
    print(f"noise {noise_level}: flipped {flipped.sum()} of {len(true_labels)} labels")
    artifacts.save_arrays(args.out, {"labels": noisy_labels, "flipped": flipped})


if __name__ == "__main__":
    stage.run(main)
