"""The grids of runs in params.yaml: the seed's sweep (`runs`), the study (`study`) and the dataset's own labels
(`real_errors`), as typed settings (:mod:`labelsweep.config` holds them in :class:`~labelsweep.config.Params`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StrictStr

from labelsweep import checks

REGIME_SEEDS = "null, or a mapping from regime names to their own seeds"


class RunGrid(checks.Section):
    """The runs of a level: noise kinds x regimes x seeds, each a list (a single value is a list of one).
    `regime_seeds` gives a regime its own seeds instead of `seeds` (a regime whose verdicts need intervals gets
    more seeds than one that is only drawn beside it); an entry for a regime not in `regimes` is not run (so that
    `-S runs.regimes=[default]` needs no other change), but must name a regime the datasets know."""

    noise_kinds: checks.NoiseKinds = None
    regimes: checks.RegimeNames = None
    seeds: checks.Seeds = None
    regime_seeds: Annotated[dict[StrictStr, checks.Seeds], checks.allowing(REGIME_SEEDS)] | None = None

    def seeds_of(self, regime: str) -> list[int]:
        """The seeds `regime` runs with: its own under `regime_seeds`, else `seeds`."""
        return (self.regime_seeds or {}).get(regime, self.seeds)


STUDY = "null, or a mapping with noise, noise_kinds, regimes, seeds and thresholds"


class Study(RunGrid):
    """The study: its runs at its levels (those also in `noise` run it), with its threshold grid."""

    noise: checks.NoiseGrid = None
    thresholds: checks.ThresholdGrid = None


REAL_ERRORS = "null, or a mapping with datasets, noise_kinds, regimes, seeds, thresholds and strategies"


class RealErrors(RunGrid):
    """The dataset's own labels (issue 29): more runs at 0 % injected noise, for the datasets listed (those also in
    `datasets`), each with the baseline, its own threshold grid and strategies. At 0 % it takes the study's place
    for those datasets."""

    datasets: Annotated[list[StrictStr], checks.allowing("a list of dataset names")] = None
    thresholds: checks.ThresholdGrid = None
    strategies: checks.Strategies = None
