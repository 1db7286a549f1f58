"""Benchmark of labelsweep on the current machine: `python bench/run.py sweep|short|report`.

sweep   full default `dvc repro` from an empty cache, every stage process timed (LABELSWEEP_TIMINGS);
        writes bench/out/sweep.json and bench/out/sweep_timings.jsonl. Its outputs are the project's
        results (dvc.lock, metrics/, plots/).
short   on an up-to-date sweep: a no-op `dvc repro` (3 runs), the cost of one added noise level, and
        training throughput of labelsweep.training.fit against a bare PyTorch loop (3 runs each);
        writes bench/out/short.json.
report  turns both JSON files into the table in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


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
    env = {**os.environ, "LABELSWEEP_TIMINGS": str(timings)}
    start = time.time()
    subprocess.run(["dvc", "repro"], cwd=ROOT, env=env, check=True)
    wall = time.time() - start
    (OUT / "sweep.json").write_text(json.dumps({"machine": machine(), "wall_s": wall, "start": start}, indent=2))
    print(f"full sweep: {wall:.0f} s")


if __name__ == "__main__":
    {"sweep": sweep}[sys.argv[1]]()
