"""Precision and memory order of a fit, measured side by side: `python bench/precision.py run|report`.

run     in one sitting, interleaved (variant after variant, seed after seed), on the downloaded data
        (`dvc repro download@roman download@fashion_mnist` first):
        - the Roman-numerals CNN (params.yaml's `roman.train`, augmented) and one Fashion-MNIST MLP
          (`fashion_mnist.train`) fit on a stratified 80 % of the clean training set: time per fit,
          accuracy on the held-out 20 % (the validation split the choice is made on) and on the test set;
        - a level's stacked Fashion-MNIST MLPs (12 models, one epoch): model-samples per second;
        each for three variants: the training code before this change (fp32, NCHW; `labelsweep/training.py`
        at BEFORE, read from git) and the current code with `precision: fp32` and with `precision: bf16`
        (what `auto` resolves to on this machine is in the table's first line).
        Writes bench/out/precision.json.
report  the tables, from that file, between this script's markers in BENCHMARKS.md.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import command_line  # noqa: E402
from bench.run import machine  # noqa: E402
from labelsweep.config import Train  # noqa: E402

OUT = ROOT / "bench" / "out" / "precision.json"
BEFORE = "2a91962"  # the last commit before channels-last and the precision setting
BEGIN, END = "<!-- bench/precision.py report: begin -->", "<!-- bench/precision.py report: end -->"
SEEDS = (0, 1, 2)
STACKED = 12  # a level's stacked MLPs in the seed's sweep: the baseline and 11 thresholds


def training_before():
    """`labelsweep/training.py` as it was at BEFORE, imported as a module of its own."""
    source = subprocess.run(["git", "show", f"{BEFORE}:labelsweep/training.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "training_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("training_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def variants() -> dict:
    """name -> (fit, predict_proba, train-setting overrides)."""
    from labelsweep import training

    old = training_before()

    def fit_before(images, labels, classes, train, seed, **kwargs):  # the code before took the settings as a dict
        return old.fit(images, labels, classes, train.model_dump(), seed, **kwargs)

    return {"before (fp32, NCHW)": (fit_before, old.predict_proba, {}),
            "fp32, channels-last": (training.fit, training.predict_proba, {"precision": "fp32"}),
            "bf16 autocast, channels-last": (training.fit, training.predict_proba, {"precision": "bf16"})}


def load(dataset: str) -> tuple:
    raw = ROOT / "data" / dataset / "raw"
    return tuple(np.load(raw / f"{name}.npy") for name in ("train_images", "train_labels", "test_images",
                                                            "test_labels"))


def warm_up(images: np.ndarray, labels: np.ndarray, train: dict) -> None:
    """One short fit per variant first, so that no timed fit pays for oneDNN's first-call set-up."""
    for fit, _, change in variants().values():
        fit(images, labels, 10, Train.model_validate({**train, **change, "epochs": 1}), 0)


def accuracy_runs(dataset: str, train: dict) -> dict:
    """Per variant and seed: seconds per fit, validation and test accuracy, one model on 80 % of the training set."""
    from sklearn.model_selection import train_test_split

    images, labels, test_images, test_labels = load(dataset)
    fit_rows, val_rows = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=0)
    result = {name: [] for name in variants()}
    warm_up(images[:512], labels[:512], train)
    for seed in SEEDS:
        for name, (fit, predict, change) in variants().items():
            start = time.perf_counter()
            models = fit(images[fit_rows], labels[fit_rows], 10, Train.model_validate({**train, **change}), seed)
            seconds = time.perf_counter() - start
            val = float((predict(models, images[val_rows])[0].argmax(1) == labels[val_rows]).mean())
            test = float((predict(models, test_images)[0].argmax(1) == test_labels).mean())
            result[name].append({"seed": seed, "fit_s": seconds, "val_accuracy": val, "test_accuracy": test})
            print(f"{dataset} {name} seed {seed}: {seconds:.1f} s, val {val:.3f}, test {test:.3f}", flush=True)
    return result


def stacked_runs(train: dict) -> dict:
    """Per variant: model-samples per second of STACKED MLPs trained together for one epoch, 3 interleaved runs."""
    images, labels, _, _ = load("fashion_mnist")
    rows = np.tile(labels, (STACKED, 1))
    result = {name: [] for name in variants()}
    warm_up(images[:512], rows[:, :512], train)
    for seed in SEEDS:
        for name, (fit, _, change) in variants().items():
            start = time.perf_counter()
            fit(images, rows, 10, Train.model_validate({**train, **change, "epochs": 1}), seed)
            result[name].append(len(labels) * STACKED / (time.perf_counter() - start))
    return result


def run() -> None:
    import torch

    from labelsweep import training

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    roman, fashion = params["roman"]["train"], params["fashion_mnist"]["train"]
    result = {"machine": machine(), "threads": torch.get_num_threads(), "torch": torch.__version__,
              "native_bf16": training.cpu_has_native_bf16(),
              "auto_resolves_to": training.resolve_precision("auto", torch.device("cpu")),
              "roman": accuracy_runs("roman", roman), "fashion_mnist": accuracy_runs("fashion_mnist", fashion),
              "stacked_mlp": stacked_runs(fashion)}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


def spread(values: list[float], digits: int = 3) -> str:
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def render() -> str:
    result = json.loads(OUT.read_text())
    m = result["machine"]
    lines = [f"Machine: {m['cores']} cores, {m['cpu']}, AMX: {'yes' if result['native_bf16'] else 'no'} "
             f"(`auto` → {result['auto_resolves_to']}), {result['threads']} threads, torch {result['torch']}; "
             f"measured {m['date']}, one sitting, variants interleaved.", "",
             "| fit | variant | time per fit (median of 3) | ratio to before | validation accuracy (3 seeds) "
             "| test accuracy (3 seeds) |", "|---|---|---|---|---|---|"]
    for dataset, what in (("roman", "Roman CNN, 15 epochs"), ("fashion_mnist", "Fashion-MNIST MLP, 5 epochs")):
        runs = result[dataset]
        before = statistics.median(r["fit_s"] for r in next(iter(runs.values())))
        for name, records in runs.items():
            seconds = statistics.median(r["fit_s"] for r in records)
            lines.append(f"| {what} | {name} | {seconds:.1f} s | {seconds / before:.2f}× | "
                         f"{spread([r['val_accuracy'] for r in records])} | "
                         f"{spread([r['test_accuracy'] for r in records])} |")
    lines += ["", f"| {STACKED} stacked Fashion-MNIST MLPs, one epoch | model-samples/s (median of 3) "
              "| ratio to before |", "|---|---|---|"]
    before = statistics.median(next(iter(result["stacked_mlp"].values())))
    for name, rates in result["stacked_mlp"].items():
        lines.append(f"| {name} | {statistics.median(rates):,.0f} | {statistics.median(rates) / before:.2f}× |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    command_line(__doc__, run, render, BEGIN, END)
