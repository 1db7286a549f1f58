"""Stage apply_prune_relabel: the training labels of every cell of every run of one noise level.

For each run (labelsweep.runs) and each prune share t of its threshold grid (params.yaml `thresholds`
for a run of the seed's sweep, `study.thresholds` for one of the study): of the samples cleanlab
flagged, the share t with the lowest label quality is pruned and the rest are relabelled to their
suggested label (t=1: prune all; t=0: relabel all). Beside that grid, the baseline (the noisy labels
as they are) and, for a study run, the strategies and controls of params.yaml `strategies`
(labelsweep.strategies) on the study's thresholds -- at 0 %, for a dataset of `real_errors`, that grid's
thresholds and strategies (labelsweep.runs.study_cells). Writes a folder: `labels.npy` (one
row per cell, one label per training sample, -1 for a pruned sample or one outside the run) and
`cells.csv` (the row order: run, strategy, prune share, and whether the cell is one of the sweep's
and of the study's).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep import artifacts, runs, stage
from labelsweep.labels import NO_LABEL
from labelsweep.noise import noise_rng
from labelsweep.strategies import BASELINE, PRUNE_RELABEL, Evidence, training_cells


def main() -> None:
    args, params = stage.arguments(__doc__, "dataset", "noise-level", "raw", "noisy", "issues", "out")
    noise_level, sweep_thresholds = args.noise_level, params.thresholds
    study_thresholds, chosen = runs.study_cells(noise_level, params, args.dataset)

    labels, flipped = artifacts.load_arrays(args.noisy, "labels", "flipped")
    plan = runs.load(args.noisy)
    flagged, quality, suggested, suggested_prob = artifacts.load_arrays(
        args.issues, "flagged", "quality", "suggested", "suggested_prob")
    original = np.load(Path(args.raw) / "train_labels.npy")
    rows, table = [], []
    with stage.work():
        for r, run in enumerate(plan):
            members = labels[r] != NO_LABEL
            # Its own stream, so that random removal does not depend on the other strategies in the list.
            rng = noise_rng(run.seed, noise_level, run.noise_kind).spawn(1)[0]
            in_sweep = set(sweep_thresholds) if run.sweep else set()
            in_study = set(study_thresholds) if run.study else set()
            evidence = Evidence(labels[r, members], original[members], flipped[r, members], flagged[r, members],
                                quality[r, members], suggested[r, members], suggested_prob[r, members],
                                params.confident_relabel_min, rng)
            for key, cell in training_cells(evidence, sorted(in_sweep | in_study),
                                            chosen if run.study else []):
                # A threshold cell belongs to the grids whose thresholds hold its share; the others to the study.
                sweep = run.sweep and (key.strategy == BASELINE
                                       or (key.strategy == PRUNE_RELABEL and key.share in in_sweep))
                study_cell = run.study and (key.share is None or key.share in in_study)
                if not (sweep or study_cell):
                    continue  # keep_rest at a sweep-only share
                row = np.full(len(original), NO_LABEL, dtype=np.int64)
                row[members] = cell
                rows.append(row)
                table.append({"run": r, "strategy": key.strategy, "prune_share": key.prune_share, "sweep": sweep,
                              "study": study_cell})
                print(f"noise {noise_level} {run} {key.strategy} {key.prune_share}: "
                      f"pruned {int((cell == NO_LABEL).sum())}, "
                      f"wrong labels kept {int(((cell != original[members]) & (cell != NO_LABEL)).sum())}")
    csv = pd.DataFrame(table).to_csv(index=False, lineterminator="\n")
    artifacts.save_arrays(args.out, {"labels": np.stack(rows)}, extra={"cells.csv": csv})


if __name__ == "__main__":
    stage.run(main)
