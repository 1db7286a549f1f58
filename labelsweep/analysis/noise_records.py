"""What every run's noise realised, as one committed table: inject_noise's ``noise.json`` of every level (in the DVC
cache, not in git) read back by the plot stage.

Every kind but the ``matrix`` kinds flips exactly ``round(p * n)`` labels, so their ``count_difference`` is 0 and they
have no generated matrix; a ``matrix`` run's flips are drawn per class from cleanlab's generated noise matrix, so its
count can differ (labelsweep.noise_matrix says by how much at most), and ``max_matrix_gap``, the largest absolute
difference between the realised ``P(noisy = j | true = k)`` and the generated one, says how closely the labels follow
the matrix.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep.artifacts import level_name

COLUMNS = ["noise_level", "noise_kind", "regime", "seed", "samples", "flips", "rate", "count_difference",
           "max_matrix_gap"]


def read_noise_records(noisy: str | Path, levels: list[float]) -> pd.DataFrame:
    """One row per run and level: its samples, flips, realised rate, flips - round(p n), and (matrix kinds) the
    largest gap between its realised and generated noise matrices (NaN for a kind without a matrix)."""
    rows = []
    for level in levels:
        record = json.loads((Path(noisy) / level_name(level) / "noise.json").read_text())
        for run in record["runs"]:
            generated = run["generated_matrix"]
            gap = (np.nan if generated is None else
                   float(np.abs(np.asarray(run["realised_matrix"]) - np.asarray(generated)).max()))
            rows.append({**{key: run[key] for key in COLUMNS[1:-1]}, "noise_level": level, "max_matrix_gap": gap})
    return pd.DataFrame(rows, columns=COLUMNS)
