"""One claim: a measured quantity in one condition with its 95 % interval, and the only place its direction is
decided. Shared by the claims blocks (labelsweep.analysis.claims and the renderers it dispatches to)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelsweep.analysis.text import mean_interval

HIGHER, LOWER, NONE, NO_INTERVAL = "higher", "lower", "no difference detected", "no interval (one seed)"


@dataclass(frozen=True)
class Claim:
    """One measured quantity in one condition: its mean over n seeds and 95 % interval [low, high]."""

    subject: str
    condition: str
    mean: float
    low: float
    high: float
    n: int

    @property
    def direction(self) -> str:
        """:data:`HIGHER` or :data:`LOWER` where the interval lies above or below 0, else :data:`NONE` (or
        :data:`NO_INTERVAL` without an interval): the only place a direction is decided."""
        if np.isnan(self.low):
            return NO_INTERVAL
        return HIGHER if self.low > 0 else LOWER if self.high < 0 else NONE

    def value(self, digits: int = 3, sign: str = "+") -> str:
        """The mean and its interval, as the report's tables write them."""
        return mean_interval(self.mean, self.low, self.high, digits, sign)


def condition_name(row: pd.Series | dict) -> str:
    return f"{100 * row['noise_level']:g} % {row['noise_kind'].replace('_', '-')}, {row['regime']}"
