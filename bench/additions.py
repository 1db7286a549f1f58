"""Rows of BENCHMARKS.md's run-of-record table that set the run of record beside an earlier one: what an addition to
the default grid cost, measured as the difference between the two runs' records of the same stage processes.
"""

from __future__ import annotations

import json

from bench.records import OUT, noise_level_of


def minutes(seconds: float) -> str:
    """A signed number of minutes, with a true minus as the claims blocks write it."""
    return f"{seconds / 60:+.1f} min".replace("-", "−")

EARLIER = OUT / "2026-12-04"  # the run of record of 2026-12-04 and the `robust` experiment on its cache
# The run of record before cleanlab's noise matrices joined the study (the first of 2026-12-05, the same grid less them)
NO_MATRICES = OUT / "2026-12-05-no-matrices"


def addition_rows() -> list[str]:
    """What the robust alternatives cost, as measured when they were added to the default grid: the `robust`
    experiment of 2026-12-04 (docs/rerun.md) reran, on that day's run of record's cache, the `train_eval` processes
    of the levels with study runs (which train every cell of their level); their time less the same processes'
    in that run of record (which trained the same cells less the alternatives) is the alternatives' own."""
    added_file, before_file = EARLIER / "robust_timings.jsonl", EARLIER / "study_timings.jsonl"
    if not (added_file.exists() and before_file.exists()):
        return []
    added = [json.loads(line) for line in added_file.read_text().splitlines()]
    before = {tuple(r["args"]): r["wall_s"] for r in map(json.loads, before_file.read_text().splitlines())
              if r["stage"] == "train_eval"}
    retrained = [r for r in added if r["stage"] == "train_eval" and tuple(r["args"]) in before]
    cost = sum(r["wall_s"] - before[tuple(r["args"])] for r in retrained)
    return [f"| the robust alternatives' own cost, as measured when they joined the default grid (2026-12-04, "
            f"bench/out/2026-12-04/): {len(retrained)} `train_eval` processes with them less the same ones without, "
            f"at that grid's study levels and the Roman numerals' 0 % | {minutes(cost)} | |"]


def matrix_rows(records: list[dict], grid: dict | None) -> list[str]:
    """What cleanlab's two noise matrices cost, measured: the study levels' stage processes in this run less the same
    processes (same arguments) in the run of record without them, an earlier sitting on the same kind of machine; the
    other levels' processes did the same work in both, so their difference says how far the two sittings drift."""
    before_file = NO_MATRICES / "study_timings.jsonl"
    if not grid or not grid.get("study") or not before_file.exists():
        return []
    before = {tuple(r["args"]): r["wall_s"] for r in map(json.loads, before_file.read_text().splitlines())}
    shared = [r for r in records if tuple(r["args"]) in before]
    study = {str(level) for level in grid["study"]["noise"]}

    def change(rows: list[dict]) -> str:
        return minutes(sum(r["wall_s"] - before[tuple(r["args"])] for r in rows))

    at_study = [r for r in shared if noise_level_of(r) in study]
    # the plot stages read the new kinds' records too: not the same work in both
    others = [r for r in shared if noise_level_of(r) not in study and r["stage"] != "plot"]
    return [f"| the noise matrices' own cost (`matrix`, `sparse_matrix`), measured: the study level's {len(at_study)} "
            f"stage processes less the same ones in the run of record without them ({NO_MATRICES.name}/, an "
            f"earlier sitting) | {change(at_study)} | |",
            f"| … the same difference over {len(others)} stage processes of the other levels, whose work was the same "
            f"in both (how far the two sittings drift) | {change(others)} | |"]
