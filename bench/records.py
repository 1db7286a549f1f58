"""The records bench/run.py leaves in bench/out/, and what every report reads from one: where they lie, which noise
level a stage process ran.
"""

from __future__ import annotations

import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def median(values: list[float]) -> float:
    return statistics.median(values)


def noise_level_of(record: dict) -> str | None:
    args = record["args"]
    if "--noise-level" in args:
        return args[args.index("--noise-level") + 1]
    if "--noisy" in args:
        return Path(args[args.index("--noisy") + 1]).name.removeprefix("noise_")
    return None
