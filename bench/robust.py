"""Issue 28's robust alternatives: label smoothing's value, and what each alternative costs.
`python bench/robust.py run|report`.

run     (1) label smoothing's value, chosen on a validation split as a practitioner without clean labels would:
        Fashion-MNIST's default regime (params.yaml fashion_mnist.train), seeds 0-2, a stratified 80 % of the
        official training set trains and 20 % validates (bench/models.py's split), both with 30 % symmetric noise
        (labelsweep.noise, the run's seed); each value of VALUES (0: plain cross-entropy, for reference) trains on
        the noisy 80 %, scored by its accuracy on the *noisy* validation labels (the choice) and on the clean ones
        (shown, not used). (2) The time of one fit of every training setting of labelsweep.strategies'
        ROBUST_TRAINING beside plain cross-entropy, on the same 80 %, per regime the study runs: a training setting
        is one more fit per (regime, seed) group of a level (its cells across noise kinds train stacked).
        The test set is never read. Writes bench/out/robust.json.
report  the tables, from that file, between this script's markers in BENCHMARKS.md.
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
from bench.models import split  # noqa: E402
from bench.report import command_line  # noqa: E402

OUT = ROOT / "bench" / "out" / "robust.json"
BEGIN, END = "<!-- bench/robust.py report: begin -->", "<!-- bench/robust.py report: end -->"
SEEDS, NOISE, VALUES = (0, 1, 2), 0.3, (0.0, 0.1, 0.2, 0.3)
TIMED_REGIMES = ("default", "memorise")


def fashion_mnist() -> tuple[np.ndarray, np.ndarray]:
    from labelsweep.datasets import load_fashion_mnist

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = load_fashion_mnist(params["fashion_mnist"]["data"]["path"]).train
    return train.images, train.labels


def smoothing(images: np.ndarray, labels: np.ndarray, train: dict, seed: int) -> list[dict]:
    """Every value of VALUES at one seed: accuracy on the noisy and on the clean validation labels, seconds."""
    from labelsweep import training
    from labelsweep.config import Train
    from labelsweep.noise import inject_noise

    fit_rows, val_rows = split(labels, seed)
    noisy = inject_noise(labels[fit_rows], NOISE, 10, seed, "symmetric")[0]
    noisy_val = inject_noise(labels[val_rows], NOISE, 10, seed + 1000, "symmetric")[0]
    out = []
    for value in VALUES:
        loss = training.loss_for({"label_smoothing": value})
        start = time.perf_counter()
        models = training.fit(images[fit_rows], noisy, 10, Train.model_validate(train), seed, loss=loss)
        seconds = time.perf_counter() - start
        predicted = training.predict_proba(models, images[val_rows])[0].argmax(1)
        out.append({"seed": seed, "label_smoothing": value, "fit_s": seconds,
                    "noisy_val_accuracy": float((predicted == noisy_val).mean()),
                    "clean_val_accuracy": float((predicted == labels[val_rows]).mean())})
        print(out[-1], flush=True)
    return out


def costs(images: np.ndarray, labels: np.ndarray, params: dict) -> list[dict]:
    """Seconds of one fit of 2 stacked models (a level's two noise kinds) per training setting and regime."""
    from labelsweep import strategies, training
    from labelsweep.config import Params
    from labelsweep.early_stopping import holdout_mask
    from labelsweep.labels import NO_LABEL
    from labelsweep.sampling import stratified_indices

    section = Params.model_validate(params).dataset("fashion_mnist")
    fit_rows = split(labels, 0)[0]
    out = []
    for regime in TIMED_REGIMES:
        train, size = section.regime(regime)
        rows = fit_rows if size is None else fit_rows[np.sort(stratified_indices(labels[fit_rows], size, 0)[0])]
        given = np.vstack([labels[rows]] * 2)
        settings_of = {"cross_entropy": None, **strategies.ROBUST_TRAINING}
        del settings_of[strategies.GCE_PRUNE_ALL]  # gce's settings: trained in gce's fit
        for name, settings in settings_of.items():
            holdout = None
            fitted = given
            if (settings or {}).get("early_stopping"):
                held = holdout_mask(given[0], params["early_stopping"]["holdout"], 0)
                fitted, holdout = np.where(held, NO_LABEL, given), np.where(held, given, NO_LABEL)
            start = time.perf_counter()
            training.fit(images[rows], fitted, 10, train, 0, members=np.ones(len(rows), bool),
                         loss=training.loss_for(settings), holdout=holdout)
            out.append({"regime": regime, "training": name, "fit_s": time.perf_counter() - start})
            print(out[-1], flush=True)
    return out


def run() -> None:
    import torch

    from bench.run import machine

    torch.set_num_threads(1)  # the cores are shared with other jobs (bench/models.py search: one thread each)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    images, labels = fashion_mnist()
    result = {"machine": machine(), "noise": NOISE, "smoothing": [], "costs": []}
    for seed in SEEDS:
        result["smoothing"] += smoothing(images, labels, params["fashion_mnist"]["train"], seed)
        OUT.write_text(json.dumps(result, indent=2) + "\n")
    result["costs"] = costs(images, labels, params)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


def chosen(records: list[dict]) -> float:
    """The value of 0.1-0.3 with the best mean accuracy on the noisy validation labels."""
    means = {v: statistics.mean(r["noisy_val_accuracy"] for r in records if r["label_smoothing"] == v)
             for v in VALUES if v > 0}
    return max(means, key=means.get)


def render() -> str:
    result = json.loads(OUT.read_text())
    records, best = result["smoothing"], chosen(result["smoothing"])
    lines = [f"Label smoothing on Fashion-MNIST's default regime at {100 * result['noise']:g} % symmetric noise, "
             f"seeds {', '.join(map(str, SEEDS))}: a stratified 80 % of the training set (noisy) trains, 20 % "
             "validates; the value is chosen on the *noisy* validation labels, as one without clean labels would "
             f"(0 is plain cross-entropy, for reference). Chosen: **{best:g}**. Machine: {result['machine']['cpu']}, "
             f"{result['machine']['cores']} cores, shared with other jobs while it ran (times are indicative).", "",
             "| label smoothing | noisy validation accuracy | clean validation accuracy | seconds per fit |",
             "|---|---|---|---|"]
    for value in VALUES:
        rows = [r for r in records if r["label_smoothing"] == value]
        noisy = statistics.mean(r["noisy_val_accuracy"] for r in rows)
        clean = statistics.mean(r["clean_val_accuracy"] for r in rows)
        lines.append(f"| {value:g}{' (chosen)' if value == best else ''} | {noisy:.4f} | {clean:.4f} | "
                     f"{statistics.median(r['fit_s'] for r in rows):.1f} |")
    lines += ["", "One fit of two stacked models (a level's two noise kinds) per training setting: each robust setting "
              "is one such fit more per (regime, seed) group of a study level (gce and gce_prune_all share one).", "",
              "| regime | training | seconds per fit |", "|---|---|---|"]
    lines += [f"| {c['regime']} | {c['training']} | {c['fit_s']:.1f} |" for c in result["costs"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    command_line(__doc__, run, render, BEGIN, END)
