"""The original study, judged (issue 27): the estimates its three claims are judged on, per regime, and the
README/docs block that states them beside the published numbers with the verdict of labelsweep.analysis.verdicts.

The plot stage writes :func:`estimates` as plots/<dataset>/judged.csv (symmetric noise only, as the original's):
per regime and noise level the quantities ``drop`` (the baseline's accuracy at 0 % minus at the level, paired per
seed and test image), ``gain`` (prune-all − baseline) and ``slope`` (over the share pruned, the rest relabelled) from
the per-image intervals of labelsweep.analysis.paired (seed spread and test-set error); ``excess`` (flagged −
injected, t-interval over the seeds, only from runs on the full training set, as the original's) and ``memorised``
(the share of its wrong labels the baseline's model reproduces). One seed: no interval (NaN); such a level is shown
but not judged (labelsweep.analysis.verdicts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from labelsweep.analysis import verdicts
from labelsweep.analysis.intervals import paired_difference
from labelsweep.analysis.summary import COMPARISONS, SLOPE, memorisation
from labelsweep.analysis.text import mean_interval, num
from labelsweep.analysis.verdicts import Estimate
from labelsweep.noise import SYMMETRIC
from labelsweep.strategies import BASELINE, PRUNE_ALL, Cell

COLUMNS = ["regime", "noise_level", "quantity", "mean", "ci_low", "ci_high", "n"]
DROP, GAIN, SLOPE_Q, EXCESS, MEMORISED = "drop", "gain", "slope", "excess", "memorised"
GAIN_NAME = next(name for name, a, b in COMPARISONS if (a, b) == (PRUNE_ALL, Cell(BASELINE)))


def _row(regime: str, level: float, quantity: str, mean: float, low: float, high: float, n: int) -> dict:
    no_interval = n < 2 or np.isnan(low)
    return {"regime": regime, "noise_level": float(level), "quantity": quantity, "mean": float(mean),
            "ci_low": np.nan if no_interval else float(low), "ci_high": np.nan if no_interval else float(high),
            "n": int(n)}


def drops(accuracy: pd.DataFrame, correct: np.ndarray) -> list[dict]:
    """The baseline's drop from 0 % to every level, per regime (symmetric noise), paired per seed and image."""
    base = accuracy.assign(position=np.arange(len(accuracy)))
    base = base[(base.cell == Cell(BASELINE).key) & (base.noise_kind == SYMMETRIC)]
    rows = []
    for regime, group in base.groupby("regime", sort=False):
        wide = group.pivot_table(index="seed", columns="noise_level", values="position")
        for level in [p for p in wide.columns if p > 0 and 0.0 in wide.columns]:
            pairs = wide[[0.0, level]].dropna().astype(int)
            if len(pairs):
                r = paired_difference(correct[pairs[0.0].to_numpy()], correct[pairs[level].to_numpy()])
                rows.append(_row(regime, level, DROP, r.mean, r.low, r.high, r.n_seeds))
    return rows


def excesses(detection: pd.DataFrame, accuracy: pd.DataFrame, train_samples: int) -> list[dict]:
    """flagged − injected per regime and level from the symmetric runs on the full training set (the baseline
    trained on all `train_samples`)."""
    full = accuracy[(accuracy.cell == Cell(BASELINE).key) & (accuracy.train_samples == train_samples)]
    keys = set(zip(full.noise_level, full.regime, full.seed))
    full_run = np.array([(p, r, s) in keys for p, r, s in zip(detection.noise_level, detection.regime, detection.seed)],
                        dtype=bool)
    runs = detection[full_run & (detection.noise_kind == SYMMETRIC).to_numpy() & (detection.injected > 0).to_numpy()]
    rows = []
    for (regime, level), group in runs.groupby(["regime", "noise_level"], sort=True):
        e = Estimate.of(group.flagged.astype(float) - group.injected.astype(float))
        rows.append(_row(regime, level, EXCESS, e.mean, e.low, e.high, len(group)))
    return rows


def estimates(accuracy: pd.DataFrame, correct: np.ndarray, detection: pd.DataFrame, paired: pd.DataFrame,
              train_samples: int) -> pd.DataFrame:
    """judged.csv (module doc): every quantity the verdicts read, per regime and level, symmetric noise."""
    rows = drops(accuracy, correct) + excesses(detection, accuracy, train_samples)
    fitted = memorisation(accuracy)
    for quantity, part in ((GAIN, paired[paired.comparison == GAIN_NAME]),
                           (SLOPE_Q, paired[paired.comparison == SLOPE]),
                           (MEMORISED, fitted[fitted.cell == Cell(BASELINE).key])):
        rows += [_row(r.regime, r.noise_level, quantity, r["mean"], r.ci_low, r.ci_high, r.n)
                 for _, r in part[part.noise_kind == SYMMETRIC].iterrows()]
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["regime", "quantity", "noise_level"], ignore_index=True)


def _estimate(table: pd.DataFrame, quantity: str) -> dict[float, Estimate]:
    part = table[table.quantity == quantity]
    return {float(r.noise_level): Estimate(r["mean"], r.ci_low, r.ci_high) for _, r in part.iterrows()}


def _value(e: Estimate, digits: int = 3, sign: str = "+") -> str:
    return mean_interval(e.mean, e.low, e.high, digits, sign)


def _judged_at(estimates: dict[float, Estimate]) -> list[str]:
    """A line naming the levels judged where some (one seed) are shown but not judged."""
    judged = [p for p, e in sorted(estimates.items()) if p > 0 and e.has_interval]
    if not judged or len(judged) == len([p for p in estimates if p > 0]):
        return []
    return [f"judged at {', '.join(f'{100 * p:g}' for p in judged)} % (the levels with two seeds or more)"]


def claim_one(table: pd.DataFrame) -> tuple[str, list[str]]:
    """Claim 1 for one regime: its verdict and its lines (ours beside the published drop and gain)."""
    base, pruned = verdicts.PUBLISHED_ACCURACY[Cell(BASELINE)], verdicts.PUBLISHED_ACCURACY[PRUNE_ALL]
    drop, gain = _estimate(table, DROP), _estimate(table, GAIN)
    levels = [p for p in sorted(base) if p > 0 and p in drop and p in gain]
    if not levels:
        return "not judged", ["no symmetric-noise run at the published levels with 0 % beside it"]
    verdict = verdicts.claim_falls_while_cleanlab_holds({p: (drop[p], gain[p]) for p in levels})
    lines = [f"at {100 * p:g} %: baseline drop {_value(drop[p])} (published {num(base[0.0] - base[p], sign='+')}), "
             f"prune all − baseline {_value(gain[p])} (published {num(pruned[p] - base[p], sign='+')})"
             for p in levels]
    fitted = _estimate(table, MEMORISED)
    if verdict != verdicts.REPRODUCED and any(p in fitted for p in levels):
        shown = "; ".join(f"{_value(fitted[p], 2, '')} at {100 * p:g} %" for p in levels if p in fitted)
        lines.append(f"measured: its baseline's model reproduces this share of its wrong labels: {shown}")
    return verdict, lines


def claim_two(table: pd.DataFrame) -> tuple[str, list[str]]:
    """Claim 2 for one regime: flagged − injected per level on the full training set, against +4,500."""
    excess = _estimate(table, EXCESS)
    if not excess:
        return "not judged", ["no run on the full training set (the original's 60,000 samples)"]
    verdict = verdicts.claim_flags_more_than_injected(excess)
    lines = ["; ".join(f"{100 * p:g} %: {_value(e, 0)}" for p, e in sorted(excess.items()))] + _judged_at(excess)
    if verdict != verdicts.REPRODUCED:
        low, high = min(excess.values(), key=lambda e: e.mean), max(excess.values(), key=lambda e: e.mean)
        lines.append(f"measured: flagged − injected ranges from {num(low.mean, 0, '+')} to {num(high.mean, 0, '+')} "
                     f"against the published {num(verdicts.PUBLISHED_EXCESS, 0, '+')}")
    return verdict, lines


def claim_three(table: pd.DataFrame) -> tuple[str, list[str]]:
    """Claim 3 for one regime: the slope over the share pruned (rest relabelled) per level, above 0."""
    slope = {p: e for p, e in _estimate(table, SLOPE_Q).items() if p > 0}
    if not slope:
        return "not judged", ["no prune/relabel grid of at least four shares"]
    verdict = verdicts.claim_relabelling_hurts(slope)
    lines = ["; ".join(f"{100 * p:g} %: {_value(e)}" for p, e in sorted(slope.items()))] + _judged_at(slope)
    against = [f"{100 * p:g} %" for p, e in sorted(slope.items()) if e.has_interval and not e.above_zero()]
    if verdict != verdicts.REPRODUCED and against:
        lines.append(f"measured: the slope's interval does not lie above 0 at {', '.join(against)}")
    return verdict, lines


def published() -> list[str]:
    """The original's three claims as published, with its numbers (verdicts.PUBLISHED_*)."""
    base, pruned = verdicts.PUBLISHED_ACCURACY[Cell(BASELINE)], verdicts.PUBLISHED_ACCURACY[PRUNE_ALL]
    noisy = [p for p in sorted(base) if p > 0]
    at = " / ".join(f"{100 * p:g}" for p in noisy)
    return [f"The baseline falls while cleanlab holds (published: baseline {base[0.0]:.3f} clean, "
            f"{' / '.join(f'{base[p]:.3f}' for p in noisy)} at {at} % symmetric noise; prune all "
            f"{' / '.join(f'{pruned[p]:.3f}' for p in noisy)})",
            f"cleanlab flags more than was injected, by about {verdicts.PUBLISHED_EXCESS:,} (60,000 training samples)",
            "Relabelling hurts in proportion to the share relabelled; pruning all is best (published: no size)"]


def render(table: pd.DataFrame) -> list[str]:
    """The block "The original study, judged": per claim, what was published and, per regime, ours with 95 %
    intervals (seeds and test images), its verdict word and, where it differs, what was measured."""
    if table.empty:
        return ["(Not judged: the committed results have no per-image predictions; the next run of record fills "
                "this block.)"]
    lines = ["Each of the original study's claims beside ours (symmetric noise; mean [95 % interval over the seeds "
             "and the test images]); the verdict rule is labelsweep/analysis/verdicts.py's."]
    for number, (claim, judge) in enumerate(zip(published(), (claim_one, claim_two, claim_three)), start=1):
        lines += ["", f"**{number}. {claim}**"]
        for regime, rows in table.groupby("regime", sort=True):
            verdict, details = judge(rows)
            seeds = int(rows.n.max())
            lines.append(f"- {regime} ({seeds} seed{'s' * (seeds != 1)}): **{verdict}**. " + "; ".join(details))
    return lines
