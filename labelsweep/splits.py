"""Every class keeps images on both sides of a held-out test split, or the split is refused naming the class.

An image folder without a test folder holds out a stratified `test_share` of its training images
(labelsweep.datasets). scikit-learn's stratified split fails with a traceback on a class of one image, and can
give a small class no test image at all: its accuracy would then go unmeasured without a word. These checks run
around the split and say which class is too small and which setting to change.
"""

from __future__ import annotations

import numpy as np

from labelsweep.errors import DataError, not_allowed


def check_class_sizes(labels: np.ndarray, classes: list[str], name: str) -> None:
    """Refuse a class with fewer than 2 images: a held-out split needs one to train on and one to test."""
    counts = np.bincount(labels, minlength=len(classes))
    for cls, count in zip(classes, counts):
        if count < 2:
            raise DataError(f"{name}.data: class {cls} has {count} image (after deduplication), but holding out "
                            f"{name}.data.test_share needs at least 2 per class (one to train on, one to test): add "
                            f"images of {cls}, or set {name}.data.test_dir to a folder of test images")


def check_split(labels: np.ndarray, test_idx: np.ndarray, classes: list[str], name: str, share: float) -> None:
    """Refuse a split that leaves a class without a test image or without a training image."""
    counts = np.bincount(labels, minlength=len(classes))
    in_test = np.bincount(labels[test_idx], minlength=len(classes))
    for cls, count, tested in zip(classes, counts, in_test):
        if tested == 0:
            raise not_allowed(f"{name}.data.test_share", share, f"class {cls} ({count} images) gets no test image: "
                              f"raise it (to about {1 / count:.2f} for one), or set {name}.data.test_dir")
        if tested == count:
            raise not_allowed(f"{name}.data.test_share", share, f"class {cls} ({count} images) keeps no training "
                              f"image: lower it, or add images of {cls}")
