"""What every run's noise realised, as one committed table: inject_noise's ``noise.json`` of every level (in the DVC
cache, not in git) read back by the plot stage.

Every kind but the ``matrix`` kinds flips exactly ``round(p * n)`` labels, so their ``count_difference`` is 0 and they
have no generated matrix; a ``matrix`` run's flips are drawn per class from cleanlab's generated noise matrix, so its
count can differ (labelsweep.noise_matrix says by how much at most), and ``max_matrix_gap``, the largest absolute
difference between the realised ``P(noisy = j | true = k)`` and the generated one, says how closely the labels follow
the matrix. :func:`draw_matrices` shows one run's generated and realised matrices per matrix kind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep.analysis.figures import empty_figure, plt
from labelsweep.analysis.text import num
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


def claims(table: pd.DataFrame) -> list[str]:
    """The noise_record block: whether the exact-count kinds flipped exactly round(p n) labels, and per matrix kind and
    level how far its runs' flips lie from round(p n) and how closely their labels follow the generated matrix."""
    if table.empty:
        return ["(Not recorded in the committed results: the plot stage writes noise_record.csv since issue 28; the "
                "next run of record fills this block.)"]
    exact, drawn = table[table.max_matrix_gap.isna()], table[table.max_matrix_gap.notna()]
    lines = []
    if len(exact):
        kinds = ", ".join(sorted(exact.noise_kind.unique()))
        lines.append(f"- {len(exact)} runs of the exact-count kinds ({kinds}): "
                     + ("every one flipped exactly round(p n) labels." if (exact.count_difference == 0).all() else
                        f"flips − round(p n) from {num(exact.count_difference.min(), 0, '+')} to "
                        f"{num(exact.count_difference.max(), 0, '+')}, which these kinds should never show."))
    for (kind, level), runs in drawn.groupby(["noise_kind", "noise_level"]):
        lines.append(f"- {kind} at {level * 100:g} %: {len(runs)} runs; flips − round(p n) from "
                     f"{num(runs.count_difference.min(), 0, '+')} to {num(runs.count_difference.max(), 0, '+')} "
                     f"(realised rate {runs.rate.min():.3f}–{runs.rate.max():.3f}); every realised noise matrix within "
                     f"{runs.max_matrix_gap.max():.4f} of its generated one (the largest gap of any entry).")
    if drawn.empty:
        lines.append("- No run drew its noise from a noise matrix: the `matrix` kinds are not in this grid "
                     "(docs/rerun.md).")
    return lines


def matrix_runs(noisy: str | Path, levels: list[float]) -> list[dict]:
    """Per matrix kind, the run its figure shows: at the highest level it ran, the `default` regime's lowest seed
    (or the lowest seed of the first regime by name, where `default` did not run it)."""
    shown: dict[str, dict] = {}
    for level in sorted(levels, reverse=True):
        record = json.loads((Path(noisy) / level_name(level) / "noise.json").read_text())
        drawn = [run for run in record["runs"] if run["generated_matrix"] is not None]
        for run in sorted(drawn, key=lambda run: (run["regime"] != "default", run["regime"], run["seed"])):
            shown.setdefault(run["noise_kind"], {**run, "noise_level": level})
    return [shown[kind] for kind in sorted(shown)]


def draw_matrices(noisy: str | Path, levels: list[float], name: str) -> plt.Figure:
    """Per matrix kind (a row), one run's generated noise matrix P(noisy = j | true = k), the matrix its labels
    realised, and their difference: what the labels of a `matrix` run follow, and how closely."""
    shown = matrix_runs(noisy, levels)
    title = f"{name}: cleanlab's noise matrices, generated and realised"
    if not shown:
        return empty_figure(title, "No run of this grid drew its noise from a noise matrix (docs/rerun.md).")
    fig, axes = plt.subplots(len(shown), 3, figsize=(15, 0.9 + 5.0 * len(shown)), squeeze=False,
                             layout="constrained")
    for row, run in zip(axes, shown):
        generated, realised = np.asarray(run["generated_matrix"]), np.asarray(run["realised_matrix"])
        off = ~np.eye(len(generated), dtype=bool)
        about = (f"{run['noise_kind']} at {run['noise_level'] * 100:g} %, {run['regime']} seed {run['seed']}\n"
                 f"{int((generated[off] == 0).sum())} of {int(off.sum())} off-diagonal rates 0")
        for ax, matrix, what in [(row[0], generated, "generated"), (row[1], realised, "realised by the labels")]:
            image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
            ax.set_title(f"{what}\n{about}", fontsize=9)
        fig.colorbar(image, ax=row[:2], label="P(noisy label = row | true label = column)", shrink=0.8)
        gap = realised - generated
        limit = max(float(np.abs(gap).max()), 1e-6)
        image = row[2].imshow(gap, vmin=-limit, vmax=limit, cmap="RdBu_r")
        row[2].set_title(f"realised − generated (largest gap {np.abs(gap).max():.4f})\n{run['flips']} flips, "
                         f"{num(run['count_difference'], 0, '+')} against round(p n)", fontsize=9)
        fig.colorbar(image, ax=row[2], shrink=0.8)
        for ax in row:
            ax.set_xticks(range(len(generated)))
            ax.set_yticks(range(len(generated)))
            ax.set_xlabel("true class")
            ax.set_ylabel("noisy class")
    fig.suptitle(title)
    return fig
