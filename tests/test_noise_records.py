"""noise_record.csv (labelsweep.analysis.noise_records): inject_noise's record of every level read back, one row per
run, with the count against round(p n) and, for a matrix kind only, the gap between realised and generated matrix."""

import json

import numpy as np
import pandas as pd

from labelsweep.analysis.noise_records import COLUMNS, claims, draw_matrices, matrix_runs, read_noise_records
from labelsweep.analysis.text import num
from labelsweep.noise import draw_noise, noise_record

LABELS = np.repeat(np.arange(10), 200)


def write_level(folder, level, kinds):
    runs = []
    for kind in kinds:
        noise = draw_noise(LABELS, level, 10, seed=1, kind=kind, confusable=(np.arange(10) + 1) % 10,
                           options={"frac_zero_noise_rates": 0.0, "sparse_frac_zero_noise_rates": 0.4})
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


def test_the_claims_say_exact_counts_and_each_matrix_kinds_spread_from_the_table(tmp_path):
    write_level(tmp_path, 0.4, ["symmetric", "class_conditional", "matrix", "sparse_matrix"])
    table = read_noise_records(tmp_path, [0.4])
    lines = claims(table)
    assert lines[0] == "- 2 runs of the exact-count kinds (class_conditional, symmetric): every one flipped exactly " \
                       "round(p n) labels."
    matrix = table[table.noise_kind == "matrix"].iloc[0]
    difference = num(matrix.count_difference, 0, "+")
    assert lines[1] == (f"- matrix at 40 %: 1 runs; flips − round(p n) from {difference} to {difference} (realised "
                        f"rate {matrix.rate:.3f}–{matrix.rate:.3f}); every realised noise matrix within "
                        f"{matrix.max_matrix_gap:.4f} of its generated one (the largest "
                        "gap of any entry).")
    assert lines[2].startswith("- sparse_matrix at 40 %: 1 runs;") and len(lines) == 3
    broken = table.assign(count_difference=np.where(table.noise_kind == "symmetric", 3, table.count_difference))
    assert "should never show" in claims(broken)[0]


def test_without_matrix_runs_or_a_record_the_block_says_so():
    assert "not in this grid" in claims(pd.DataFrame({"noise_level": [0.2], "noise_kind": ["symmetric"],
                                                      "count_difference": [0], "max_matrix_gap": [np.nan]}))[-1]
    assert claims(pd.DataFrame())[0].startswith("(Not recorded in the committed results")


def test_the_figure_shows_per_matrix_kind_the_default_regimes_first_seed_at_its_highest_level(tmp_path):
    write_level(tmp_path, 0.2, ["symmetric", "matrix", "sparse_matrix"])
    write_level(tmp_path, 0.4, ["symmetric", "sparse_matrix"])
    shown = matrix_runs(tmp_path, [0.2, 0.4])
    assert [(run["noise_kind"], run["noise_level"]) for run in shown] == [("matrix", 0.2), ("sparse_matrix", 0.4)]
    fig = draw_matrices(tmp_path, [0.2, 0.4], "Toy")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 6 and titles[0] == "generated\nmatrix at 20 %, default seed 1\n0 of 90 off-diagonal rates 0"
    # sparsity 0.4 sets 36 of the 90 off-diagonal rates to 0 (cleanlab's generator)
    assert titles[3] == "generated\nsparse_matrix at 40 %, default seed 1\n36 of 90 off-diagonal rates 0"
    record = read_noise_records(tmp_path, [0.4]).query("noise_kind == 'sparse_matrix'").iloc[0]
    assert titles[5] == (f"realised − generated (largest gap {record.max_matrix_gap:.4f})\n{record.flips} flips, "
                         f"{num(record.count_difference, 0, '+')} against round(p n)")


def test_without_a_matrix_run_the_figure_says_so(tmp_path):
    write_level(tmp_path, 0.2, ["symmetric"])
    fig = draw_matrices(tmp_path, [0.2], "Toy")
    assert "No run of this grid drew its noise from a noise matrix" in fig.axes[0].texts[0].get_text()
