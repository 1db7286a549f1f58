"""noise_record.csv (labelsweep.analysis.noise_records): inject_noise's record of every level read back, one row per
run, with the count against round(p n) and, for a matrix kind only, the gap between realised and generated matrix."""

import json

import numpy as np

from labelsweep.analysis.noise_records import COLUMNS, read_noise_records
from labelsweep.noise import draw_noise, noise_record

LABELS = np.repeat(np.arange(10), 200)


def write_level(folder, level, kinds):
    runs = []
    for kind in kinds:
        noise = draw_noise(LABELS, level, 10, seed=1, kind=kind, options={"frac_zero_noise_rates": 0.0,
                                                                          "sparse_frac_zero_noise_rates": 0.4})
        runs.append({"noise_kind": kind, "regime": "default", "seed": 1, **noise_record(LABELS, noise, level, 10)})
    (folder / f"noise_{level}").mkdir(parents=True)
    (folder / f"noise_{level}" / "noise.json").write_text(json.dumps({"noise_level": level, "runs": runs}))


def test_one_row_per_run_and_level_with_the_matrix_gap_for_matrix_kinds_only(tmp_path):
    write_level(tmp_path, 0.2, ["symmetric", "matrix"])
    write_level(tmp_path, 0.4, ["symmetric", "sparse_matrix"])
    table = read_noise_records(tmp_path, [0.2, 0.4])
    assert list(table.columns) == COLUMNS and len(table) == 4
    exact = table[table.noise_kind == "symmetric"]
    assert (exact.count_difference == 0).all() and exact.max_matrix_gap.isna().all()
    assert (exact.flips == [400, 800]).all() and np.allclose(exact.rate, [0.2, 0.4])
    drawn = table[table.noise_kind != "symmetric"]
    # cleanlab's generator floors every off-diagonal count: realised within (K - 1) / n_k of the matrix, fewer flips
    assert (drawn.max_matrix_gap < 9 / 200).all() and (drawn.count_difference <= 0).all()
    assert (drawn.flips == drawn.count_difference + (drawn.noise_level * 2000).round()).all()
