"""A made-up sweep in the plot stage's input formats, so that the plot stage and its page run without training.

`write_sweep` writes, under a project folder, what the stages before plot leave for one dataset, in the layout of
the runs (issue 12; labelsweep.runs): the download stage's arrays (data/<dataset>/raw) and summary; each level's
inject_noise folder (labels and flip masks, one row per run, -1 outside a run's subsample, runs.csv and the
realised noise, noise.json); its find_issues arrays (one row per run), label_issues.csv and detection record
({"noise_level", "runs": [one record per run, with by_filter]}); and its train_eval table (one row per cell: the
baseline, prune_relabel per share and the strategies, for every run) with its test-set predictions (right on as
many test images as its accuracy says).
Noise, cells and scores come from the real functions (labelsweep.noise, labelsweep.cleaning); only cleanlab's flags
and the accuracies are made up. Accuracies follow a smooth, seeded pattern (falling with noise; cleanlab's gain
rising with noise and with the prune share) so the figures have something to show. tests/test_pipeline.py checks
that this layout is the real stages'.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts, runs
from labelsweep.checks import FILTER_BY, STRATEGIES
from labelsweep.cleaning import detection_metrics, label_errors
from labelsweep.labels import NO_LABEL
from labelsweep.noise import draw_noise, noise_record

from .conftest import training_cells

CLASSES = ["i", "ii", "iii", "iv", "v"]
# The runs of every level (noise kind, regime, seed) unless told otherwise: the study's shape, smaller.
# Each run in both grids (the seed's sweep and the study), so that both the study's figures and the sweep's have data.
RUNS = [runs.Run(kind, regime, seed, sweep=True, study=True) for regime in ("default", "memorise")
        for kind in ("symmetric", "class_conditional") for seed in (0, 1)]
REGIME_SIZES = {"memorise": 40}  # a regime's training subsample (train_size); other regimes train on every sample
# A made-up accuracy offset per cell kind, on top of the baseline's (see _accuracy).
OFFSETS = {"perfect_detection": 0.04, "random_removal": -0.01, "confident_relabel": 0.02}


def write_sweep(project: Path, dataset: str, levels: list[float], shares: list[float], seed: int = 0,
                samples: int = 60, *, plan: list[runs.Run | tuple[str, str, int]] | None = None,
                strategies: list[str] | tuple[str, ...] = STRATEGIES, regime_sizes: dict[str, int] | None = None,
                confident_min: float = 0.95) -> None:
    """Write the made-up sweep of `dataset` at `levels` with the prune-share grid `shares`.

    `plan` (default :data:`RUNS`) are the runs of every level, `regime_sizes` (default :data:`REGIME_SIZES`) the
    training subsample of a regime, `strategies` the cells besides the baseline and the grid.
    """
    plan = [run if isinstance(run, runs.Run) else runs.Run(*run) for run in (RUNS if plan is None else plan)]
    sizes = REGIME_SIZES if regime_sizes is None else regime_sizes
    rng = np.random.default_rng(seed)
    raw = project / "data" / dataset / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    truth = rng.integers(0, len(CLASSES), samples)
    images = (rng.random((samples, 1, 12, 12)) * 255).astype(np.uint8)
    np.save(raw / "train_images.npy", images)
    np.save(raw / "train_labels.npy", truth)
    ids = np.array([f"train/{CLASSES[c]}/{i:04d}abcdefgh.png" for i, c in enumerate(truth)])
    (raw / "train_ids.txt").write_text("".join(f"{i}\n" for i in ids))
    (raw / "classes.json").write_text(json.dumps(CLASSES))
    results = project / "data" / dataset
    test_truth = np.random.default_rng([seed, 7]).integers(0, len(CLASSES), samples)  # its own stream: the rest
    np.save(raw / "test_labels.npy", test_truth)  # of the made-up sweep stays as it was
    artifacts.save_json(results / "summary.json", {"train_samples": samples, "test_samples": samples,
                                                   "classes": CLASSES, "image_shape": [1, 12, 12], "dedup": None})
    confusable = (np.arange(len(CLASSES)) + 1) % len(CLASSES)  # i -> ii -> ... -> v -> i
    members = {}  # a regime and seed's training subsample, shared by the noise kinds
    for run in plan:
        if (run.regime, run.seed) not in members:
            size = sizes.get(run.regime)
            chosen = np.random.default_rng([seed, run.seed]).permutation(samples)[:size]
            members[run.regime, run.seed] = np.arange(samples) if size is None else np.sort(chosen)

    for level in levels:
        shape = (len(plan), samples)
        labels, flipped = np.full(shape, NO_LABEL, dtype=np.int64), np.zeros(shape, dtype=bool)
        flagged, quality = np.zeros(shape, dtype=bool), np.full(shape, np.nan, dtype=np.float32)
        suggested, suggested_prob = labels.copy(), np.full(shape, np.nan, dtype=np.float32)
        tables, records, accuracy, realised = [], [], [], []
        for r, run in enumerate(plan):
            inside = members[run.regime, run.seed]
            noise = draw_noise(truth[inside], level, len(CLASSES), run.seed, run.noise_kind, confusable)
            labels[r, inside], flipped[r, inside] = noise.noisy, noise.flipped
            realised.append({"noise_kind": run.noise_kind, "regime": run.regime, "seed": run.seed,
                             **noise_record(truth[inside], noise, level, len(CLASSES))})
            n = len(inside)
            flips = flipped[r, inside]
            quality[r, inside] = np.where(flips, rng.random(n) * 0.4, 0.3 + rng.random(n) * 0.7)
            flagged[r, inside] = quality[r, inside] < 0.35
            flags = flagged[r, inside]
            suggested[r, inside] = np.where(flags, truth[inside], labels[r, inside])
            suggested_prob[r, inside] = np.where(flags, 0.5 + rng.random(n) * 0.5, np.nan)
            given, q = labels[r, inside], quality[r, inside]
            tables.append(pd.DataFrame({
                "noise_kind": run.noise_kind, "regime": run.regime, "seed": run.seed, "sample_id": ids[inside],
                "original_label": truth[inside], "given_label": given, "label_quality": q,
                "flagged": flags.astype(int), "suggested_label": suggested[r, inside]}))
            # The detection record as find_issues writes it, from the same functions.
            by_filter = {method: detection_metrics(q < threshold, flips)
                         for method, threshold in zip(FILTER_BY, np.linspace(0.25, 0.45, len(FILTER_BY)))}
            records.append({"noise_kind": run.noise_kind, "regime": run.regime, "seed": run.seed, "sweep": run.sweep,
                            "study": run.study,
                            **detection_metrics(flags, flips, q),
                            **label_errors(truth[inside], given, flags, suggested[r, inside]),
                            "by_filter": by_filter})
            cells = training_cells(given, truth[inside], flips, flags, q, suggested[r, inside],
                                   suggested_prob[r, inside], sorted(shares), list(strategies), confident_min,
                                   np.random.default_rng([seed, r]))
            for strategy, share, cell in cells:
                kept = cell != NO_LABEL
                accuracy.append({
                    "noise_level": level, "noise_kind": run.noise_kind, "regime": run.regime, "seed": run.seed,
                    "strategy": strategy, "prune_share": share,
                    "test_accuracy": _accuracy(level, run, strategy, share, rng),
                    "train_samples": int(kept.sum()), "wrong_labels": int((kept & (cell != truth[inside])).sum()),
                    "memorised": 0, "sweep": run.sweep and strategy in ("baseline", "prune_relabel"),
                    "study": run.study, "precision": "fp32"})
        artifacts.save_arrays(project / "data" / dataset / "noisy" / artifacts.level_name(level),
                              {"labels": labels, "flipped": flipped},
                              extra={"runs.csv": runs.table_csv(plan), "noise.json": json.dumps(
                                  {"noise_level": level, "classes": CLASSES, "runs": realised}, indent=1) + "\n"})
        extra = {"label_issues.csv": pd.concat(tables).to_csv(index=False, float_format="%.6f", lineterminator="\n")}
        full = [r for r in range(len(plan)) if (labels[r] != NO_LABEL).all()]
        if level == 0 and full:  # find_issues' review of the dataset's own labels, the first full run's flags
            r, names = full[0], np.array(CLASSES)
            extra["review.csv"] = pd.DataFrame({
                "sample_id": ids, "given_label": names[truth], "label_quality": quality[r],
                "flagged": flagged[r].astype(int), "suggested_label": names[suggested[r]],
                "suggested_prob": np.nan_to_num(suggested_prob[r], nan=0.5), "runs_averaged": 1,
            }).sort_values(["label_quality", "sample_id"]).to_csv(index=False, lineterminator="\n")
        artifacts.save_arrays(project / "data" / dataset / "issues" / artifacts.level_name(level),
                              {"flagged": flagged, "quality": quality, "suggested": suggested,
                               "suggested_prob": suggested_prob}, extra=extra)
        artifacts.save_json(artifacts.detection_json(results, level), {"noise_level": level, "runs": records})
        artifacts.save_csv(artifacts.accuracy_csv(results, level), pd.DataFrame(accuracy))
        artifacts.save_npy(artifacts.predictions_npy(results, level), _predictions(accuracy, test_truth, seed))


def _predictions(accuracy: list[dict], truth: np.ndarray, seed: int) -> np.ndarray:
    """train_eval's test-set predictions, one row per accuracy row: right on round(accuracy x images) test images,
    the same images first for every cell of a regime and seed (so that their differences are paired per image)."""
    predicted = np.empty((len(accuracy), len(truth)), dtype=np.int16)
    for i, row in enumerate(accuracy):
        order = np.random.default_rng([seed, row["seed"], len(row["regime"])]).permutation(len(truth))
        right = np.zeros(len(truth), dtype=bool)
        right[order[: round(row["test_accuracy"] * len(truth))]] = True
        predicted[i] = np.where(right, truth, (truth + 1) % len(CLASSES))
    return predicted


def _accuracy(level: float, run: runs.Run, strategy: str, share: float, rng: np.random.Generator) -> float:
    """A made-up test accuracy: falling with noise (more for class_conditional noise and the memorising regime),
    cleanlab's gain rising with noise and the share, the true labels at the top; a little seeded jitter."""
    baseline = 0.9 - 0.6 * level**2 - (0.05 * level if run.noise_kind == "class_conditional" else 0)
    baseline -= 0.1 * level if run.regime != "default" else 0
    if strategy == "true_labels":
        value = 0.9
    elif strategy in ("prune_relabel", "keep_rest"):
        value = baseline + level * (0.05 * share - 0.02) * (0.5 if strategy == "keep_rest" else 1)
    else:
        value = baseline + level * OFFSETS.get(strategy, 0)
    jitter = 0 if strategy == "true_labels" or (strategy == "baseline" and math.isclose(level, 0)) else 1
    return round(float(value + jitter * rng.normal(0, 0.002) + 0.001 * run.seed), 6)
