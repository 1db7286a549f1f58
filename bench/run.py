"""Benchmark of labelsweep on the current machine: `python bench/run.py sweep|short|report`.

sweep   full default `dvc repro` from an empty cache, every stage process timed (LABELSWEEP_TIMINGS);
        writes bench/out/sweep.json and bench/out/sweep_timings.jsonl. Its outputs are the project's
        results (dvc.lock, metrics/, plots/).
short   on an up-to-date sweep: training throughput of labelsweep.training.fit against a bare PyTorch
        loop (3 interleaved runs each), a no-op `dvc repro` (3 runs), the cost of one added noise level;
        `short throughput noop` runs only those parts. Writes bench/out/short.json.
report  turns them into the tables of BENCHMARKS.md (printed, and written to bench/out/table.md).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
# The stages call `python` and `dvc`: the ones of the environment running this script.
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"cores": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "date": time.strftime("%F")}


def sweep() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for path in ("data", ".dvc/cache", "dvc.lock", "metrics", "plots"):
        target = ROOT / path
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    timings = OUT / "sweep_timings.jsonl"
    timings.unlink(missing_ok=True)
    env = {**ENV, "LABELSWEEP_TIMINGS": str(timings)}
    start = time.time()
    subprocess.run(["dvc", "repro"], cwd=ROOT, env=env, check=True)
    wall = time.time() - start
    (OUT / "sweep.json").write_text(json.dumps({"machine": machine(), "wall_s": wall, "start": start}, indent=2))
    print(f"full sweep: {wall:.0f} s")


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median(values: list[float]) -> float:
    return statistics.median(values)


def throughput(runs: int = 3) -> dict:
    """Samples/s of labelsweep.training.fit vs a bare loop: same MLP, batch size, threads, data in memory."""
    import numpy as np
    import torch
    from torch import nn

    sys.path.insert(0, str(ROOT))
    from labelsweep import training

    images = np.load(ROOT / "data/fashion_mnist/raw/train_images.npy")
    labels = np.load(ROOT / "data/fashion_mnist/raw/train_labels.npy")
    # The default number of epochs: the fit a sweep runs, with its per-call set-up (tensor conversion,
    # deterministic mode, scheduler) spread over the same work as in the sweep.
    train = yaml.safe_load((ROOT / "params.yaml").read_text())["fashion_mnist"]["train"]

    def project() -> float:
        start = time.perf_counter()
        training.fit(images, labels, 10, train, seed=0, desc="project loop")
        return time.perf_counter() - start

    def bare() -> float:
        torch.manual_seed(0)
        model = training.build_model("mlp", images.shape[1:], 10, train["width"])
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

    project_s, bare_s = [], []
    for _ in range(runs):  # interleaved, so both see the same machine
        project_s.append(project())
        bare_s.append(bare())
    n = len(labels) * train["epochs"]
    return {"threads": torch.get_num_threads(), "batch_size": train["batch_size"], "epochs": train["epochs"],
            "samples": n,
            "project_samples_per_s": n / median(project_s), "bare_samples_per_s": n / median(bare_s),
            "project_runs_s": project_s, "bare_runs_s": bare_s}


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


def noise_level_of(record: dict) -> str | None:
    args = record["args"]
    if "--noise-level" in args:
        return args[args.index("--noise-level") + 1]
    if "--noisy" in args:
        return Path(args[args.index("--noisy") + 1]).name.removeprefix("noise_")
    return None


def stage_kind(record: dict) -> str:
    if record["stage"] == "train_eval" and "--prune-share" not in record["args"]:
        return "train_eval_baseline"
    return record["stage"]


def load_records() -> tuple[list[dict], dict]:
    """Every stage record of the sweep, and how the sweep ran.

    A clean `sweep` leaves sweep.json with the wall time of its one `dvc repro`. A sweep that was
    interrupted and finished by other `dvc repro` processes (timed into sweep_timings_*.jsonl) has no
    such number: its elapsed time is then taken from the stage records (first start to last end), and
    DVC's per-stage overhead from the serial part (sweep_timings.jsonl) alone.
    """
    files = sorted(OUT.glob("sweep_timings*.jsonl"))
    records = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    serial = [json.loads(line) for line in (OUT / "sweep_timings.jsonl").read_text().splitlines()]
    start = min(r["end"] - r["wall_s"] for r in records)
    serial_elapsed = max(r["end"] for r in serial) - start
    run = {"files": [f.name for f in files], "serial_stages": len(serial),
           "dvc_per_stage_s": (serial_elapsed - sum(r["wall_s"] for r in serial)) / len(serial)}
    if (OUT / "sweep.json").exists():
        run["wall_s"] = json.loads((OUT / "sweep.json").read_text())["wall_s"]
        run["how"] = "one `dvc repro` from an empty cache"
    else:
        run["wall_s"] = max(r["end"] for r in records) - start
        run["how"] = (f"`dvc repro` from an empty cache, interrupted after {len(serial)} stages; the remaining "
                      f"{len(records) - len(serial)} were finished by other processes (see below; elapsed time: "
                      "first stage start to last stage end)")
    return records, run


def report() -> None:
    records, run = load_records()
    short_run = json.loads((OUT / "short.json").read_text())
    wall, dvc_per_stage = run["wall_s"], run["dvc_per_stage_s"]
    in_stages = sum(r["wall_s"] for r in records)
    serial_equivalent = in_stages + dvc_per_stage * len(records)
    fit = sum(r["fit_s"] for r in records)
    fixed = [r["wall_s"] - r["work_s"] + dvc_per_stage for r in records]
    kinds: dict[str, list[dict]] = {}
    for r in records:
        kinds.setdefault(stage_kind(r), []).append(r)
    datasets = sorted({r["args"][r["args"].index("--raw") + 1].split("/")[1] for r in records if "--raw" in r["args"]}
                      | {r["args"][1] for r in records if r["stage"] == "download"})
    tp = short_run.get("throughput")
    if "added_level_s" in short_run:
        added = (f"one added noise level ({short_run['added_level']}), up-to-date sweep",
                 f"{short_run['added_level_s']:.0f} s = {short_run['added_level_s'] / serial_equivalent * 11:.2f}/11")
    else:  # derived: that level's stage processes plus DVC's mean per-stage overhead
        level = "0.3"
        rs = [r for r in records if noise_level_of(r) == level] + [r for r in records if r["stage"] == "plot"]
        cost = sum(r["wall_s"] for r in rs) + dvc_per_stage * len(rs)
        added = (f"one noise level ({level}: {len(rs)} stages incl. the plots), from the sweep's stage records",
                 f"{cost:.0f} s = {cost / serial_equivalent * 11:.2f}/11")
    noop = short_run.get("noop_repro_s")
    rows = [
        ("full default sweep, empty cache: elapsed", f"{wall / 60:.1f} min", "≤ 30 min"),
        ("… serial equivalent (time in stage processes + DVC's measured overhead per stage × stages)",
         f"{serial_equivalent / 60:.1f} min", "≤ 30 min"),
        ("model fitting share (of the serial equivalent)", f"{100 * fit / serial_equivalent:.0f} %", "≥ 70 %"),
        ("median fixed cost of a stage (wall − work + DVC's per-stage overhead)", f"{median(fixed):.2f} s", "≤ 2 s"),
        ("DVC's own overhead per stage (serial part: elapsed − time in stage processes)",
         f"{dvc_per_stage:.2f} s", ""),
        (*added, "≤ 1.2/11"),
        ("no-op `dvc repro` (median of 3)", f"{median(noop):.1f} s" if noop else "not measured", "≤ 10 s"),
        (f"training throughput, project loop vs bare loop ({tp['threads']} threads, batch {tp['batch_size']}, "
         f"{tp.get('epochs', 1)}-epoch fits, median of 3)" if tp else "training throughput",
         f"{tp['project_samples_per_s']:.0f} vs {tp['bare_samples_per_s']:.0f} samples/s = "
         f"{tp['project_samples_per_s'] / tp['bare_samples_per_s']:.2f}×" if tp else "not measured", "≥ 0.9×"),
        ("peak memory of any stage", f"{max(r['peak_rss_mb'] for r in records) / 1024:.2f} GB", "≤ 3 GB"),
    ]
    m = machine()
    lines = [f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; report {m['date']}. "
             f"Sweep: {len(records)} stages, datasets {', '.join(datasets)}; {run['how']}.", "",
             "| measurement | result | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "Per stage kind (sums over the sweep; fixed = wall − work, DVC's share excluded):", "",
              "| stage kind | stages | wall | model fitting | median fixed cost | peak memory |",
              "|---|---|---|---|---|---|"]
    for kind, rs in kinds.items():
        lines.append(f"| {kind} | {len(rs)} | {sum(r['wall_s'] for r in rs) / 60:.1f} min | "
                     f"{sum(r['fit_s'] for r in rs) / 60:.1f} min | "
                     f"{median([r['wall_s'] - r['work_s'] for r in rs]):.2f} s | "
                     f"{max(r['peak_rss_mb'] for r in rs):.0f} MB |")
    lines += ["", "| dataset | stages | time in stage processes | of which model fitting |", "|---|---|---|---|"]
    for name in datasets:
        rs = [r for r in records if f"data/{name}/" in " ".join(r["args"])]
        lines.append(f"| {name} | {len(rs)} | {sum(r['wall_s'] for r in rs) / 60:.1f} min | "
                     f"{sum(r['fit_s'] for r in rs) / 60:.1f} min |")
    table = "\n".join(lines) + "\n"
    (OUT / "table.md").write_text(table)
    print(table)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "short":
        short(sys.argv[2:])
    elif command in ("sweep", "report"):
        {"sweep": sweep, "report": report}[command]()
    else:
        sys.exit(__doc__)
