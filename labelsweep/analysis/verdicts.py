"""Verdicts on the original study's three claims (issue 27): a rule per claim, written here and tested.

Every claim is judged per noise level from an estimate with its 95 % interval over the seeds (:class:`Estimate`),
then over the levels (:func:`combine`). A level is graded

- ``full``: the claimed direction holds (the interval lies wholly on the claimed side of 0) and, where the original
  published a size, ours is *of its size*: the interval meets [published / 2, 2 x published] (within a factor of 2);
- ``direction``: the direction holds, the size does not;
- ``none``: the direction does not hold (the interval includes 0 or lies on the other side).

Levels with injected noise only (above 0 %) and with an interval (two seeds or more) are judged: a level with one
seed is shown but left out, so that a regime whose sweep has one seed is judged at the study's levels, which have
more. Over the judged levels: **reproduced** where every one is ``full``; **partly reproduced** where at least one
has the direction; **not reproduced** where none has; and *no verdict* where no level has an interval.

The claims and what each level reads:

1. *The baseline falls while cleanlab holds* (:func:`claim_falls_while_cleanlab_holds`): the baseline's drop from
   0 % noise (paired within a seed) and cleanlab's prune-all gain over the baseline; the direction needs both above
   0, the size both of the original's (its drops .105 and .227, gains .081 and .177 at 30 and 45 %).
2. *cleanlab flags more than was injected, by about 4,500* (:func:`claim_flags_more_than_injected`): flagged -
   injected, from runs on the full 60,000-sample training set, as the original's; direction above 0, size 4,500.
3. *Relabelling hurts in proportion to the share relabelled* (:func:`claim_relabelling_hurts`): the least-squares
   slope of test accuracy over the share pruned (the rest relabelled; labelsweep.summary.SLOPE, one slope per
   seed, then the t-interval of the slopes). The claim predicts a slope above 0 (pruning beats relabelling, the more
   the better); it published no size, so a level with the direction is ``full``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelsweep.analysis.summary import ORIGINAL, t_interval
from labelsweep.strategies import BASELINE, PRUNE_ALL, Cell

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly reproduced", "not reproduced"
NO_VERDICT = "no verdict (one seed at every level: no interval)"
FULL, DIRECTION, NONE, NO_INTERVAL = "full", "direction", "none", "no interval"
SIZE_FACTOR = 2.0  # "of the published size": within this factor of it
# Claim 2 as published: cleanlab flags about this many more labels than were injected (60,000 training samples).
PUBLISHED_EXCESS = 4500
# The original's single runs (Fashion-MNIST, symmetric noise; labelsweep.analysis.summary.ORIGINAL):
# cell -> noise level -> accuracy.
PUBLISHED_ACCURACY = ORIGINAL["fashion_mnist"]


@dataclass(frozen=True)
class Estimate:
    """A mean over the seeds with its 95 % interval (NaN bounds: one seed, no interval)."""

    mean: float
    low: float
    high: float

    @classmethod
    def of(cls, values: np.ndarray | pd.Series) -> Estimate:
        """The mean of per-seed `values` and its t-interval (labelsweep.summary.t_interval)."""
        values = np.asarray(values, dtype=float)
        sd = values.std(ddof=1) if len(values) > 1 else math.nan
        low, high = t_interval(values.mean(), sd, len(values))
        return cls(float(values.mean()), float(low), float(high))

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def above_zero(self) -> bool:
        return self.low > 0

    def of_size(self, published: float) -> bool:
        """Whether the interval meets [published / SIZE_FACTOR, published * SIZE_FACTOR] (published > 0)."""
        return self.high >= published / SIZE_FACTOR and self.low <= published * SIZE_FACTOR


def grade(estimates: list[Estimate], published: list[float | None]) -> str:
    """One level's grade (module doc): the direction needs every estimate above 0, the size every estimate of its
    published size (None: no size published)."""
    if not all(e.has_interval for e in estimates):
        return NO_INTERVAL
    if not all(e.above_zero() for e in estimates):
        return NONE
    sized = all(size is None or e.of_size(size) for e, size in zip(estimates, published))
    return FULL if sized else DIRECTION


def combine(grades: list[str]) -> str:
    """The verdict over the levels' grades (module doc): the levels without an interval are left out."""
    grades = [g for g in grades if g != NO_INTERVAL]
    if not grades:
        return NO_VERDICT
    if all(g == FULL for g in grades):
        return REPRODUCED
    return PARTLY if any(g in (FULL, DIRECTION) for g in grades) else NOT_REPRODUCED


def drop_from_clean(accuracy: pd.DataFrame, cell: str, level: float) -> Estimate:
    """How much `cell`'s test accuracy falls from 0 % noise to `level`, paired within each seed, over the seeds
    that have both (`accuracy`: one noise kind and regime, with noise_level, seed, cell, test_accuracy)."""
    wide = accuracy[accuracy.cell == cell].pivot_table(index="seed", columns="noise_level", values="test_accuracy")
    if 0.0 not in wide or level not in wide:
        raise ValueError(f"the accuracy table has no {cell!r} at 0 % and at {level:g} noise")
    return Estimate.of((wide[0.0] - wide[level]).dropna())


def claim_falls_while_cleanlab_holds(levels: Mapping[float, tuple[Estimate, Estimate]],
                                     published: Mapping[Cell, Mapping[float, float]] = PUBLISHED_ACCURACY) -> str:
    """Claim 1 from, per level, (the baseline's drop from 0 %, prune-all - baseline), judged against the
    published drop and gain at that level (levels the original did not publish are left out)."""
    base, pruned = published[Cell(BASELINE)], published[PRUNE_ALL]
    grades = [grade([drop, gain], [base[0.0] - base[p], pruned[p] - base[p]])
              for p, (drop, gain) in sorted(levels.items()) if p in base and p != 0.0]
    return combine(grades)


def claim_flags_more_than_injected(levels: Mapping[float, Estimate], published: float = PUBLISHED_EXCESS) -> str:
    """Claim 2 from flagged - injected per level (full training set), against the published excess."""
    return combine([grade([excess], [published]) for p, excess in sorted(levels.items()) if p > 0])


def claim_relabelling_hurts(levels: Mapping[float, Estimate]) -> str:
    """Claim 3 from the slope of test accuracy over the share pruned (rest relabelled) per level: above 0."""
    return combine([grade([slope], [None]) for p, slope in sorted(levels.items()) if p > 0])


def from_table(table: pd.DataFrame, mean: str = "mean", low: str = "ci_low", high: str = "ci_high"
               ) -> dict[float, Estimate]:
    """Per noise level, the :class:`Estimate` of a table's rows (one row per level: differences.csv filtered to
    one comparison, noise kind and regime, or detection.csv with its intervals)."""
    if table.noise_level.duplicated().any():
        raise ValueError("one row per noise level expected: filter to one comparison, noise kind and regime")
    return {float(r.noise_level): Estimate(float(r[mean]), float(r[low]), float(r[high]))
            for _, r in table.iterrows()}
