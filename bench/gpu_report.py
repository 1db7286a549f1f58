"""BENCHMARKS.md's "On a GPU" section, from the records bench/gpu.sh leaves in $OUT (committed as bench/out/gpu/).

`python bench/gpu_report.py render --records DIR` prints it; `python bench/gpu_report.py report` writes it between
its markers in BENCHMARKS.md from bench/out/gpu. Only the standard library: it also runs on the GPU machine at the
end of bench/gpu.sh. These are benchmark figures, not the committed results of record.
"""

from __future__ import annotations

import csv
import json
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "bench" / "out" / "gpu"
BEGIN, END = "<!-- bench/gpu_report.py report: begin -->", "<!-- bench/gpu_report.py report: end -->"
N_LEVELS = 11  # the seed's sweep
GOAL_S = 300  # issue 30: the seed's sweep with the CNN in at most 5 minutes on one H200-class GPU


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def machine_line(records: Path) -> str:
    env = json.loads((records / "env.json").read_text()) if (records / "env.json").exists() else {}
    gpu = env.get("gpu", "no GPU (a CPU rehearsal)")
    return (f"Measured on {gpu}" + (f" ({env['gpu_memory_gib']} GiB, compute capability {env['capability']})"
                                    if "capability" in env else "")
            + f", {env.get('cores', '?')} CPU cores; Python {env.get('python', '?')}, PyTorch {env.get('torch', '?')}, "
            f"CUDA {env.get('cuda', '?')}, cuDNN {env.get('cudnn', '?')}. \"fp32\" convolutions run in TF32 on a GPU "
            f"(PyTorch's default, cudnn.allow_tf32 = {env.get('tf32_cudnn', '?')}).")


def tests_line(records: Path) -> str:
    if not (records / "tests.xml").exists():
        return "The CUDA-path tests: no record."
    suite = ElementTree.parse(records / "tests.xml").getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    failed = [f"`{case.get('name')}`" for case in suite.iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    counts = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
    return (f"The CUDA-path tests (`LABELSWEEP_REAL_CUDA=1 pytest tests/test_training.py`, no mocks): "
            f"{counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']} passed, "
            f"{counts['failures'] + counts['errors']} failed, {counts['skipped']} skipped"
            + (f" (failed: {', '.join(failed)})." if failed else "."))


def _util(fit: dict) -> str:
    if fit.get("gpu_util_mean") is None:
        return "–"
    return f"{fit['gpu_util_mean']:.0f} % / {fit['gpu_util_max']:.0f} %, {fit['gpu_mem_max_mib'] / 1024:.1f} GiB"


def fits_table(records: Path) -> list[str]:
    fits = _read_jsonl(records / "fits.jsonl")
    if not fits:
        return ["Fits: no record."]
    lines = ["| fit (CNN, Fashion-MNIST) | models | precision | batch | images × epochs | s | images/s | "
             "model-images/s | GPU utilisation mean / max, memory |", "|---|---|---|---|---|---|---|---|---|"]
    for f in fits:
        lines.append(f"| {f['fit']} | {f['models']} | {f['precision']} | {f['batch_size']} | "
                     f"{f['samples']:,} × {f['epochs']} | {f['seconds']:.1f} | {f['images_per_s']:,} | "
                     f"{f['model_samples_per_s']:,} | {_util(f)} |")
    speedups = []
    for f in fits:
        twin = next((g for g in fits if g["fit"] == f["fit"] and g["precision"] == "fp32"
                     and g["batch_size"] == f["batch_size"]), None)
        if f["precision"] == "bf16" and twin:
            speedups.append(f"{f['fit']} {twin['seconds'] / f['seconds']:.2f}×")
    return lines + ["", "bf16 against fp32 (fp32's time / bf16's): " + "; ".join(speedups) + "."]


def sweep_levels(records: Path) -> tuple[float | None, dict[str, dict[str, float]], list[str]]:
    """The download's seconds, each completed level's seconds per stage, and the stages that failed."""
    path = records / "sweep_stages.csv"
    rows = list(csv.DictReader(path.open())) if path.exists() else []
    download = next((float(r["wall_s"]) for r in rows if r["stage"] == "download" and r["rc"] == "0"), None)
    levels: dict[str, dict[str, float]] = {}
    for r in rows:
        if r["stage"] != "download" and r["rc"] == "0":
            levels.setdefault(r["level"], {})[r["stage"]] = float(r["wall_s"])
    failed = [f"{r['stage']} {r['level']} ({r['rc']})" for r in rows if r["rc"] != "0"]
    complete = {level: stages for level, stages in levels.items() if len(stages) == 5}
    return download, complete, failed


def sweep_table(records: Path) -> list[str]:
    download, levels, failed = sweep_levels(records)
    if download is None or not levels:
        return ["The sweep: no completed level" + (f" (failed: {', '.join(failed)})." if failed else ".")]
    stages = list(next(iter(levels.values())))
    lines = ["| noise level | " + " | ".join(stages) + " | level |", "|---" * (len(stages) + 2) + "|"]
    for level, times in levels.items():
        lines.append(f"| {float(level):.0%} | " + " | ".join(f"{times[s]:.1f} s" for s in stages)
                     + f" | {sum(times.values()):.1f} s |")
    per_level = [sum(t.values()) for t in levels.values()]
    mean = sum(per_level) / len(per_level)
    measured = download + sum(per_level)
    projected = download + mean * N_LEVELS
    records_ = _read_jsonl(records / "sweep_stage_records.jsonl")
    wall, fit = sum(r["wall_s"] for r in records_), sum(r["fit_s"] for r in records_)
    return lines + ["", f"Download {download:.1f} s; {len(levels)} of {N_LEVELS} levels measured in {measured:.0f} s "
                    f"(stages run one after another, without DVC). The whole sweep, projected from the mean level "
                    f"({mean:.1f} s): **{projected / 60:.1f} min** against the goal of {GOAL_S / 60:.0f} min "
                    f"(plot and DVC's bookkeeping excluded)."
                    + (f" Model fitting is {fit / wall:.0%} of the stages' wall time; the rest is process start, "
                       "imports, loading and cleanlab." if wall else "")
                    + (f" Failed: {', '.join(failed)}." if failed else "")]


def render(records: Path = RECORDS) -> str:
    return "\n".join([machine_line(records), "", tests_line(records), "", *fits_table(records), "",
                      *sweep_table(records)]) + "\n"


def main() -> None:
    if sys.argv[1:2] == ["render"] and sys.argv[2:3] == ["--records"] and len(sys.argv) == 4:
        print(render(Path(sys.argv[3])), end="")
    elif sys.argv[1:] == ["report"]:
        sys.path.insert(0, str(ROOT))
        from bench.report import write_between_markers

        write_between_markers(ROOT / "BENCHMARKS.md", render(), BEGIN, END)
    else:
        sys.exit("usage: python bench/gpu_report.py render --records DIR | report")


if __name__ == "__main__":
    main()
