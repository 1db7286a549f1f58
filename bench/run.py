"""Benchmark of labelsweep on the current machine: `python bench/run.py study|sweep|short|report`.

study   the default study (params.yaml as committed): one `dvc repro` in the repository from an empty
        cache, every stage process timed (LABELSWEEP_TIMINGS); writes bench/out/study.json and
        study_timings.jsonl. Its outputs are the project's results (dvc.lock, metrics/, plots/).
study-finish  a second, timed `dvc repro` after `study` (what a failed stage or a code change left out of
        date); writes bench/out/study_finish.json and study_finish_timings.jsonl.
study-resume  after a `study` cut off before it ended (a session's end kills it; DVC's run-cache keeps every stage
        it finished): `dvc repro` again, its stages timed into the same study_timings.jsonl, and study.json written
        with the whole run's elapsed time, the cut part's (from study_started.json to the end of its last finished
        stage: the stage it was killed in is not counted) plus the resumed part's, both recorded.
sweep   the seed's sweep (SEED_GRID: 11 noise levels x 11 thresholds, one run each, no added
        strategies), the speed benchmark: the same, in a scratch clone of the committed code; writes
        bench/out/sweep.json and sweep_timings.jsonl.
short   on an up-to-date seed's sweep: the cores' matmul peak; training throughput of a level's stacked
        Fashion-MNIST MLPs (labelsweep.training.fit) against one MLP and a bare PyTorch loop (3
        interleaved runs each); a no-op `dvc repro` (3 runs); the cost of one added noise level;
        `short throughput noop` runs only those parts. Writes bench/out/short.json.
report  turns them into the tables of BENCHMARKS.md (written between its markers, and to
        bench/out/table.md): bench/report.py. This file runs the measurements.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

# The repository first on sys.path, whether this runs as a script or is imported as bench.run (bench/precision.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.report import OUT, ROOT, median, report  # noqa: E402
from labelsweep.config import Train  # noqa: E402

# The stages call `python` and `dvc`: the ones of the environment running this script.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "date": time.strftime("%F")}


# The seed's grid, which BENCHMARKS.md measures (params.yaml's header gives it as `dvc exp run -S ...`).
SEED_GRID = {
    "noise": [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5],
    "thresholds": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
    "strategies": [],
    "runs": {"noise_kinds": ["symmetric"], "regimes": ["default"], "seeds": [0]},
}


def recorded_grid(cwd: Path) -> dict:
    """The settings of params.yaml that say which grid a timed repro ran (bench/report.py describes them)."""
    params = yaml.safe_load((cwd / "params.yaml").read_text())
    return {key: params.get(key) for key in ("datasets", "noise", "thresholds", "runs", "study", "strategies",
                                             "real_errors")}


def timed_repro(cwd: Path, name: str) -> int:
    """One `dvc repro` in `cwd` with every stage process timed into bench/out/<name>_timings.jsonl and its
    wall time into <name>.json; returns DVC's exit status."""
    OUT.mkdir(parents=True, exist_ok=True)
    timings = OUT / f"{name}_timings.jsonl"
    timings.unlink(missing_ok=True)
    start = time.time()
    (OUT / f"{name}_started.json").write_text(json.dumps({"start": start, "machine": machine()}, indent=2))
    status = subprocess.run(["dvc", "repro"], cwd=cwd, env={**ENV, "LABELSWEEP_TIMINGS": str(timings)}).returncode
    wall = time.time() - start
    grid = recorded_grid(cwd)
    (OUT / f"{name}.json").write_text(json.dumps({"machine": machine(), "wall_s": wall, "start": start,
                                                  "returncode": status, "grid": grid}, indent=2))
    print(f"{name}: {wall:.0f} s, dvc repro exit status {status}")
    return status


def sweep() -> None:
    """The seed's sweep from an empty cache, in a scratch clone of the committed code (the repository's
    results stay those of the default study)."""
    with tempfile.TemporaryDirectory(prefix="labelsweep-seed-sweep-") as tmp:
        clone = Path(tmp) / "labelsweep"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        params = yaml.safe_load((clone / "params.yaml").read_text())
        params.update(SEED_GRID)
        for name in params["datasets"]:  # image folders named relative to the repository
            path = params[name]["data"].get("path")
            if path and not Path(path).is_absolute():
                params[name]["data"]["path"] = str((ROOT / path).resolve())
        (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        sys.exit(timed_repro(clone, "sweep"))


def study() -> None:
    """The default study (params.yaml as committed): one `dvc repro` from an empty cache, every stage
    process timed. Its outputs are the project's results (dvc.lock, metrics/, plots/)."""
    for path in ("data", ".dvc/cache", "dvc.lock", "metrics", "plots"):
        target = ROOT / path
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    sys.exit(timed_repro(ROOT, "study"))


def study_resume() -> None:
    """`dvc repro` after a cut-off `study` (module doc): the whole run's elapsed time from both parts' records."""
    started = json.loads((OUT / "study_started.json").read_text())
    timings = OUT / "study_timings.jsonl"
    cut_end = max(json.loads(line)["end"] for line in timings.read_text().splitlines())
    start = time.time()
    status = subprocess.run(["dvc", "repro"], cwd=ROOT, env={**ENV, "LABELSWEEP_TIMINGS": str(timings)}).returncode
    resumed = time.time() - start
    grid = recorded_grid(ROOT)
    parts = [{"start": started["start"], "end_of_last_stage": cut_end, "wall_s": cut_end - started["start"],
              "cut": True}, {"start": start, "wall_s": resumed, "returncode": status}]
    wall = sum(p["wall_s"] for p in parts)
    record = {"machine": started["machine"], "wall_s": wall, "start": started["start"], "returncode": status,
              "grid": grid, "parts": parts}
    (OUT / "study.json").write_text(json.dumps(record, indent=2))
    print(f"study: {wall:.0f} s in two parts, dvc repro exit status {status}")
    sys.exit(status)


def started_from_process(pid: str) -> None:
    """study_started.json for a `study` begun before timed_repro wrote it: the process's start time, from /proc."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime"))
    start = boot + ticks / os.sysconf("SC_CLK_TCK")
    (OUT / "study_started.json").write_text(json.dumps({"start": start, "machine": machine(), "pid": int(pid)},
                                                       indent=2))


def study_finish() -> None:
    """A second `dvc repro` after a `study` whose last stages failed or whose code changed meanwhile: it runs only
    what is out of date, timed into study_finish.json (the report shows both)."""
    sys.exit(timed_repro(ROOT, "study_finish"))


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def matmul_peak(size: int = 2048, runs: int = 10) -> float:
    """The cores' fp32 matrix-multiply rate in GFLOP/s (best of 3 batches of `runs` products): the roof
    the training throughput is compared with."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(runs):
            a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 * runs / best / 1e9


def throughput(runs: int = 3) -> dict:
    """Training samples/s per model on Fashion-MNIST, the default 5-epoch fit: a level's stacked models
    (baseline + every threshold, as train_eval trains them) vs one model through the same loop vs one
    model in a bare PyTorch loop (same MLP, batch size, threads, data in memory); 3 interleaved runs."""
    import numpy as np
    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT))
    from labelsweep import training

    images = np.load(ROOT / "data/fashion_mnist/raw/train_images.npy")
    labels = np.load(ROOT / "data/fashion_mnist/raw/train_labels.npy")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    train = params["fashion_mnist"]["train"]
    n_models = 1 + len(params["thresholds"])

    def project(n: int) -> float:
        start = time.perf_counter()
        training.fit(images, np.tile(labels, (n, 1)), 10, Train.model_validate(train), seed=0, desc=f"{n} stacked")
        return time.perf_counter() - start

    def bare() -> float:
        torch.manual_seed(0)
        hidden = 16 * train["width"]
        model = nn.Sequential(nn.Flatten(), nn.Linear(images[0].size, hidden), nn.ReLU(), nn.Linear(hidden, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=train["lr"])
        x = torch.from_numpy(images).float().div_(127.5).sub_(1.0)
        y = torch.from_numpy(labels)
        start = time.perf_counter()
        for _ in range(train["epochs"]):
            for batch in torch.randperm(len(y)).split(train["batch_size"]):
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                optimizer.step()
        return time.perf_counter() - start

    stacked_s, single_s, bare_s = [], [], []
    for _ in range(runs):  # interleaved, so all three see the same machine
        stacked_s.append(project(n_models))
        single_s.append(project(1))
        bare_s.append(bare())
    n = len(labels) * train["epochs"]
    hidden = 16 * train["width"]
    # Multiply-adds of one sample's forward pass; forward + backward of the weights ~ 3x, 2 FLOP each.
    flop_per_sample = 6 * (images[0].size * hidden + hidden * 10)
    return {"threads": torch.get_num_threads(), "batch_size": train["batch_size"], "epochs": train["epochs"],
            "samples": n, "stacked_models": n_models, "flop_per_sample": flop_per_sample,
            "stacked_samples_per_s": n * n_models / median(stacked_s),
            "single_samples_per_s": n / median(single_s), "bare_samples_per_s": n / median(bare_s),
            "stacked_runs_s": stacked_s, "single_runs_s": single_s, "bare_runs_s": bare_s,
            "matmul_gflops": matmul_peak()}


def added_level() -> dict:
    """Time `dvc repro` after adding one noise level, in a copy of the up-to-date repository."""
    with tempfile.TemporaryDirectory(prefix="labelsweep-bench-") as tmp:
        copy = Path(tmp) / "repo"
        shutil.copytree(ROOT, copy, symlinks=True, ignore=shutil.ignore_patterns(".venv"))
        params = yaml.safe_load((copy / "params.yaml").read_text())
        params["noise"].append(round(max(params["noise"]) + 0.05, 2))
        (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        return {"added_level": params["noise"][-1], "added_level_s": timed(["dvc", "repro"], copy)}


def short(parts: list[str]) -> None:
    """Measurements on the up-to-date sweep in the repository (run `sweep` first).

    `parts` picks among throughput, noop and added (default: all three; results merge into short.json).
    Without `added` (one level of every dataset: about 1/11 of a sweep) the report derives that cost
    from the sweep's own per-stage timings and says so.
    """
    path = OUT / "short.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    result["machine"] = machine()
    parts = parts or ["throughput", "noop", "added"]
    if "throughput" in parts:
        result["throughput"] = throughput()
    if "noop" in parts:
        result["noop_repro_s"] = [timed(["dvc", "repro"], ROOT) for _ in range(3)]
    if "added" in parts:
        result.update(added_level())
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "short":
        short(sys.argv[2:])
    elif command in ("study", "study-finish", "study-resume", "sweep", "report"):
        {"study": study, "study-finish": study_finish, "study-resume": study_resume, "sweep": sweep,
         "report": report}[command]()
    elif command == "started-from-process":  # the pid of a running `bench/run.py study`
        started_from_process(sys.argv[2])
    else:
        sys.exit(__doc__)
