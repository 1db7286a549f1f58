"""labelsweep.analysis.claims on small made-up tables (no stages, no DVC), and the documents' claims against the
committed results, checked with scipy's own t-interval rather than the functions the claims use."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from labelsweep.analysis import claims, summary
from labelsweep.analysis.intervals import holm
from labelsweep.analysis.text import interval
from labelsweep.config import load_params
from labelsweep.strategies import Cell

from .conftest import ROOT

PRUNE_VS_BASELINE = claims.TOPICS["prune_vs_baseline"][0]


def accuracy(cells: dict[str, list[float]], level: float = 0.2) -> pd.DataFrame:
    """train_eval rows of one condition: cell key -> its accuracy per seed (seeds 0, 1, ...)."""
    rows = [{"noise_level": level, "noise_kind": "symmetric", "regime": "default", "seed": seed,
             "strategy": key.partition("@")[0], "prune_share": float(key.partition("@")[2] or "nan"),
             "test_accuracy": value} for key, values in cells.items() for seed, value in enumerate(values)]
    table = pd.DataFrame(rows)
    return table.assign(cell=[Cell.of(s, t).key for s, t in zip(table.strategy, table.prune_share)])


def gain_claim(baseline: list[float], pruned: list[float]) -> claims.Claim:
    table = summary.differences(accuracy({"baseline": baseline, "prune_relabel@1": pruned}))
    (claim,) = claims.comparison_claims(table, PRUNE_VS_BASELINE)
    return claim


def test_a_claim_flips_to_no_difference_when_the_interval_crosses_zero():
    baseline = [0.80, 0.81, 0.82]
    steady = gain_claim(baseline, [0.810, 0.821, 0.829])  # +0.010, +0.011, +0.009
    assert steady.direction == claims.HIGHER and steady.low > 0
    scattered = gain_claim(baseline, [0.830, 0.800, 0.835])  # +0.030, -0.010, +0.015: same sign of the mean
    assert scattered.mean > 0 and scattered.low < 0 < scattered.high
    assert scattered.direction == claims.NONE
    text = "\n".join(claims.render_claims([scattered], PRUNE_VS_BASELINE))
    assert "no difference detected (the interval holds 0) in 1 of 1 conditions: 20 % symmetric, default" in text
    assert "above 0 in 0 of 1 conditions\n" in text


def test_a_direction_claim_names_the_right_sign():
    lower = gain_claim([0.80, 0.81, 0.82], [0.79, 0.801, 0.808])
    assert lower.direction == claims.LOWER and lower.high < 0
    text = "\n".join(claims.render_claims([lower], PRUNE_VS_BASELINE))
    assert re.search(r"- below 0 in 1 of 1 conditions: 20 % symmetric, default −0\.010 \[−0\.\d+, −0\.\d+\]", text)
    expected = stats.t.interval(0.95, 2, loc=lower.mean, scale=stats.sem([-0.01, -0.009, -0.012]))
    assert (lower.low, lower.high) == pytest.approx(expected, abs=1e-9)


def test_one_seed_gives_no_interval_and_no_claim_of_difference():
    claim = gain_claim([0.80], [0.90])
    assert claim.direction == claims.NO_INTERVAL and claim.low != claim.low
    text = "\n".join(claims.render_claims([claim], PRUNE_VS_BASELINE))
    assert "no interval (one seed), so no difference claimed in 1 of 1" in text
    assert "above 0" not in text and "no difference detected" not in text


def test_the_slope_over_the_shares_tests_relabelling_in_proportion():
    shares = [0.0, 0.3, 0.6, 1.0]
    values = np.array([[0.80, 0.81, 0.79], [0.805, 0.812, 0.80], [0.81, 0.825, 0.80], [0.82, 0.83, 0.815]])
    cells = {f"prune_relabel@{t:g}": list(row) for t, row in zip(shares, values)}
    table = summary.differences(accuracy({"baseline": [0.8, 0.8, 0.8], **cells}))
    (slope,) = claims.comparison_claims(table, summary.SLOPE)
    assert slope.mean == pytest.approx(np.mean([np.polyfit(shares, values[:, s], 1)[0] for s in range(3)]))
    assert slope.direction == claims.HIGHER
    three = summary.differences(accuracy({key: cells[key] for key in list(cells)[::2] + ["prune_relabel@1"]}))
    assert summary.SLOPE not in set(three.comparison)  # 0, 0.6, 1: too few shares for a line of its own


def test_the_blocks_read_the_paired_table_with_the_test_sets_error_where_the_results_have_it(tmp_path):
    rows = {"noise_level": [0.2, 0.2], "noise_kind": ["symmetric"] * 2, "regime": ["default"] * 2,
            "comparison": ["a − b"] * 2, "mean": [0.01, 0.02], "ci_low": [0.005, -0.01], "ci_high": [0.015, 0.05],
            "n": [1, 5], "p": [np.nan, 0.2], "excludes_zero": [True, False]}
    pd.DataFrame({**rows, "sd": [np.nan, 0.01]}).drop(columns=["ci_low", "ci_high", "p", "excludes_zero"]).to_csv(
        tmp_path / "differences.csv", index=False)
    seeds_only = claims.comparison_claims(claims.paired_table(tmp_path), "a − b")  # no paired.csv: the t-interval
    assert [c.direction for c in seeds_only] == [claims.NO_INTERVAL, claims.HIGHER]
    pd.DataFrame(rows).to_csv(tmp_path / "paired.csv", index=False)
    table = claims.paired_table(tmp_path)
    assert np.isnan(table.ci_low[0]) and np.isnan(table.ci_high[0])  # one seed: its test-only interval dropped
    assert (table.ci_low[1], table.ci_high[1]) == (-0.01, 0.05)  # the paired interval as written, not the seeds'
    claimed = claims.comparison_claims(table, "a − b")
    assert [c.direction for c in claimed] == [claims.NO_INTERVAL, claims.NONE]


def test_holm_rejects_step_down():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # 0.005 ≤ 0.05/4 and 0.01 ≤ 0.05/3 are rejected; 0.03 > 0.05/2 stops the steps
    np.testing.assert_array_equal(holm(p), [True, False, False, True])
    assert not holm(np.array([0.2, 0.3])).any()


def test_filter_claims_call_a_filter_better_only_with_its_paired_interval():
    rows = [{"noise_percent": 20.0, "panel": "symmetric noise, default model", "filter_by": method,
             "measure": "f1", "value": value, "n": 3, "vs_configured_mean": diff, "vs_configured_ci_low": low,
             "vs_configured_ci_high": high}
            for method, value, diff, low, high in [("prune_by_noise_rate", 0.80, 0.0, 0.0, 0.0),
                                                   ("both", 0.82, 0.02, 0.01, 0.03)]]
    text = "\n".join(claims.filter_claims(pd.DataFrame(rows), "prune_by_noise_rate"))
    assert "highest mean F1 `both`: detects better than `prune_by_noise_rate`, F1 difference +0.020" in text
    rows[1]["vs_configured_ci_low"] = -0.01
    text = "\n".join(claims.filter_claims(pd.DataFrame(rows), "prune_by_noise_rate"))
    assert "`both`: no difference from `prune_by_noise_rate` detected, F1 difference +0.020 [−0.010, +0.030]" in text
    means_only = pd.DataFrame(rows).drop(columns=["vs_configured_mean", "vs_configured_ci_low",
                                                  "vs_configured_ci_high"])
    assert "no filter_by is called better" in "\n".join(claims.filter_claims(means_only, "prune_by_noise_rate"))


def test_fill_replaces_every_block_and_refuses_an_unknown_one():
    params = load_params(path=ROOT / "params.yaml")
    document = ("a\n<!-- labelsweep.claims: roman/vs_random: begin -->\nold\n"
                "<!-- labelsweep.claims: roman/vs_random: end -->\nb\n")
    filled = claims.fill(document, params, ROOT / "plots")
    assert claims.blocks(filled) == {"roman/vs_random": claims.render_block("roman/vs_random", params, ROOT / "plots")}
    assert filled.startswith("a\n") and filled.endswith("end -->\nb\n")
    with pytest.raises(KeyError, match="unknown claims block"):
        claims.render_block("roman/best_everything", params, ROOT / "plots")


CLAIM = re.compile(r"(\d+) % ([\w-]+), (\w+) ([+−][\d.]+) \[([+−][\d.]+), ([+−][\d.]+)\]")


def test_every_direction_in_the_documents_follows_from_the_committed_differences():
    """Each condition the README or docs/ list as above 0, below 0 or without a detected difference, against the
    committed paired.csv's interval (seeds and test images) where the results have it, else differences.csv's
    t-interval from its mean, sd and n, with scipy."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for key, body in [item for path in documents for item in claims.blocks(path.read_text()).items()]:
        name, _, topic = key.partition("/")
        if topic not in claims.TOPICS:
            continue
        paired = ROOT / "plots" / name / "paired.csv"
        table = pd.read_csv(paired if paired.is_file() else ROOT / "plots" / name / "differences.csv")
        subject = None
        for line in body.splitlines():
            if line.startswith("**"):
                subject = line[2:].split("**")[0]
            for word in ("above 0", "below 0", "no difference detected"):
                if not line.startswith(f"- {word} in"):
                    continue
                for level, kind, regime, *_ in CLAIM.findall(line):
                    row = table[(table.comparison == subject) & np.isclose(100 * table.noise_level, float(level))
                                & (table.noise_kind == kind.replace("-", "_")) & (table.regime == regime)].iloc[0]
                    low, high = (row.ci_low, row.ci_high) if paired.is_file() else \
                        stats.t.interval(0.95, row.n - 1, loc=row["mean"], scale=row.sd / np.sqrt(row.n))
                    assert {"above 0": low > 0, "below 0": high < 0,
                            "no difference detected": low <= 0 <= high}[word], (key, line)
                    checked += 1
    assert checked >= 40  # the reading states every comparison of the committed study


def test_the_original_study_table_sets_each_measured_number_beside_its_published_one():
    """sweep_accuracy.csv's rows at the published levels become one table row per level and regime: measured /
    published, for the baseline and prune-all; levels the original study did not publish, and class-conditional
    panels, are left out; without published rows the block says there is nothing to compare."""
    rows = [(level, f"symmetric noise, {regime} model", series, value)
            for level in (0.0, 5.0, 30.0) for regime in ("default", "memorise")
            for series, value in (("baseline (noisy labels)", 0.8 + level / 1000), ("cleanlab: prune all flagged", 0.7),
                                  ("cleanlab: relabel all flagged", 0.6))]
    rows += [(30.0, "class-conditional noise, default model", "baseline (noisy labels)", 0.5),
             (0.0, "symmetric noise, default model", "original study: baseline", 0.886),
             (30.0, "symmetric noise, default model", "original study: baseline", 0.781),
             (30.0, "symmetric noise, default model", "original study: cleanlab: prune all flagged", 0.862)]
    sweep = pd.DataFrame(rows, columns=["noise_percent", "panel", "series", "test_accuracy"])
    lines = claims.original_study_claims(sweep)
    table = [line for line in lines if line.startswith("| ") and "%" in line]
    assert table == ["| 0 % | default model | 0.800 / 0.886 | 0.700 / nan |",
                     "| 0 % | memorise model | 0.800 / 0.886 | 0.700 / nan |",
                     "| 30 % | default model | 0.830 / 0.781 | 0.700 / 0.862 |",
                     "| 30 % | memorise model | 0.830 / 0.781 | 0.700 / 0.862 |"]
    nothing = claims.original_study_claims(sweep[~sweep.series.str.startswith("original")])
    assert len(nothing) == 1 and "no committed results" in nothing[0]


def test_memorisation_is_the_share_of_wrong_labels_reproduced_with_its_interval():
    """summary.memorisation divides each cell's memorised count by its wrong labels, per seed, then takes the mean
    and t-interval over the seeds; cells without wrong labels are left out; the claims list the baseline's."""
    accuracy = pd.DataFrame({
        "noise_level": 0.2, "noise_kind": "symmetric", "regime": "memorise", "seed": [0, 1, 2, 0],
        "cell": ["baseline", "baseline", "baseline", "true_labels"], "wrong_labels": [10, 20, 40, 0],
        "memorised": [5, 12, 30, 0]})
    table = summary.memorisation(accuracy)
    assert table.cell.tolist() == ["baseline"]
    shares = np.array([0.5, 0.6, 0.75])
    low, high = stats.t.interval(0.95, 2, loc=shares.mean(), scale=shares.std(ddof=1) / np.sqrt(3))
    np.testing.assert_allclose(table[["mean", "ci_low", "ci_high"]].iloc[0], [shares.mean(), low, high])
    lines = claims.memorisation_claims(table)
    assert lines[1] == f"- 20 % symmetric, memorise: {shares.mean():.2f} [{low:.2f}, {high:.2f}] (n = 3)"
    assert "Not measured" in claims.memorisation_claims(summary.memorisation(accuracy.drop(columns="memorised")))[0]


def test_the_review_counts_the_flagged_own_labels_and_names_the_most_suspicious():
    """The 0 % review's claim: the flagged count against the training set, how many runs' probabilities were
    averaged, and the first rows of label_review.csv in its order; without a review, one line saying so."""
    table = pd.DataFrame({"rank": [1, 2, 3], "sample_id": ["train/i/a.png", "val/v/b.png", "train/x/c.png"],
                          "given_label": ["i", "v", "x"], "label_quality": [0.01, 0.02, 0.05],
                          "suggested_label": ["ii", "iv", "ix"], "suggested_prob": [0.91, 0.6, 0.55],
                          "runs_averaged": 3})
    lines = claims.review_claims(table, 2831, shown=2)
    assert lines[0] == ("At 0 % injected noise cleanlab flags 3 of the 2,831 training labels (0.1 %) as published, "
                        "from the out-of-sample probabilities of 3 runs averaged. The most suspicious:")
    assert lines[1:] == ["- #1 `train/i/a.png`: given i, suggested ii (probability 0.91)",
                         "- #2 `val/v/b.png`: given v, suggested iv (probability 0.60)"]
    assert "one run" in claims.review_claims(table.assign(runs_averaged=1), 2831)[0]
    varied = claims.review_claims(table.assign(runs_averaged=[4, 1, 4]), 2831)[0]
    assert "of 4 runs averaged (1-4 per sample" in varied
    assert claims.review_claims(pd.DataFrame(), 2831)[0].startswith("(No review")


def test_an_interval_that_holds_zero_reads_so_even_where_a_bound_rounds_to_zero():
    assert interval(-0.000221, 0.004421, sign="+") == "[−0.000, +0.004]"
    assert interval(-0.0, 0.0, sign="+") == "[+0.000, +0.000]"


def test_the_report_table_takes_the_paired_intervals_where_the_results_have_them(tmp_path):
    from labelsweep.tooling import report

    keys = {"noise_level": [0.2, 0.4], "noise_kind": ["symmetric"] * 2, "regime": ["default"] * 2,
            "comparison": [summary.COMPARISONS[0][0]] * 2}
    differences = pd.DataFrame({**keys, "mean": [0.01, 0.02], "sd": [0.001, 0.001], "n": [5, 1]})
    table, over = report.with_paired_intervals(differences, tmp_path)  # no paired.csv: the seeds' t-intervals
    assert over == "the seeds" and bool(table.excludes_zero[0])
    pd.DataFrame({**keys, "mean": [0.01, 0.02], "ci_low": [-0.01, 0.015], "ci_high": [0.03, 0.025], "n": [5, 1],
                  "excludes_zero": [False, True]}).to_csv(tmp_path / "paired.csv", index=False)
    table, over = report.with_paired_intervals(differences, tmp_path)
    assert over == "the seeds and the test images"
    assert (table.ci_low[0], table.ci_high[0]) == (-0.01, 0.03) and not table.excludes_zero[0]
    assert np.isnan(table.ci_low[1]) and not table.excludes_zero[1]  # one seed: no interval, nothing in bold
    assert "**" not in "\n".join(report.differences_table(table, over)[3:])
