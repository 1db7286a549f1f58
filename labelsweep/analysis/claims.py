"""The README's reading as claims computed from the committed results: every sentence that states a direction,
a range or a "best" is made here from plots/<dataset>/{differences,results,detection,detection_by_filter,
memorisation,sweep_accuracy,label_review}.csv and data.json, each with its 95 % interval where the grid has seeds.

The rule: a difference is called a difference only where its 95 % interval excludes 0 -- paired within a seed and
over the seeds *and* the test images (plots/<dataset>/paired.csv, labelsweep.analysis.paired) where the results
have it, else the t-interval over the seeds of differences.csv -- otherwise the claim says that no difference was
detected and gives the interval. With one seed there is no interval and no difference is claimed. The README
holds the claims in blocks between markers ``<!-- labelsweep.claims: <key>: begin -->`` and ``... end -->``, where
<key> is ``<dataset>/<topic>`` (:data:`TOPICS`) or ``multiplicity``;
``python -m labelsweep.tooling.report --write README.md`` fills them (:func:`fill`) and tests/test_docs.py fails
when one drifts from the results.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labelsweep.analysis import noise_records, paired_claims
from labelsweep.analysis.claim import HIGHER, LOWER, NO_INTERVAL, NONE, Claim, condition_name
from labelsweep.analysis.multiplicity import multiplicity
from labelsweep.analysis.summary import (
    COMPARISONS,
    CONFIDENCE,
    LINES,
    PUBLISHED,
    SLOPE,
    TITLES,
    ensure_intervals,
)
from labelsweep.noise import SYMMETRIC
from labelsweep.strategies import (
    BASELINE,
    CONFIDENT_RELABEL,
    KEEP_REST,
    PERFECT_DETECTION,
    PRUNE_ALL,
    PRUNE_RELABEL,
    RANDOM_REMOVAL,
    RELABEL_ALL,
    TRUE_LABELS,
    Cell,
)

if TYPE_CHECKING:
    from labelsweep.config import Params

MARKER = re.compile(r"(<!-- labelsweep\.claims: (?P<key>[\w/]+): begin -->\n)(?P<body>.*?)"
                    r"(<!-- labelsweep\.claims: (?P=key): end -->)", re.S)


def _comparison(minuend: Cell, subtrahend: Cell) -> str:
    return next(name for name, a, b in COMPARISONS if (a, b) == (minuend, subtrahend))


# A README block's topic -> the paired differences (summary.differences' comparisons) it states.
TOPICS: dict[str, list[str]] = {
    "prune_vs_baseline": [_comparison(PRUNE_ALL, Cell(BASELINE))],
    "prune_vs_relabel": [_comparison(PRUNE_ALL, RELABEL_ALL), SLOPE],
    "keep_vs_relabel": [_comparison(Cell(KEEP_REST, 0.5), Cell(PRUNE_RELABEL, 0.5))],
    "vs_random": [_comparison(PRUNE_ALL, Cell(RANDOM_REMOVAL))],
    "vs_perfect": [_comparison(Cell(PERFECT_DETECTION), PRUNE_ALL)],
    "vs_true": [_comparison(Cell(TRUE_LABELS), PRUNE_ALL)],
    "confident": [_comparison(Cell(CONFIDENT_RELABEL), PRUNE_ALL)],
}


def paired_table(folder: Path) -> pd.DataFrame:
    """The paired comparisons the blocks state: paired.csv where the results have it (intervals over the seeds *and*
    the test images: labelsweep.analysis.paired), else differences.csv (seeds only: results from before it); a row
    with one seed keeps no interval, so that it claims nothing."""
    if not (folder / "paired.csv").is_file():
        return pd.read_csv(folder / "differences.csv")
    table = pd.read_csv(folder / "paired.csv")
    one_seed = table.n < 2
    return table.assign(ci_low=table.ci_low.mask(one_seed), ci_high=table.ci_high.mask(one_seed),
                        excludes_zero=table.excludes_zero.astype(bool) & ~one_seed)


def comparison_claims(differences: pd.DataFrame, name: str) -> list[Claim]:
    """The claims of one paired comparison, one per condition (differences.csv rows, any grid)."""
    rows = ensure_intervals(differences)
    rows = rows[rows.comparison == name]
    return [Claim(name, condition_name(r), r["mean"], r.ci_low, r.ci_high, int(r.n)) for _, r in rows.iterrows()]


def render_claims(claims: list[Claim], subject: str, digits: int = 3) -> list[str]:
    """A bullet per direction: in how many conditions the interval lies above 0, below 0, or holds 0."""
    if not claims:
        return [f"**{subject}**: not in this grid."]
    seeds = sorted({c.n for c in claims})
    plural = "" if seeds == [1] else "s"
    lines = [f"**{subject}**, mean [{100 * CONFIDENCE:g} % interval] over {'/'.join(map(str, seeds))} seed{plural}:"]
    words = {HIGHER: "above 0", LOWER: "below 0", NONE: "no difference detected (the interval holds 0)",
             NO_INTERVAL: "no interval (one seed), so no difference claimed"}
    for direction, word in words.items():
        group = [c for c in claims if c.direction == direction]
        if group or direction != NO_INTERVAL and seeds != [1]:
            listed = "; ".join(f"{c.condition} {c.value(digits)}" for c in group)
            lines.append(f"- {word} in {len(group)} of {len(claims)} conditions" + (f": {listed}" if group else ""))
    return lines


def filter_claims(filters: pd.DataFrame, configured: str) -> list[str]:
    """Per condition, the filter_by with the highest mean F1 against the injected flips, and whether it detects
    better than the `configured` one (paired within seed; only where detection_by_filter.csv has intervals)."""
    f1 = filters[filters.measure == "f1"]
    if f1.empty:
        return ["**filter_by**: no level with injected noise, nothing to score the flags against."]
    paired = "vs_configured_ci_low" in f1
    lines = [f"**filter_by** (F1 against the injected flips; `{configured}` decides what is pruned or relabelled):"]
    for (_, _), group in f1.groupby(["noise_percent", "panel"], sort=False):
        best = group.loc[group.value.idxmax()]
        where = f"{best.noise_percent:g} % {best.panel.replace(' noise, ', ', ').removesuffix(' model')}"
        if not paired:
            used = group[group.filter_by == configured].value
            lines.append(f"- {where}: highest mean F1 `{best.filter_by}` {best.value:.3f}, `{configured}` "
                         f"{used.iloc[0]:.3f}; the committed table has no per-seed scores, so no filter_by is "
                         "called better")
            continue
        ranked = group.sort_values("value", ascending=False)
        if best.filter_by == configured and len(ranked) < 2:
            lines.append(f"- {where}: `{configured}` is the only filter_by scored")
            continue
        other = best if best.filter_by != configured else ranked.iloc[1]
        claim = Claim(other.filter_by, where, other.vs_configured_mean, other.vs_configured_ci_low,
                      other.vs_configured_ci_high, int(other.n))
        verdict = {HIGHER: "detects better than `{}`", LOWER: "detects worse than `{}`",
                   NONE: "no difference from `{}` detected", NO_INTERVAL: "no interval against `{}` (one seed)"}
        lead = "highest mean F1" if other is best else f"`{configured}` has the highest mean F1; next"
        lines.append(f"- {where}: {lead} `{other.filter_by}`: {verdict[claim.direction].format(configured)}, "
                     f"F1 difference {claim.value()}")
    return lines


def detection_claims(detection: pd.DataFrame) -> list[str]:
    """Ranges over the conditions of how many samples cleanlab flags beyond the injected flips, of its precision
    and of its recall (with intervals where detection.csv has their sd), and of how many of the wrong labels
    relabelling or pruning every flagged sample leaves."""
    measures = {"flagged_minus_injected": ("samples flagged beyond the injected flips", 0, "+"),
                "precision": ("precision against the injected flips", 2, ""),
                "recall": ("recall against the injected flips", 2, "")}
    detection = detection[detection.injected > 0]  # against an empty truth every flag counts as wrong
    if detection.empty:
        return ["- no level with injected noise: nothing to score the flags against"]
    detection = ensure_intervals(detection, tuple(f"{m}_" for m in measures if f"{m}_sd" in detection))
    lines = []
    for measure, (what, digits, sign) in measures.items():
        ordered = detection.sort_values(measure)
        ends = [Claim(measure, condition_name(r), r[measure], r.get(f"{measure}_ci_low", np.nan),
                      r.get(f"{measure}_ci_high", np.nan), int(r.n)) for _, r in ordered.iloc[[0, -1]].iterrows()]
        lines.append(f"- {what}: from {ends[0].value(digits, sign)} ({ends[0].condition}) to "
                     f"{ends[1].value(digits, sign)} ({ends[1].condition})")
    noisy = detection[detection.wrong_given > 0]
    for how, among in (("relabel_all", "training labels"), ("prune_all", "labels of the samples kept")):
        left = noisy[f"wrong_after_{how}"] / noisy.wrong_given
        low, high = noisy.loc[left.idxmin()], noisy.loc[left.idxmax()]
        lines.append(f"- after {how.replace('_', ' ')} flagged samples, the share of wrong {among} is "
                     f"{100 * left.min():.0f} % ({condition_name(low)}) to {100 * left.max():.0f} % "
                     f"({condition_name(high)}) of the share given (means over the seeds, against the dataset's "
                     "own labels)")
    return lines


def sampling_error_claim(name: str, results: pd.DataFrame, data: dict) -> list[str]:
    """The test set's own sampling error at the baseline's accuracies: a binomial 95 % half-width, which the
    intervals over the seeds do not hold (every seed and cell scores the same test images)."""
    accuracy = results[results.cell == Cell(BASELINE).key]["mean"]
    n = data["test_samples"]
    half = 1.96 * np.sqrt(accuracy * (1 - accuracy) / n)
    return [f"- {TITLES.get(name, name)}, the test set's own sampling error: ±{half.min():.3f} to ±{half.max():.3f} "
            f"(95 %, binomial, at the baseline's accuracies {accuracy.min():.3f}–{accuracy.max():.3f} on {n:,} "
            "test images)"]


def original_study_claims(sweep: pd.DataFrame) -> list[str]:
    """The seed's sweep against the original study's published numbers (labelsweep.analysis.summary.ORIGINAL), at
    the levels it reported, per regime: a table of measured and published test accuracy. The sweep has one seed by
    default, so the measured numbers have no interval; a difference from a published number is shown, not claimed."""
    published = sweep[sweep.series.str.startswith(PUBLISHED)]
    measured = sweep[~sweep.series.str.startswith(PUBLISHED) & sweep.panel.str.startswith(SYMMETRIC)]
    if published.empty or measured.empty:
        return ["(No symmetric-noise sweep with published numbers to compare: the seed's sweep has no committed "
                "results for this dataset yet.)"]
    lines = ["The seed's sweep (symmetric noise, one seed: no interval) at the levels the original study reported, "
             "test accuracy measured here / published there:", "",
             "| noise | model | baseline | cleanlab: prune all flagged |", "|---|---|---|---|"]
    for (level, panel), rows in measured.groupby(["noise_percent", "panel"], sort=True):
        mine = dict(zip(rows.series, rows.test_accuracy))
        theirs = dict(zip(published[published.noise_percent == level].series,
                          published[published.noise_percent == level].test_accuracy))
        if not theirs:
            continue
        cells = [f"{mine.get(LINES[cell.key], np.nan):.3f} / "
                 f"{theirs.get(PUBLISHED + LINES[cell.key].split(' (')[0], np.nan):.3f}"
                 for cell in (Cell(BASELINE), PRUNE_ALL)]
        lines.append(f"| {level:g} % | {panel.split(', ')[1]} | {cells[0]} | {cells[1]} |")
    return lines


def memorisation_claims(table: pd.DataFrame) -> list[str]:
    """How much of its wrong labels the baseline's model reproduces at the end of training, per condition: what the
    regimes' names ("does not fit its wrong labels", "memorises them") rest on."""
    baseline = table[table.cell == Cell(BASELINE).key] if len(table) else table
    if baseline.empty:
        return ["(Not measured in the committed results: train_eval counts it since issue 18; the next run of "
                "record fills this block.)"]
    lines = ["Share of its flipped training labels the baseline's model reproduces at the end of training (mean "
             "[95 % interval] over the seeds):"]
    for row in baseline.to_dict("records"):
        interval = "" if np.isnan(row["ci_low"]) else f" [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"
        lines.append(f"- {condition_name(row)}: {row['mean']:.2f}{interval} (n = {int(row['n'])})")
    return lines


def review_claims(table: pd.DataFrame, train_samples: int, shown: int = 5) -> list[str]:
    """The dataset's own labels at 0 % injected noise (plot's label_review.csv: the flagged ones, most suspicious
    first): how many cleanlab flags, from how many runs' averaged probabilities, and the most suspicious few."""
    if table.empty or "runs_averaged" not in table:
        return ["(No review of the dataset's own labels: the committed results have no level at 0 % injected noise, "
                "or cleanlab flags none of its labels there.)"]
    runs, fewest = int(table.runs_averaged.max()), int(table.runs_averaged.min())
    source = f"the out-of-sample probabilities of {runs} runs averaged" if runs > 1 else \
        "the out-of-sample probabilities of one run (more seeds at 0 % would be averaged)"
    if fewest < runs:  # runs on a subsample average into the samples they trained on
        source += f" ({fewest}-{runs} per sample: a run on a subsample counts for its samples only)"
    lines = [f"At 0 % injected noise cleanlab flags {len(table):,} of the {train_samples:,} training labels "
             f"({100 * len(table) / train_samples:.1f} %) as published, from {source}. The most suspicious:"]
    lines += [f"- #{row.rank} `{row.sample_id}`: given {row.given_label}, suggested {row.suggested_label} "
              f"(probability {row.suggested_prob:.2f})" for row in table.head(shown).itertuples()]
    return lines


def render_block(key: str, params: Params, plots: Path = Path("plots")) -> str:
    """The text of the claims block `key` from the committed results under `plots`."""
    if key == "multiplicity":
        return "\n".join(multiplicity({n: paired_table(plots / n) for n in params.datasets
                                       if (plots / n / "differences.csv").is_file()})) + "\n"
    name, _, topic = key.partition("/")
    folder = plots / name
    if name not in params.datasets or not folder.is_dir():
        return f"({name}: not in this study.)\n"
    if topic in TOPICS:
        differences = paired_table(folder)
        lines = [line for subject in TOPICS[topic]
                 for line in [*render_claims(comparison_claims(differences, subject), subject), ""]][:-1]
    elif topic == "filter_by":
        lines = filter_claims(pd.read_csv(folder / "detection_by_filter.csv"), params.cleanlab.filter_by)
    elif topic == "detection":
        lines = detection_claims(pd.read_csv(folder / "detection.csv"))
    elif topic == "memorisation":
        path = folder / "memorisation.csv"
        lines = memorisation_claims(pd.read_csv(path) if path.is_file() else pd.DataFrame())
    elif topic == "original":
        sweep = folder / "sweep_accuracy.csv"
        lines = original_study_claims(pd.read_csv(sweep) if sweep.is_file() else
                                      pd.DataFrame(columns=["noise_percent", "panel", "series", "test_accuracy"]))
    elif topic == "review":
        path = folder / "label_review.csv"
        data = json.loads((folder / "data.json").read_text())
        lines = review_claims(pd.read_csv(path, dtype={"sample_id": str}) if path.is_file() else pd.DataFrame(),
                              data["train_samples"])
    elif topic in paired_claims.TOPICS:  # from the per-image tables (paired.csv, judged.csv)
        lines = paired_claims.render(topic, name, folder)
    elif topic == "noise_record":
        path = folder / "noise_record.csv"
        lines = noise_records.claims(pd.read_csv(path) if path.is_file() else pd.DataFrame())
    elif topic == "test_error":
        data = json.loads((folder / "data.json").read_text())
        lines = sampling_error_claim(name, pd.read_csv(folder / "results.csv"), data)
    else:
        raise KeyError(f"unknown claims block {key!r}: <dataset>/<{'|'.join(TOPICS)}|filter_by|detection|test_error"
                       f"|original|memorisation|review|noise_record|{'|'.join(paired_claims.TOPICS)}> or multiplicity")
    return "\n".join(lines) + "\n"


def blocks(document: str) -> dict[str, str]:
    """Every claims block of `document`: key -> its text between the markers."""
    return {match["key"]: match["body"] for match in MARKER.finditer(document)}


def fill(document: str, params: Params, plots: Path = Path("plots")) -> str:
    """`document` with every claims block replaced by what the results under `plots` give."""
    return MARKER.sub(lambda m: m.group(1) + render_block(m["key"], params, plots) + m.group(4), document)
