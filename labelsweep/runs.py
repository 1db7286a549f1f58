"""The runs inside one noise level: every noise kind x regime x seed, and how they are stored.

A level holds two grids of runs (params.yaml): the seed's sweep (``runs``: at every level, each run
with the baseline and the threshold grid) and the study (``study``: at its own levels, each run with
the baseline, the study's thresholds and the strategies and controls). A run in both (same kind,
regime and seed) is one run with the cells of both. At 0 % injected noise, the datasets of ``real_errors`` (the
dataset's own labels, issue 29) run that grid's runs in the study's place, with its thresholds and strategies.

A level's stages handle all of its runs in one process (dvc.yaml never goes finer than a dataset and
a noise level). A run's seed draws its noise, its folds, its models' initial weights and batch order,
and a regime's training subsample. A *regime* is a training setting, defined in params.yaml under
``<dataset>.regimes`` and resolved by :meth:`labelsweep.config.Dataset.regime` (``default``: the dataset's
``train`` section). A dataset may set a regime to null: it does not run it (the stage says so).

Every per-sample array of a level has one row per run (or per cell) over *all* training samples; a
sample outside a run's training subsample has label `labelsweep.labels.NO_LABEL`, which the training loop
skips like a pruned sample. ``runs.csv``, written by inject_noise, gives the row order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from labelsweep.config import Dataset, Params


@dataclass(frozen=True)
class Run:
    noise_kind: str
    regime: str
    seed: int
    sweep: bool = True  # the run is one of the seed's sweep (params.yaml `runs`)
    study: bool = False  # the run is one of the study's (params.yaml `study`, at its levels)


def plan(noise_kinds: list[str], regimes: list[str], seeds: list[int] | Callable[[str], list[int]],
         section: Dataset) -> list[Run]:
    """The runs of one dataset's level, in a fixed order: the regimes the dataset does not run are left out.
    `seeds`: one list for every regime, or a regime's own (:meth:`labelsweep.config.RunGrid.seeds_of`)."""
    seeds_of = seeds if callable(seeds) else lambda regime: seeds
    return [Run(kind, regime, seed) for regime in regimes if section.runs(regime)
            for kind in noise_kinds for seed in seeds_of(regime)]


def level_plan(noise_level: float, params: Params, section: Dataset, dataset: str | None = None) -> list[Run]:
    """Every run of one level: the sweep's runs, then the study's where `noise_level` is one of its levels -- or,
    for a dataset of `real_errors` at 0 %, that grid's runs in the study's place; a run in both grids appears once,
    with both flags."""
    sweep = plan(params.runs.noise_kinds, params.runs.regimes, params.runs.seeds_of, section)
    study = params.real_errors_at(noise_level, dataset) or params.study
    if not study or (study is params.study and noise_level not in study.noise):
        return sweep
    extra = [Run(r.noise_kind, r.regime, r.seed, sweep=False, study=True)
             for r in plan(study.noise_kinds, study.regimes, study.seeds_of, section)]
    both = {(r.noise_kind, r.regime, r.seed) for r in extra}
    merged = [Run(r.noise_kind, r.regime, r.seed, True, (r.noise_kind, r.regime, r.seed) in both) for r in sweep]
    known = {(r.noise_kind, r.regime, r.seed) for r in sweep}
    return merged + [r for r in extra if (r.noise_kind, r.regime, r.seed) not in known]


def study_cells(noise_level: float, params: Params, dataset: str) -> tuple[list[float], list[str]]:
    """The thresholds and strategies of a level's study runs: `real_errors`' for its datasets at 0 %, else the
    study's (none without a study)."""
    grid = params.real_errors_at(noise_level, dataset)
    if grid is not None:
        return grid.thresholds, grid.strategies
    return (params.study.thresholds, params.strategies) if params.study else ([], [])


def table_csv(runs: list[Run]) -> str:
    """``runs.csv``'s text (one row per run, in row order), for :func:`labelsweep.artifacts.save_arrays`."""
    return pd.DataFrame([asdict(run) for run in runs]).to_csv(index=False, lineterminator="\n")


def load(folder: str | Path) -> list[Run]:
    """The runs of a level, in row order, from the inject_noise folder's ``runs.csv``."""
    table = pd.read_csv(Path(folder) / "runs.csv")
    return [Run(row.noise_kind, row.regime, int(row.seed), bool(row.sweep), bool(row.study))
            for row in table.itertuples()]


def groups(runs: list[Run]) -> Iterator[tuple[str, int, list[int]]]:
    """``(regime, seed, row indices)``: runs that share a regime and a seed share their training samples,
    settings, initial weights and batch order, so their models can train together."""
    keys = dict.fromkeys((run.regime, run.seed) for run in runs)
    for regime, seed in keys:
        yield regime, seed, [i for i, run in enumerate(runs) if (run.regime, run.seed) == (regime, seed)]
