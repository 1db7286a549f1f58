"""The benchmark's report: the tables of BENCHMARKS.md, from the records `bench/run.py` leaves in bench/out/.

`python bench/run.py report` writes them between BENCHMARKS.md's markers (and to bench/out/table.md); a test
compares :func:`render_report` with BENCHMARKS.md, so the document cannot drift from the records.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

# The repository first on sys.path, whether this runs as a script or is loaded from its file (tests/test_docs.py).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.additions import addition_rows, matrix_rows  # noqa: E402
from bench.records import OUT, ROOT, median, noise_level_of  # noqa: E402


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
    """Write the tables between BENCHMARKS.md's markers (and to bench/out/table.md)."""
    table = render_report()
    (OUT / "table.md").write_text(table)
    write_between_markers(ROOT / "BENCHMARKS.md", table)
    print(table)


def render_report() -> str:
    """The benchmark tables, from the records in bench/out (a test compares them with BENCHMARKS.md)."""
    records, run = load_records()
    short_run = json.loads((OUT / "short.json").read_text())
    wall, dvc_per_stage = run["wall_s"], run["dvc_per_stage_s"]
    in_stages = sum(r["wall_s"] for r in records)
    serial_equivalent = in_stages + dvc_per_stage * len(records)
    fit = sum(r["fit_s"] for r in records)
    fixed = [r["wall_s"] - r["work_s"] + dvc_per_stage for r in records]
    datasets = sorted({r["args"][r["args"].index("--raw") + 1].split("/")[1] for r in records if "--raw" in r["args"]}
                      | {r["args"][1] for r in records if r["stage"] == "download"})
    added = added_level_row(records, short_run, dvc_per_stage, serial_equivalent)
    noop = short_run.get("noop_repro_s")
    rows = [
        ("full default sweep, empty cache: elapsed", f"{wall / 60:.1f} min", "≤ 30 min"),
        ("… serial equivalent (time in stage processes + DVC's measured overhead per stage × stages)",
         f"{serial_equivalent / 60:.1f} min", ""),
        ("model fitting share (of the serial equivalent)", f"{100 * fit / serial_equivalent:.0f} %", "≥ 70 %"),
        ("median fixed cost of a stage (wall − work + DVC's per-stage overhead)", f"{median(fixed):.2f} s", ""),
        ("DVC's own overhead per stage (serial part: elapsed − time in stage processes)",
         f"{dvc_per_stage:.2f} s", ""),
        (*added, "≤ 1.2/11"),
        ("no-op `dvc repro` (median of 3)", f"{median(noop):.1f} s" if noop else "not measured", "≤ 5 s"),
        throughput_row(short_run.get("throughput")),
        ("peak memory of any stage", f"{max(r['peak_rss_mb'] for r in records) / 1024:.2f} GB", "≤ 3 GB"),
    ]
    m = short_run["machine"]  # where and when the measurements ran (not where the report is made)
    lines = [f"Machine: {m['cores']} cores, {m['cpu']}, Python {m['python']}; measured {m['date']}. "
             f"Sweep: {len(records)} stages, datasets {', '.join(datasets)}; {run['how']}.", "",
             "| measurement | result | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", *stage_tables(records, datasets)]
    if (OUT / "study.json").exists():
        lines += ["", *study_table()]
    return "\n".join(lines) + "\n"


def added_level_row(records: list[dict], short_run: dict, dvc_per_stage: float,
                    serial_equivalent: float) -> tuple[str, str]:
    """What one added noise level costs: measured (`short added`), else derived from the sweep's records."""
    if "added_level_s" in short_run:
        return (f"one added noise level ({short_run['added_level']}), up-to-date sweep",
                f"{short_run['added_level_s']:.0f} s = {short_run['added_level_s'] / serial_equivalent * 11:.2f}/11")
    # derived: that level's stage processes plus DVC's mean per-stage overhead
    level = "0.3"
    rs = [r for r in records if noise_level_of(r) == level] + [r for r in records if r["stage"] == "plot"]
    cost = sum(r["wall_s"] for r in rs) + dvc_per_stage * len(rs)
    return (f"one noise level ({level}: {len(rs)} stages incl. the plots), from the sweep's stage records",
            f"{cost:.0f} s = {cost / serial_equivalent * 11:.2f}/11")


def throughput_row(tp: dict | None) -> tuple[str, str, str]:
    """Training throughput per model against one model, a bare loop and the cores' matmul peak."""
    if not tp:
        return ("training throughput", "not measured", "next to the peak")
    achieved = tp["stacked_samples_per_s"] * tp["flop_per_sample"] / 1e9
    return (
        f"training throughput per model, Fashion-MNIST MLP ({tp['threads']} threads, batch {tp['batch_size']}, "
        f"{tp['epochs']}-epoch fits, median of 3): {tp['stacked_models']} stacked vs one vs a bare loop",
        f"{tp['stacked_samples_per_s']:.0f} vs {tp['single_samples_per_s']:.0f} vs {tp['bare_samples_per_s']:.0f} "
        f"samples/s = {tp['stacked_samples_per_s'] / tp['single_samples_per_s']:.2f}× one model; "
        f"{achieved:.0f} of the cores' {tp['matmul_gflops']:.0f} GFLOP/s matmul peak "
        f"({100 * achieved / tp['matmul_gflops']:.0f} %)", "next to the peak")


def stage_tables(records: list[dict], datasets: list[str]) -> list[str]:
    """The sweep's time per stage kind and per dataset."""
    kinds: dict[str, list[dict]] = {}
    for r in records:
        kinds.setdefault(r["stage"], []).append(r)
    lines = ["Per stage kind (sums over the sweep; fixed = wall − work, DVC's share excluded):", "",
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
    return lines


def describe_grid(grid: dict | None) -> str:
    """The grid a timed repro ran, from its record (records written before the grid was recorded: unnamed)."""
    if not grid:
        return "the default grid committed when it ran"
    runs, study, real = grid["runs"], grid.get("study"), grid.get("real_errors")
    text = (f"{len(grid['noise'])} noise levels × {len(grid['thresholds'])} thresholds, {len(runs['noise_kinds'])} "
            f"noise kind(s) × {len(runs['regimes'])} regime(s) × {seeds_of(runs)}")
    if study:
        text += (f"; the study at {len(study['noise'])} levels: {len(study['noise_kinds'])} noise kinds × "
                 f"{len(study['regimes'])} regimes × {seeds_of(study)}, {len(study['thresholds'])} "
                 f"thresholds, strategies {', '.join(grid['strategies'])}")
    if real:
        text += (f"; the datasets' own labels ({', '.join(real['datasets'])}, 0 %): {len(real['seeds'])} seeds, "
                 f"{len(real['thresholds'])} thresholds, strategies {', '.join(real['strategies'])}")
    return text


def seeds_of(runs: dict) -> str:
    """"5 seed(s)", or with a regime's own seeds: "1 seed(s) (overfit_15k: 3)"."""
    own = runs.get("regime_seeds") or {}
    return f"{len(runs['seeds'])} seed(s)" + (f" ({', '.join(f'{r}: {len(s)}' for r, s in own.items())})" if own
                                               else "")


def study_table() -> list[str]:
    """The default study's one `dvc repro` from an empty cache (bench/run.py study)."""
    run = json.loads((OUT / "study.json").read_text())
    records = [json.loads(line) for line in (OUT / "study_timings.jsonl").read_text().splitlines()]
    in_stages, fit = sum(r["wall_s"] for r in records), sum(r["fit_s"] for r in records)
    finish = json.loads((OUT / "study_finish.json").read_text()) if (OUT / "study_finish.json").exists() else {}
    recorded = finish.get("grid") or run.get("grid")  # the same params.yaml; the later record names more of it
    grid = describe_grid(recorded)
    m, status = run["machine"], run["returncode"]
    lines = [f"The default study ({grid}): one `dvc repro` from an empty cache on {m['cores']} cores, {m['cpu']}, "
             f"measured {m['date']}{'' if status == 0 else f' (exit status {status})'}:", "",
             "| measurement | result | target |", "|---|---|---|",
             f"| elapsed | {run['wall_s'] / 60:.1f} min | ≤ 2.5 h (issue 27) |",
             *[f"| … in two parts: cut off after {a['wall_s'] / 60:.1f} min (to the end of its last finished "
               "stage; the stage it was killed in is not counted), resumed from DVC's run-cache for "
               f"{b['wall_s'] / 60:.1f} min | | |" for a, b in ([run["parts"]] if "parts" in run else [])],
             f"| stage processes run | {len(records)} | |",
             f"| model fitting share (of the time in stage processes) | {100 * fit / in_stages:.0f} % | |",
             f"| peak memory of any stage | {max(r['peak_rss_mb'] for r in records) / 1024:.2f} GB | ≤ 3 GB |"]
    datasets = dict.fromkeys(a.split("/")[1] for r in records for a in r["args"] if a.count("/") > 1
                             and a.startswith("data/"))  # data/<dataset>/..., not data/checked.txt
    for name in datasets:
        rs = [r for r in records if f"data/{name}/" in " ".join(r["args"])]
        lines.append(f"| {name}: time in its {len(rs)} stage processes (of which fitting) "
                     f"| {sum(r['wall_s'] for r in rs) / 60:.1f} min ({sum(r['fit_s'] for r in rs) / 60:.1f} min) | |")
    lines += sweep_part_rows(records, run.get("grid")) + own_labels_rows(records, recorded)
    lines += addition_rows() + matrix_rows(records, run.get("grid"))
    if finish:
        reran = [json.loads(line)["stage"] for line in (OUT / "study_finish_timings.jsonl").read_text().splitlines()]
        kinds = ", ".join(f"{kind} × {reran.count(kind)}" for kind in dict.fromkeys(reran))
        lines.append(f"| then a second `dvc repro` (bench/run.py study-finish: {kinds}; exit status "
                     f"{finish['returncode']}) | {finish['wall_s']:.0f} s | |")
    return lines


def own_labels_rows(records: list[dict], grid: dict | None) -> list[str]:
    """The datasets' own labels (`real_errors`, 0 % injected noise): the time of that level's stage processes."""
    real = (grid or {}).get("real_errors")
    rows = []
    for name in (real or {}).get("datasets", []):
        rs = [r for r in records if f"data/{name}/" in " ".join(r["args"]) and
              any(a.endswith("noise_0.0") or a == "0.0" for a in r["args"])]
        rows.append(f"| {name}'s own labels (0 %, {len(real['seeds'])} seeds): its {len(rs)} stage processes "
                    f"(of which fitting) | {sum(r['wall_s'] for r in rs) / 60:.1f} min "
                    f"({sum(r['fit_s'] for r in rs) / 60:.1f} min) | |")
    return rows


def sweep_part_rows(records: list[dict], grid: dict | None) -> list[str]:
    """The seed's sweep's share of the default run. At the study's levels the sweep's runs train in the same stage
    processes as the study's (and at 0 % as the datasets' own labels' runs, where `real_errors` names a dataset), so its
    part is estimated from the other levels, where a level holds the sweep's runs alone: their mean time per level
    (both datasets), times the sweep's number of levels."""
    if not grid or not grid.get("study"):
        return []
    study_levels = {str(level) for level in grid["study"]["noise"]}
    # 0 % holds the datasets' own labels' runs where `real_errors` names any: not a sweep level alone either
    own = {"0.0"} if (grid.get("real_errors") or {}).get("datasets") else set()
    outside = [str(level) for level in grid["noise"] if str(level) not in study_levels | own]
    if not outside:
        return []
    seconds = {level: sum(r["wall_s"] for r in records if noise_level_of(r) == level)
               for level in [*outside, *study_levels]}
    per_level = sum(seconds[level] for level in outside) / len(outside)
    study_extra = sum(seconds[level] - per_level for level in study_levels)
    kinds = len(grid["study"]["noise_kinds"])
    return [f"| the seed's sweep: its {len(outside)} levels outside the study and the own labels (stage processes, "
            f"both datasets) "
            f"| {sum(seconds[level] for level in outside) / 60:.1f} min | |",
            f"| … its part of the run: that per level × {len(grid['noise'])} levels | "
            f"{per_level * len(grid['noise']) / 60:.1f} min | ≤ 30 min |",
            f"| the study: what its {len(study_levels)} level(s) took beyond a sweep level "
            f"| {study_extra / 60:.1f} min | |",
            f"| … a noise kind more in the study, estimated: that ÷ its {kinds} noise kinds "
            f"| {study_extra / kinds / 60:.1f} min | |"]


BEGIN, END = "<!-- bench/run.py report: begin -->", "<!-- bench/run.py report: end -->"


def write_between_markers(path: Path, text: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace what lies between the markers `begin` and `end` in `path` with `text`."""
    from labelsweep.tooling.report import replace_between_markers

    path.write_text(replace_between_markers(path.read_text(), text, begin, end))


def command_line(usage: str, run: Callable[[], None], render: Callable[[], str], begin: str, end: str) -> None:
    """`python bench/<script>.py run|report`: measure, or write the script's table between its markers in
    BENCHMARKS.md; anything else prints the script's `usage`."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "run":
        run()
    elif command == "report":
        write_between_markers(ROOT / "BENCHMARKS.md", render(), begin, end)
    else:
        sys.exit(usage)
