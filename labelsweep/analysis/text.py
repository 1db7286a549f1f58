"""How the docs' tables and the claims write numbers: a mean with its 95 % interval, a signed difference, a
condition. Shared by labelsweep.analysis.claims and labelsweep.tooling.report."""

from __future__ import annotations

import math

import pandas as pd


def fmt(value: float | None, digits: int = 3) -> str:
    """A number, or "–" where there is none (None or NaN)."""
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def num(value: float, digits: int = 3, sign: str = "") -> str:
    """A signed number; a negative one that rounds to zero keeps its sign ("−0.000"), so that an interval that holds
    0 reads so, while an exact zero (also -0.0) reads "+0.000"."""
    return f"{value + 0.0:{sign}.{digits}f}".replace("-", "−")


def interval(low: float, high: float, digits: int = 3, sign: str = "") -> str:
    """A 95 % interval as "[low, high]"; "" where there is none (one seed)."""
    return "" if math.isnan(low) else f"[{num(low, digits, sign)}, {num(high, digits, sign)}]"


def mean_interval(mean: float, low: float, high: float, digits: int = 3, sign: str = "") -> str:
    """A mean and its 95 % interval: "0.865 [0.860, 0.870]"."""
    return f"{num(mean, digits, sign)} {interval(low, high, digits, sign)}".rstrip()


def condition(row: pd.Series) -> str:
    """A condition as the docs' tables head it: "20 % | symmetric | default"."""
    return f"{100 * row.noise_level:g} % | {row.noise_kind.replace('_', '-')} | {row.regime}"
