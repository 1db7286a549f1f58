"""Model and regime choices, made on a validation split: `python bench/models.py run|report`.

run     for each candidate training setting (CANDIDATES: on top of the dataset's `train` in params.yaml), on
        the downloaded data (`dvc repro download@roman download@fashion_mnist` first), seeds 0-2:
        a stratified 80 % of the training set (seeded) trains, the other 20 % is the validation split;
        - clean: trained on the true labels -> validation accuracy (what the choice is made on);
        - noisy: trained on the same 80 % with 30 % symmetric noise (labelsweep.noise) -> validation
          accuracy, and memorisation: the share of its flipped training labels the model predicts at the
          end of training (a model that does not fit its wrong labels: near 0; one that memorises them: near 1);
        and the median time per fit. The test set is never read. Writes bench/out/models.json.
report  the table, from that file, between this script's markers in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import command_line  # noqa: E402
from labelsweep.config import Train  # noqa: E402

OUT = ROOT / "bench" / "out" / "models.json"
BEGIN, END = "<!-- bench/models.py report: begin -->", "<!-- bench/models.py report: end -->"
SEEDS, NOISE = (0, 1, 2), 0.3
# (dataset, regime, name) -> overrides of the dataset's train section (train_size: a stratified subsample of the
# 80 %, as a regime's). The first of each (dataset, regime) is the setting before this comparison.
CANDIDATES = {
    ("roman", "default", "width 16, 15 epochs, batch 128 (before)"): {},
    ("roman", "default", "width 16, 10 epochs, batch 128"): {"epochs": 10},
    ("roman", "default", "width 12, 15 epochs, batch 128"): {"width": 12},
    ("roman", "default", "width 16, 15 epochs, batch 256"): {"batch_size": 256, "lr": 0.008},
    ("roman", "default", "width 8, 15 epochs, batch 64"): {"width": 8, "batch_size": 64, "lr": 0.003},
    ("fashion_mnist", "default", "5 epochs (before)"): {},
    ("fashion_mnist", "default", "3 epochs"): {"epochs": 3},
    ("fashion_mnist", "memorise", "10,000 samples, 60 epochs (before)"): {"train_size": 10000, "epochs": 60},
    ("fashion_mnist", "memorise", "5,000 samples, 60 epochs"): {"train_size": 5000, "epochs": 60},
    ("fashion_mnist", "memorise", "5,000 samples, 40 epochs"): {"train_size": 5000, "epochs": 40},
}


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=seed)


def one(images: np.ndarray, labels: np.ndarray, train: dict, seed: int) -> dict:
    """Clean and noisy fits of one candidate and seed: validation accuracies, memorisation, seconds per fit."""
    from labelsweep import training
    from labelsweep.datasets import stratified_indices
    from labelsweep.noise import inject_noise

    fit_rows, val_rows = split(labels, seed)
    train = dict(train)
    size = train.pop("train_size", None)
    if size is not None:
        fit_rows = fit_rows[np.sort(stratified_indices(labels[fit_rows], size, seed)[0])]
    noisy, flipped = inject_noise(labels[fit_rows], NOISE, 10, seed, "symmetric")
    result, seconds = {}, []
    for name, given in (("clean", labels[fit_rows]), ("noisy", noisy)):
        start = time.perf_counter()
        models = training.fit(images[fit_rows], given, 10, Train.model_validate(train), seed)
        seconds.append(time.perf_counter() - start)
        val = training.predict_proba(models, images[val_rows])[0].argmax(1)
        result[f"{name}_val_accuracy"] = float((val == labels[val_rows]).mean())
        if name == "noisy":
            fitted = training.predict_proba(models, images[fit_rows][flipped])[0].argmax(1)
            result["memorised"] = float((fitted == noisy[flipped]).mean())
    return {**result, "fit_s": statistics.median(seconds)}


def run() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.run import machine

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    result = {"machine": machine(), "noise": NOISE, "candidates": []}
    for (dataset, regime, name), change in CANDIDATES.items():
        raw = ROOT / "data" / dataset / "raw"
        images, labels = np.load(raw / "train_images.npy"), np.load(raw / "train_labels.npy")
        train = {**params[dataset]["train"], **change}
        runs = [{"seed": seed, **one(images, labels, train, seed)} for seed in SEEDS]
        result["candidates"].append({"dataset": dataset, "regime": regime, "name": name, "train": train,
                                     "runs": runs})
        print(dataset, regime, name, runs, flush=True)
        OUT.write_text(json.dumps(result, indent=2) + "\n")


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def render() -> str:
    result = json.loads(OUT.read_text())
    m = result["machine"]
    lines = [f"Machine: {m['cores']} cores, {m['cpu']}; measured {m['date']}. Each candidate on top of the "
             "dataset's `train` section of params.yaml at the time; seeds 0–2; a stratified 80 % of the training "
             f"set trains, 20 % validates (the test set is not read); noisy: {100 * result['noise']:g} % symmetric "
             "noise in the 80 %.", "",
             "| dataset | regime | candidate | clean: validation accuracy | noisy: validation accuracy "
             "| noisy: flipped labels memorised | time per fit (median) |", "|---|---|---|---|---|---|---|"]
    for entry in result["candidates"]:
        runs = entry["runs"]
        lines.append(f"| {entry['dataset']} | {entry['regime']} | {entry['name']} | "
                     f"{spread([r['clean_val_accuracy'] for r in runs])} | "
                     f"{spread([r['noisy_val_accuracy'] for r in runs])} | {spread([r['memorised'] for r in runs])} | "
                     f"{statistics.median(r['fit_s'] for r in runs):.1f} s |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    command_line(__doc__, run, render, BEGIN, END)
