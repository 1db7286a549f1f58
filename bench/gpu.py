"""The GPU benchmark's parts, run by bench/gpu.sh (which says what each writes): install | env | fit | sweep.

install  a venv (no pip) that sees the calling interpreter's packages (PyTorch, numpy, pandas, scikit-learn ...)
         behind the wheels of bench/gpu_payload/wheels unpacked into it: the GPU machine reaches no index.
env      the GPU, PyTorch, CUDA, cuDNN and TF32 settings into env.json.
fit      Fashion-MNIST CNN fits through labelsweep.training.fit (what the stages run): one model on all 60,000
         images, the 5 fold models of a run, a level's 12 cells (the baseline and 11 thresholds), each in fp32 and
         bf16, GPU utilisation sampled by nvidia-smi every 200 ms; one JSON line per fit into fits.jsonl.
sweep    the seed's sweep's stages with the CNN (`python -m stages.<name>` in dvc.yaml's order, in a scratch copy
         of the code with an empty data folder): download, then level by level until the budget would be
         exceeded, the levels ordered to spread over 0-50 % first; sweep_stages.csv and the stages' own records.
Only the standard library is imported at the top: `install` runs before anything else is there.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import tempfile
import time
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = ROOT / "bench" / "gpu_payload"
FASHION_MNIST = PAYLOAD / "fashion-mnist"
# The seed's sweep's levels, spread first: the first few levels measured cover the range.
LEVELS = [0.0, 0.3, 0.5, 0.1, 0.4, 0.2, 0.45, 0.05, 0.35, 0.15, 0.25]
LEVEL_STAGES = ["inject_noise", "crossval_probs", "find_issues", "apply_prune_relabel", "train_eval"]
SMOKE_SAMPLES = 500


def install(target: Path) -> None:
    """A venv at `target` with this interpreter's packages (a .pth file lists its site folders, which a venv made
    from inside another venv or conda would not see) behind the payload's wheels for this Python, unpacked."""
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True, clear=True).create(target)
    python = target / "bin" / "python"
    purelib = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                            "['purelib'])"], text=True).strip())
    outer = [*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    # `import` lines of a .pth run: addsitedir also reads the .pth files of those folders, as their own Python does.
    lines = [f"import site; site.addsitedir({p!r})" for p in dict.fromkeys(outer) if Path(p).is_dir()]
    (purelib / "zz_outer_site.pth").write_text("\n".join(lines) + "\n")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for wheel in sorted((PAYLOAD / "wheels").glob("*.whl")):
        python_tag = wheel.name.split("-")[-3]
        if python_tag.startswith("py3") or python_tag == tag:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(purelib)
            print("unpacked", wheel.name)
    check = ("import torch, numpy, pandas, sklearn, scipy, tqdm, yaml, pydantic, cleanlab, pytest\n"
             "print(torch.__version__)")
    print("venv python", python, "sees torch", subprocess.check_output([str(python), "-c", check], text=True).strip())


def environment(out: Path) -> None:
    import numpy
    import torch

    info = {"date": time.strftime("%F"), "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": numpy.__version__,
            "cuda_available": torch.cuda.is_available(), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "cores": os.cpu_count(),
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    capability=".".join(map(str, torch.cuda.get_device_capability(0))),
                    bf16_supported=torch.cuda.is_bf16_supported())
    (out / "env.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


class GpuSampler:
    """`nvidia-smi` sampling utilisation and memory every 200 ms into `path` while the block runs (nothing
    without nvidia-smi); :meth:`summary` gives their mean and maximum over the block."""

    def __init__(self, path: Path) -> None:
        self.path, self.process = path, None

    def __enter__(self) -> GpuSampler:
        if shutil.which("nvidia-smi"):
            self.process = subprocess.Popen(
                ["nvidia-smi", "--query-gpu=timestamp,utilization.gpu,memory.used", "--format=csv,noheader,nounits",
                 "-lms", "200"], stdout=self.path.open("w"), stderr=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)

    def summary(self) -> dict:
        rows = [line.split(", ") for line in self.path.read_text().splitlines()] if self.process else []
        util = [float(r[1]) for r in rows if len(r) == 3 and r[1].strip().isdigit()]
        memory = [float(r[2]) for r in rows if len(r) == 3 and r[2].strip().isdigit()]
        if not util:
            return {"gpu_util_mean": None, "gpu_util_max": None, "gpu_mem_max_mib": None, "gpu_samples": 0}
        return {"gpu_util_mean": round(sum(util) / len(util), 1), "gpu_util_max": max(util),
                "gpu_mem_max_mib": max(memory), "gpu_samples": len(util)}


def train_settings(smoke: bool) -> dict:
    import yaml

    train = yaml.safe_load((ROOT / "params.yaml").read_text())["fashion_mnist"]["train"]
    return {**train, "model": "cnn", "device": "cpu" if smoke else "cuda", "epochs": 1 if smoke else train["epochs"]}


def fit_cases(labels, folds: int = 5, cells: int = 12) -> list[tuple[str, object]]:
    """(name, label rows): one model; the fold models of a run (fold k's labels hidden from model k); a level's
    cells (row i prunes a random 3*i % of the samples, as the thresholds prune ever more of the flagged)."""
    import numpy as np

    from labelsweep.labels import NO_LABEL

    rng = np.random.default_rng(0)
    fold = rng.integers(0, folds, len(labels))
    fold_rows = np.where(fold[None, :] == np.arange(folds)[:, None], NO_LABEL, labels[None, :])
    cell_rows = np.vstack([np.where(rng.random(len(labels)) < 0.03 * i, NO_LABEL, labels) for i in range(cells)])
    return [("one model", labels[None, :]), (f"{folds} fold models", fold_rows), (f"{cells} cells", cell_rows)]


def fit_benchmark(out: Path, smoke: bool) -> None:
    """Every case of :func:`fit_cases` in fp32 and bf16 (and the cells in bf16 with 4x the batch, what a GPU-sized
    batch would give), timed to the GPU's last step, after a warm-up fit that pays CUDA's and cuDNN's start-up."""
    import torch

    sys.path.insert(0, str(ROOT))
    from labelsweep import datasets, training
    from labelsweep.config import Train

    data = datasets.load_fashion_mnist(str(FASHION_MNIST))
    images, labels = data.train.images, data.train.labels
    if smoke:
        images, labels = images[:SMOKE_SAMPLES], labels[:SMOKE_SAMPLES]
    base = train_settings(smoke)
    sync = torch.cuda.synchronize if torch.cuda.is_available() and not smoke else (lambda: None)
    for precision in ("fp32", "bf16"):
        training.fit(images[:512], labels[None, :512], 10,
                     Train.model_validate({**base, "precision": precision, "epochs": 1}), seed=0)
    sync()
    cases = [(name, rows, precision, base["batch_size"]) for name, rows in fit_cases(labels)
             for precision in ("fp32", "bf16")]
    cases.append((cases[-1][0], cases[-1][1], "bf16", 4 * base["batch_size"]))
    for i, (name, rows, precision, batch_size) in enumerate(cases):
        train = {**base, "precision": precision, "batch_size": batch_size}
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        with GpuSampler(out / f"gpu_util_fit{i}.csv") as sampler:
            start = time.perf_counter()
            training.fit(images, rows, 10, Train.model_validate(train), seed=0, desc=name)
            sync()
            seconds = time.perf_counter() - start
        n, epochs, models = len(images), train["epochs"], len(rows)
        peak = round(torch.cuda.max_memory_allocated() / 2**20) if torch.cuda.is_available() else None
        record = {"fit": name, "models": models, "precision": precision, "batch_size": batch_size,
                  "samples": n, "epochs": epochs, "seconds": round(seconds, 3),
                  "images_per_s": round(epochs * n / seconds),
                  "model_samples_per_s": round(models * epochs * n / seconds), "torch_peak_mib": peak,
                  **sampler.summary()}
        print(json.dumps(record), flush=True)
        with (out / "fits.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")


def sweep_params(smoke: bool) -> dict:
    """params.yaml as the seed's sweep runs it (bench/run.py's SEED_GRID) for Fashion-MNIST with the CNN, the data
    read from the payload; in smoke mode a 500-image subsample, one epoch, on the CPU."""
    import yaml

    sys.path.insert(0, str(ROOT))
    from bench.run import SEED_GRID

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params.update(SEED_GRID, datasets=["fashion_mnist"], study=None)
    section = params["fashion_mnist"]
    section["data"]["path"] = str(FASHION_MNIST)
    section["train"].update(model="cnn", device="cpu" if smoke else "auto")
    if smoke:
        section["data"].update(train_subsample=SMOKE_SAMPLES, test_subsample=200)
        section["train"]["epochs"] = 1
    return params


def stage_command(stage: str, level: float | None) -> list[str]:
    """dvc.yaml's command of `stage` for Fashion-MNIST at `level` (its matrix expanded here: no DVC on the GPU)."""
    d, n = "data/fashion_mnist", f"noise_{level}"
    args = {
        "download": ["--dataset", "fashion_mnist", "--out", f"{d}/raw", "--summary", f"{d}/summary.json"],
        "inject_noise": ["--dataset", "fashion_mnist", "--noise-level", str(level), "--raw", f"{d}/raw",
                         "--out", f"{d}/noisy/{n}"],
        "crossval_probs": ["--dataset", "fashion_mnist", "--raw", f"{d}/raw", "--noisy", f"{d}/noisy/{n}",
                           "--out", f"{d}/pred_probs/{n}"],
        "find_issues": ["--dataset", "fashion_mnist", "--noise-level", str(level), "--raw", f"{d}/raw",
                        "--noisy", f"{d}/noisy/{n}", "--pred-probs", f"{d}/pred_probs/{n}",
                        "--out", f"{d}/issues/{n}", "--detection", f"{d}/detection/{n}.json"],
        "apply_prune_relabel": ["--noise-level", str(level), "--raw", f"{d}/raw", "--noisy", f"{d}/noisy/{n}",
                                "--issues", f"{d}/issues/{n}", "--out", f"{d}/cleaned/{n}"],
        "train_eval": ["--dataset", "fashion_mnist", "--noise-level", str(level), "--raw", f"{d}/raw",
                       "--noisy", f"{d}/noisy/{n}", "--cleaned", f"{d}/cleaned/{n}",
                       "--predictions", f"{d}/predictions/{n}.npy", "--accuracy", f"{d}/accuracy/{n}.csv"],
    }[stage]
    return [sys.executable, "-m", f"stages.{stage}", *args]


def sweep(out: Path, budget_s: float, smoke: bool, levels: list[float] | None = None) -> None:
    """Download, then whole levels while the slowest level so far still fits in what is left of `budget_s`; every
    stage's wall time (and exit status) into sweep_stages.csv as it ends, its output into logs/."""
    import yaml

    deadline = time.monotonic() + budget_s
    work = Path(tempfile.mkdtemp(prefix="labelsweep-gpu-sweep-"))
    for name in ("labelsweep", "stages"):
        shutil.copytree(ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    params = sweep_params(smoke)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copy(work / "params.yaml", out / "sweep_params.yaml")
    env = {**os.environ, "LABELSWEEP_TIMINGS": str(out / "sweep_stage_records.jsonl")}
    env.pop("PYTHONPATH", None)  # the stages import the copy's labelsweep, as under DVC
    table = (out / "sweep_stages.csv").open("w", newline="")
    writer = csv.writer(table)
    writer.writerow(["level", "stage", "wall_s", "rc"])

    def run(stage: str, level: float | None) -> bool:
        start = time.monotonic()
        log = (out / "logs" / f"sweep_{level}_{stage}.log").open("w")
        try:
            rc = subprocess.run(stage_command(stage, level), cwd=work, env=env, stdout=log, stderr=log,
                                timeout=max(1.0, deadline - time.monotonic())).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        writer.writerow(["" if level is None else level, stage, round(time.monotonic() - start, 3), rc])
        table.flush()
        print(f"{level} {stage}: {time.monotonic() - start:.1f} s, rc {rc}", flush=True)
        return rc == 0

    level_seconds: list[float] = []
    if run("download", None):
        for level in LEVELS[:1] if smoke else (levels or LEVELS):
            if level_seconds and max(level_seconds) * 1.05 > deadline - time.monotonic():
                print(f"stopped before level {level}: the slowest level so far would not fit", flush=True)
                break
            start = time.monotonic()
            if not all(run(stage, level) for stage in LEVEL_STAGES):
                break
            level_seconds.append(time.monotonic() - start)
    table.close()
    accuracy = sorted((work / "data/fashion_mnist/accuracy").glob("*.csv"))
    if accuracy:  # the measured levels' accuracies, to check the GPU's CNN learns (not results of record)
        shutil.copytree(work / "data/fashion_mnist/accuracy", out / "sweep_accuracy")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["install", "env", "fit", "sweep"])
    parser.add_argument("--out", type=Path, help="the results folder ($OUT)")
    parser.add_argument("--venv", type=Path, help="install: where to make the venv")
    parser.add_argument("--budget", type=float, default=300.0, help="sweep: seconds it may take")
    parser.add_argument("--smoke", action="store_true", help="a CPU rehearsal: 500 images, one level, one epoch")
    parser.add_argument("--levels", type=lambda text: [float(x) for x in text.split(",")],
                        help="sweep: these levels, in this order (a second call measures the levels a first left)")
    args = parser.parse_args()
    if args.part == "install":
        install(args.venv)
    elif args.part == "env":
        environment(args.out)
    elif args.part == "fit":
        fit_benchmark(args.out, args.smoke)
    else:
        sweep(args.out, args.budget, args.smoke, args.levels)


if __name__ == "__main__":
    main()
