"""Claims blocks from the per-image paired table (plots/<dataset>/paired.csv, labelsweep.analysis.paired) and the
judged table (judged.csv, labelsweep.analysis.judged): intervals that hold the test set's sampling error, verdicts
after Holm's correction with the raw interval beside, the seeds a 1-point difference needs, "clean, train robustly,
or both?" (issue 28) and the verdict on the Roman numerals' own labels (issue 29). labelsweep.analysis.claims
dispatches the topics of :data:`TOPICS` here; a block whose table the committed results lack says so in one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from labelsweep.analysis import judged
from labelsweep.analysis.claim import Claim, condition_name
from labelsweep.analysis.intervals import seeds_needed
from labelsweep.analysis.paired import PRUNE_ALL_NAME, VERSUS_BASELINE, VERSUS_PRUNE_ALL, alternatives
from labelsweep.analysis.summary import CONDITION, CONFIDENCE, TITLES
from labelsweep.analysis.text import interval, num
from labelsweep.strategies import PRUNE_ALL

TOPICS = ("judged", "robust", "own_labels", "power", "prune_vs_baseline_holm")
NOT_YET = "(Not in these results: they have no {}.)"  # a grid without the cells, or results from before paired.csv
NOT_IN_GRID = ("(These results hold no robust-training alternative: their grid's `strategies` named none. With "
               "early_stopping, gce, label_smoothing or gce_prune_all in `strategies` (params.yaml, the default), this "
               "block compares them.)")
POWER_DIFFERENCE, POWER_TARGET = 0.01, 0.8


def claim_of(row: pd.Series | dict) -> Claim:
    """A paired.csv row as a :class:`Claim` (its raw interval; none with one seed)."""
    low, high = (row["ci_low"], row["ci_high"]) if row["n"] >= 2 else (np.nan, np.nan)
    return Claim(row["comparison"], condition_name(row), row["mean"], low, high, int(row["n"]))


def holm_verdict(row: pd.Series | dict) -> str:
    """The verdict after Holm's correction, with its adjusted p-value."""
    if row["n"] < 2:
        return "no verdict (one seed)"
    word = ("higher" if row["mean"] > 0 else "lower") if row["holm_rejects"] else "no difference detected"
    return f"{word} (Holm-adjusted p = {row['p_holm']:.3f})"


def versus(row: pd.Series | dict, what: str) -> tuple[bool, str]:
    """Whether A − B (`row`) lies above B = `what` after Holm's correction over the dataset's comparisons, and how
    it reads: the raw interval, and the Holm-adjusted p-value that decides."""
    claim = claim_of(row)
    if row["n"] < 2:
        return False, f"{claim.value()} against {what} (one seed: none claimed)"
    if not row["holm_rejects"]:
        return False, f"no difference from {what} detected {claim.value()} (Holm-adjusted p = {row['p_holm']:.3f})"
    side = "above" if row["mean"] > 0 else "below"
    return side == "above", f"{side} {what} by {claim.value()} (Holm-adjusted p = {row['p_holm']:.3f})"


def robust_claims(paired: pd.DataFrame) -> list[str]:
    """Per condition, each robust-training alternative against the baseline and cleanlab's prune-all, and which
    options lie above the baseline and above prune-all: a difference only where Holm's correction over the
    dataset's comparisons rejects 0 (the README's verdicts are Holm-corrected), the raw interval beside it."""
    headers = [cell.header for cell in alternatives()]
    names = {VERSUS_BASELINE.format(h) for h in headers}
    if not names & set(paired.comparison):
        return [NOT_IN_GRID]
    lines = ["Cleaning (cleanlab's prune-all), training robustly, or both, against the baseline and against "
             f"prune-all: mean [raw {100 * CONFIDENCE:g} % interval over the seeds and the test images]; a "
             f"difference only where Holm's correction over the dataset's {int((paired.n >= 2).sum())} comparisons "
             "rejects 0."]
    for _, group in paired.groupby(CONDITION, sort=False):
        rows = {r["comparison"]: r for r in group.to_dict("records")}
        options = {PRUNE_ALL_NAME: rows.get(VERSUS_BASELINE.format(PRUNE_ALL_NAME))}
        options.update({h: rows.get(VERSUS_BASELINE.format(h)) for h in headers})
        parts, above_base, above_pruned = [], [], []
        for option, row in options.items():
            if row is None:
                continue
            above, text = versus(row, "the baseline")
            above_base += [option] if above else []
            if VERSUS_PRUNE_ALL.format(option) in rows:
                above, against_pruned = versus(rows[VERSUS_PRUNE_ALL.format(option)], "prune-all")
                above_pruned += [option] if above else []
                text += f", {against_pruned}"
            parts.append(f"{option}: {text}")
        if len(parts) < 2:
            continue
        answer = (f"above the baseline: {', '.join(above_base) or 'none'}; above cleanlab's prune-all: "
                  f"{', '.join(above_pruned) or 'none'}")
        lines += ["", f"- {condition_name(group.iloc[0])}: {answer}.", *[f"  - {part}" for part in parts]]
    return lines


def gain_rows(paired: pd.DataFrame) -> pd.DataFrame:
    return paired[paired.comparison == VERSUS_BASELINE.format(PRUNE_ALL_NAME)]


def own_labels_claims(paired: pd.DataFrame) -> list[str]:
    """At 0 % injected noise: what pruning cleanlab's flags of the dataset's own labels does to test accuracy,
    raw interval and the verdict after Holm's correction, per regime (the noise kinds are alike at 0 %)."""
    rows = gain_rows(paired)
    rows = rows[rows.noise_level == 0].drop_duplicates("regime")
    if rows.empty:
        return [NOT_YET.format("prune-all beside the baseline at 0 % injected noise")]
    family = int((paired.n >= 2).sum())
    return [f"- On its own labels (0 % injected noise, {r.regime} model, {r.n} seed{'s' * (r.n != 1)}), pruning "
            f"cleanlab's flags changes test accuracy by {num(r['mean'], sign='+')} "
            f"{interval(r.ci_low, r.ci_high, sign='+')} (raw {100 * CONFIDENCE:g} % interval, seeds and test images); "
            f"after Holm's correction over the dataset's {family} comparison{'s' * (family != 1)}: {holm_verdict(r)}"
            for _, r in rows.iterrows()]


def power_claims(name: str, paired: pd.DataFrame) -> list[str]:
    """From the measured seed-to-seed sd of the paired differences (median over the comparisons with ≥ 2 seeds whose
    cells disagree on some test image: identical training sets say nothing of the spread) and the test set's own
    error: how many seeds resolve a 1-point difference with 80 % power."""
    measured = paired[(paired.n >= 2) & (paired.image_se > 0)]
    if measured.empty:
        return [NOT_YET.format("paired difference with two seeds or more")]
    sd, image_se = float(measured.seed_sd.median()), float(measured.image_se.median())
    seeds = seeds_needed(sd, POWER_DIFFERENCE, CONFIDENCE, POWER_TARGET, image_se)
    resolved = f"{seeds} seeds" if seeds else "no number of seeds on this test set (its own error is too large)"
    return [f"- {TITLES.get(name, name)}: the seed-to-seed sd of a paired difference is {sd:.4f} and the test set's "
            f"own standard error {image_se:.4f} (medians over {len(measured)} comparisons); a "
            f"{100 * POWER_DIFFERENCE:g}-point difference is resolved with {100 * POWER_TARGET:g} % power by "
            f"{resolved}"]


def holm_claims(paired: pd.DataFrame) -> list[str]:
    """cleanlab's prune-all − baseline per condition: the raw interval and the verdict after Holm's correction."""
    rows = gain_rows(paired)
    if rows.empty:
        return [NOT_YET.format("prune-all beside the baseline")]
    family = int((paired.n >= 2).sum())
    lines = [f"**{PRUNE_ALL.label} − baseline**, mean [raw {100 * CONFIDENCE:g} % interval over the seeds and the "
             f"test images] and the verdict after Holm's correction over the dataset's {family} comparisons:"]
    return lines + [f"- {condition_name(r)}: {claim_of(r).value()}: {holm_verdict(r)}" for _, r in rows.iterrows()]


def render(topic: str, name: str, folder: Path) -> list[str]:
    """The lines of the block `<name>/<topic>` from the tables under `folder` (plots/<name>)."""
    table = "judged.csv" if topic == "judged" else "paired.csv"
    if not (folder / table).is_file():
        return [NOT_YET.format(table)]
    data = pd.read_csv(folder / table)
    if topic == "judged":
        return judged.render(data)
    renderers = {"robust": robust_claims, "own_labels": own_labels_claims, "prune_vs_baseline_holm": holm_claims,
                 "power": lambda paired: power_claims(name, paired)}
    return renderers[topic](data)
