"""The per-image paired table (labelsweep.analysis.paired) and the claims blocks made from it and from the judged
table (labelsweep.analysis.paired_claims, labelsweep.analysis.judged), on made-up results: intervals against a case
computed by hand, Holm dropping a borderline verdict, the robust block's sentences following the intervals, the
original study's claims judged reproduced and not reproduced, and the plot stage writing paired.csv, judged.csv and
the alternatives figure for a robust-training strategy registered here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelsweep import strategies
from labelsweep.analysis import judged, paired, paired_claims, verdicts
from labelsweep.analysis.intervals import holm, holm_adjusted, paired_difference
from labelsweep.analysis.summary import CONDITION
from labelsweep.strategies import Strategy

from .test_intervals import one_seed
from .test_plot import run_plot

ROBUST = "toy_robust"  # a robust-training alternative, registered by the fixture below
GAIN = paired.VERSUS_BASELINE.format(paired.PRUNE_ALL_NAME)


@pytest.fixture
def robust_strategy():
    """A made-up robust-training alternative in the registry (its `training` settings mark it as one)."""
    strategies.register(Strategy(ROBUST, lambda e, share: np.asarray(e.given, dtype=np.int64).copy(),
                                 lambda share: "toy robust loss", lambda share: "toy robust",
                                 training={"loss": "toy"}))
    yield paired.alternatives()[-1]
    del strategies.STRATEGIES[ROBUST]


def test_the_alternatives_are_the_registry_records_with_training_settings(robust_strategy):
    assert robust_strategy.strategy == ROBUST
    names = [name for name, *_ in paired.comparisons()]
    assert names[-2:] == ["toy robust − baseline", "toy robust − cleanlab (prune all)"]
    assert GAIN in names  # summary.COMPARISONS' own name for prune-all − baseline


def test_the_table_gives_the_hand_computed_interval_of_two_identical_seeds():
    b, c, n = 40, 25, 400
    a, base = one_seed(b, c, 300, n - 300 - b - c)
    accuracy = pd.DataFrame([{"noise_level": 0.2, "noise_kind": "symmetric", "regime": "default", "seed": seed,
                              "cell": key} for seed in (0, 1) for key in ("baseline", "prune_relabel@1")])
    correct = np.array([base, a, base, a])
    (row,) = paired.paired_table(accuracy, correct).to_dict("records")
    se = np.sqrt(b + c - (b - c) ** 2 / n) / n  # the Wald interval of a paired difference of proportions, by hand
    assert row["comparison"] == GAIN and row["n"] == 2
    assert row["mean"] == pytest.approx((b - c) / n)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(((b - c) / n - 1.959964 * se, (b - c) / n + 1.959964 * se))
    assert row["seed_sd"] == 0 and row["image_se"] == pytest.approx(se)


def table(rows: list[tuple[str, float, float, float, float]], n: int = 5) -> pd.DataFrame:
    """paired.csv rows of one condition: (comparison, mean, low, high, p)."""
    frame = pd.DataFrame([{"noise_level": 0.2, "noise_kind": "symmetric", "regime": "default", "comparison": name,
                           "mean": m, "ci_low": lo, "ci_high": hi, "p": p, "se": np.nan, "df": np.nan,
                           "seed_sd": 0.01, "image_se": 0.005, "n": n, "n_images": 1000}
                          for name, m, lo, hi, p in rows])
    return paired.with_holm(frame)


def test_holm_drops_a_borderline_verdict_that_the_raw_interval_keeps():
    rows = table([(GAIN, 0.012, 0.001, 0.023, 0.03), ("prune all − relabel all", 0.001, -0.01, 0.012, 0.6),
                  ("true labels − cleanlab (prune all)", 0.002, -0.01, 0.014, 0.7)])
    np.testing.assert_array_equal(rows.p_holm.to_numpy() <= 0.05, holm(rows.p.to_numpy()))
    assert rows.p_holm.iloc[0] == pytest.approx(0.09)
    gain = rows.iloc[0]
    assert gain.excludes_zero and not gain.holm_rejects
    text = "\n".join(paired_claims.holm_claims(rows))
    assert "20 % symmetric, default: +0.012 [+0.001, +0.023]: no difference detected (Holm-adjusted p = 0.090)" in text
    alone = table([(GAIN, 0.012, 0.001, 0.023, 0.03)])  # the same p on its own survives
    assert "higher (Holm-adjusted p = 0.030)" in "\n".join(paired_claims.holm_claims(alone))


def test_holm_adjusted_is_monotone_and_capped():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    np.testing.assert_allclose(holm_adjusted(p), [0.04, 0.09, 0.09, 0.5])


def test_the_robust_block_claims_a_difference_only_where_holm_rejects_zero(robust_strategy):
    versus_base, versus_pruned = (form.format("toy robust") for form in (paired.VERSUS_BASELINE,
                                                                         paired.VERSUS_PRUNE_ALL))
    resolved = table([(GAIN, 0.02, 0.01, 0.03, 0.001), (versus_base, 0.03, 0.02, 0.04, 0.001),
                      (versus_pruned, 0.01, 0.002, 0.018, 0.01)])
    text = "\n".join(paired_claims.robust_claims(resolved))
    assert "Holm's correction over the dataset's 3 comparisons" in text
    assert ("above the baseline: cleanlab (prune all), toy robust; above cleanlab's prune-all: toy robust." in text)
    assert ("toy robust: above the baseline by +0.030 [+0.020, +0.040] (Holm-adjusted p = 0.003), above prune-all "
            "by +0.010 [+0.002, +0.018] (Holm-adjusted p = 0.010)") in text
    # the raw interval against prune-all excludes 0, but Holm's correction over the four does not reject it
    borderline = table([(GAIN, 0.02, 0.01, 0.03, 0.001), (versus_base, 0.03, 0.02, 0.04, 0.001),
                        (versus_pruned, 0.01, 0.001, 0.019, 0.03), ("prune all − relabel all", 0, -0.01, 0.01, 0.6)])
    assert borderline.excludes_zero.iloc[2] and not borderline.holm_rejects.iloc[2]
    text = "\n".join(paired_claims.robust_claims(borderline))
    assert "above cleanlab's prune-all: none." in text
    assert "no difference from prune-all detected +0.010 [+0.001, +0.019] (Holm-adjusted p = 0.060)" in text
    below = table([(GAIN, 0.02, 0.01, 0.03, 0.001), (versus_base, -0.03, -0.04, -0.02, 0.001)])
    assert "toy robust: below the baseline by −0.030" in "\n".join(paired_claims.robust_claims(below))
    one_seed_only = table([(GAIN, 0.02, 0.01, 0.03, 0.001), (versus_base, 0.03, 0.02, 0.04, 0.001)], n=1)
    assert "above the baseline: none;" in "\n".join(paired_claims.robust_claims(one_seed_only))
    assert paired_claims.robust_claims(resolved[resolved.comparison == GAIN]) == [paired_claims.NOT_IN_GRID]


def test_the_own_labels_verdict_and_the_power_line():
    rows = table([(GAIN, -0.0136, -0.02, -0.007, 0.001)], n=20).assign(noise_level=0.0)
    (line,) = paired_claims.own_labels_claims(rows)
    assert line.startswith("- On its own labels (0 % injected noise, default model, 20 seeds), pruning cleanlab's "
                           "flags changes test accuracy by −0.014 [−0.020, −0.007]")
    assert line.endswith("after Holm's correction over the dataset's 1 comparison: lower (Holm-adjusted p = 0.001)")
    (power,) = paired_claims.power_claims("roman", rows.assign(seed_sd=0.015, image_se=0.001))
    assert "Roman numerals" in power and power.endswith("resolved with 80 % power by 21 seeds")  # issue 29's ~20
    same = rows.assign(seed_sd=0.0, image_se=0.0)  # identical training sets: no information on the spread
    assert paired_claims.power_claims("roman", pd.concat([rows.assign(seed_sd=0.015, image_se=0.001), same])) == [
        power]
    (beyond,) = paired_claims.power_claims("roman", rows.assign(seed_sd=0.015, image_se=0.006))
    assert beyond.endswith("no number of seeds on this test set (its own error is too large)")


def judged_table(drop: float, gain: float, excess: float, slope: float, spread: float, n: int = 3) -> pd.DataFrame:
    rows = [("drop", drop), ("gain", gain), ("slope", slope), ("memorised", 0.02)]
    records = [{"regime": "overfit_15k", "noise_level": level, "quantity": q, "mean": m, "ci_low": m - spread,
                "ci_high": m + spread, "n": n} for level in (0.3, 0.45) for q, m in rows]
    records += [{"regime": "overfit_15k", "noise_level": level, "quantity": "excess", "mean": excess,
                 "ci_low": excess - 300, "ci_high": excess + 300, "n": n} for level in (0.3, 0.45)]
    return pd.DataFrame(records, columns=judged.COLUMNS)


def test_the_judged_block_reproduces_where_ours_matches_and_says_why_where_not():
    text = "\n".join(judged.render(judged_table(drop=0.15, gain=0.12, excess=4000, slope=0.05, spread=0.01)))
    assert text.count("**reproduced**") == 3 and "measured:" not in text
    assert "baseline 0.886 clean, 0.781 / 0.659 at 30 / 45 % symmetric noise" in text
    text = "\n".join(judged.render(judged_table(drop=0.01, gain=0.005, excess=1500, slope=-0.02, spread=0.008)))
    one, two, three = text.split("\n\n**")[1:]
    assert "**not reproduced**" in one and "reproduces this share of its wrong labels: 0.02 [0.01, 0.03] at 30 %" in one
    assert "**partly reproduced**" in two and "ranges from +1500 to +1500 against the published +4500" in two
    assert "**not reproduced**" in three and "does not lie above 0 at 30 %, 45 %" in three
    one_seed = judged_table(drop=0.15, gain=0.12, excess=4000, slope=0.05, spread=np.nan, n=1)
    assert f"**{verdicts.NO_VERDICT}**" in "\n".join(judged.render(one_seed))
    # one seed at 30 %, three at 45 %: shown at both, judged at 45 % only
    mixed = judged_table(drop=0.15, gain=0.12, excess=4000, slope=0.05, spread=0.01)
    mixed.loc[mixed.noise_level == 0.3, ["ci_low", "ci_high"]] = np.nan
    two = "\n".join(judged.render(mixed)).split("\n\n**")[2]
    assert "**reproduced**" in two and "judged at 45 % (the levels with two seeds or more)" in two


def test_the_plot_stage_writes_the_paired_and_judged_tables_from_the_predictions(params, tmp_path, monkeypatch,
                                                                                robust_strategy):
    params.update(noise=[0.0, 0.3], thresholds=[0.0, 0.3, 0.6, 1.0])
    out = run_plot(tmp_path, params, "roman", monkeypatch,
                   strategies=["keep_rest", "random_removal", ROBUST])
    rows = pd.read_csv(out / "paired.csv")
    accuracy = pd.concat([pd.read_csv(tmp_path / f"data/roman/accuracy/noise_{p}.csv") for p in (0.0, 0.3)])
    predictions = np.concatenate([np.load(tmp_path / f"data/roman/predictions/noise_{p}.npy") for p in (0.0, 0.3)])
    correct = predictions == np.load(tmp_path / "data/roman/raw/test_labels.npy")
    where = (accuracy.noise_level == 0.3) & (accuracy.noise_kind == "symmetric") & (accuracy.regime == "default")
    cells = accuracy[where].reset_index()
    pick = {s: np.flatnonzero(where)[cells.strategy == s] for s in (ROBUST, "baseline")}
    expected = paired_difference(correct[pick[ROBUST]], correct[pick["baseline"]])
    row = rows.set_index([*CONDITION, "comparison"]).loc[(0.3, "symmetric", "default", "toy robust − baseline")]
    assert (row["mean"], row.ci_low, row.ci_high) == pytest.approx((expected.mean, expected.low, expected.high))
    assert set(pd.read_csv(out / "judged.csv").quantity) == {"drop", "gain", "slope", "excess", "memorised"}
    assert (out / "alternatives.png").read_bytes()[:4] == b"\x89PNG"


def test_the_alternatives_figure_says_so_when_the_grid_ran_none():
    from labelsweep.analysis.figures import draw_alternatives

    gain = paired.VERSUS_BASELINE.format(paired.PRUNE_ALL_NAME)
    table = pd.DataFrame({"noise_level": [0.2, 0.4], "noise_kind": ["symmetric"] * 2, "regime": ["default"] * 2,
                          "comparison": [gain] * 2, "mean": [0.01, 0.02], "ci_low": [0.0, 0.01],
                          "ci_high": [0.02, 0.03], "n": [5, 5]})
    title = draw_alternatives(table, "toy").get_suptitle()  # wrapped to the figure's width
    assert "no robust alternative in this grid" in " ".join(title.split())


def test_a_one_seed_row_draws_no_error_bar_although_paired_csv_keeps_its_test_set_interval():
    """The figures say what the claims say: a level with one seed is shown as a point, without the test-set-only
    interval paired.csv keeps for it (no claim uses it)."""
    from labelsweep.analysis.figures import interval_bars
    table = pd.DataFrame({"mean": [0.01, 0.02], "ci_low": [0.0, 0.01], "ci_high": [0.02, 0.04], "n": [1, 3]})
    np.testing.assert_allclose(interval_bars(table["mean"], table), [[0.0, 0.01], [0.0, 0.02]])
    np.testing.assert_allclose(interval_bars(table["mean"], table.drop(columns="n")), [[0.01, 0.01], [0.01, 0.02]])
