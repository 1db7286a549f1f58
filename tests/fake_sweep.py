"""A made-up sweep in the plot stage's input formats, so that the plot stage and its page run without training.

`write_sweep` writes, under a project folder, what the stages before plot leave for one dataset: the download
stage's arrays (data/<dataset>/raw), each level's find_issues arrays and detection record, and each level's
train_eval table (baseline + one row per prune share). Accuracies follow a smooth, seeded pattern (falling with
noise; cleanlab's gain rising with noise and with the prune share) so the figures have something to show.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts
from labelsweep.cleaning import detection_metrics, label_errors
from labelsweep.config import FILTER_BY

CLASSES = ["i", "ii", "iii", "iv", "v"]


def write_sweep(project: Path, dataset: str, levels: list[float], shares: list[float], seed: int = 0,
                samples: int = 60) -> None:
    rng = np.random.default_rng(seed)
    raw = project / "data" / dataset / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    truth = rng.integers(0, len(CLASSES), samples)
    images = (rng.random((samples, 1, 12, 12)) * 255).astype(np.uint8)
    np.save(raw / "train_images.npy", images)
    np.save(raw / "train_labels.npy", truth)
    ids = [f"train/{CLASSES[c]}/{i:04d}abcdefgh.png" for i, c in enumerate(truth)]
    (raw / "train_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (raw / "classes.json").write_text(json.dumps(CLASSES))
    results = project / "data" / dataset
    artifacts.save_json(results / "summary.json", {"train_samples": samples, "test_samples": samples,
                                                   "classes": CLASSES, "image_shape": [1, 12, 12], "dedup": None})
    for level in levels:
        flipped = rng.permutation(samples) < round(level * samples)
        given = np.where(flipped, (truth + 1) % len(CLASSES), truth)
        quality = np.where(flipped, rng.random(samples) * 0.4, 0.3 + rng.random(samples) * 0.7).astype(np.float32)
        flagged = quality < 0.35
        suggested = np.where(flagged, truth, given)
        artifacts.save_arrays(artifacts.issues_dir(project / "data" / dataset / "issues", level),
                              {"given": given, "flagged": flagged, "quality": quality, "suggested": suggested},
                              extra={"label_issues.csv": "sample_id\n"})
        # The detection record as find_issues writes it, from the same functions.
        by_filter = {method: detection_metrics(quality < threshold, flipped)
                     for method, threshold in zip(FILTER_BY, np.linspace(0.25, 0.45, len(FILTER_BY)))}
        artifacts.save_json(artifacts.detection_json(results, level), {
            "noise_level": level, **detection_metrics(flagged, flipped, quality),
            **label_errors(truth, given, flagged, suggested), "by_filter": by_filter})
        baseline = 0.9 - 0.6 * level**2
        accuracy = [baseline, *(baseline + level * (0.05 * share - 0.02) + rng.normal(0, 0.002) for share in shares)]
        artifacts.save_csv(artifacts.accuracy_csv(results, level), pd.DataFrame({
            "noise_level": level, "strategy": ["baseline"] + ["prune_relabel"] * len(shares),
            "prune_share": [np.nan, *shares], "test_accuracy": np.round(accuracy, 6),
            "train_samples": samples, "pruned": 0, "changed_labels": 0}))
