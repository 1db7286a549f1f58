"""Pruning and relabelling the flagged samples (the lowest-quality share pruned), the other training cells of a
run (keep the rest, perfect detection, random removal, true labels, confident relabelling), the
apply_prune_relabel stage, and the detection scores against the injected flips."""

import math

import numpy as np
import pandas as pd
import pytest

from labelsweep.checks import STRATEGIES
from labelsweep.cleaning import detection_metrics, review
from labelsweep.labels import NO_LABEL
from labelsweep.noise import noise_rng
from labelsweep.strategies import cleaned_labels, kept_labels, split_flagged

from .conftest import checkout, run_stage, save_runs, training_cells, write_raw

# 10 samples; 6 flagged (1, 2, 4, 5, 7, 9) with these label qualities:
QUALITY = np.array([0.9, 0.05, 0.4, 0.8, 0.2, 0.3, 0.7, 0.1, 0.6, 0.5])
FLAGGED = np.zeros(10, dtype=bool)
FLAGGED[[1, 2, 4, 5, 7, 9]] = True
# flagged by quality, lowest first: 1 (.05), 7 (.1), 4 (.2), 5 (.3), 2 (.4), 9 (.5)


@pytest.mark.parametrize(
    "share, pruned",
    [
        (0.0, []),
        (1 / 6, [1]),
        (0.5, [1, 4, 7]),
        (0.6, [1, 4, 5, 7]),
        (0.75, [1, 2, 4, 5, 7]),  # 4.5 rounds half up
        (1.0, [1, 2, 4, 5, 7, 9]),
    ],
)
def test_prunes_the_lowest_quality_share_and_relabels_the_rest(share, pruned):
    """floor(share * 6 + 0.5) flagged samples are pruned, lowest quality first (hand-ranked), the others relabelled."""
    prune_idx, relabel_idx = split_flagged(FLAGGED, QUALITY, share)
    assert prune_idx.tolist() == pruned
    assert sorted(prune_idx.tolist() + relabel_idx.tolist()) == [1, 2, 4, 5, 7, 9]


def test_ties_are_broken_by_index():
    """Equal qualities are ranked by sample index, so the split does not depend on the sort's stability."""
    flagged = np.ones(4, dtype=bool)
    prune_idx, _ = split_flagged(flagged, np.array([0.5, 0.1, 0.5, 0.1]), 0.75)
    assert prune_idx.tolist() == [0, 1, 3]


def test_cleaned_labels_prune_and_relabel():
    """Pruned samples get -1, relabelled ones their suggestion, unflagged ones keep their given label."""
    given = np.arange(10) % 3
    suggested = given.copy()
    suggested[FLAGGED] = 9
    labels = cleaned_labels(given, FLAGGED, QUALITY, suggested, 0.5)
    assert labels[[1, 4, 7]].tolist() == [NO_LABEL] * 3
    assert labels[[2, 5, 9]].tolist() == [9, 9, 9]
    assert np.array_equal(labels[~FLAGGED], given[~FLAGGED])
    assert (cleaned_labels(given, FLAGGED, QUALITY, suggested, 0.0) != NO_LABEL).all()
    assert (cleaned_labels(given, FLAGGED, QUALITY, suggested, 1.0)[FLAGGED] == NO_LABEL).all()


def test_detection_metrics_on_a_hand_made_case():
    """Counts, precision, recall, F1 and AUROC equal hand-computed values."""
    flipped = np.zeros(10, dtype=bool)
    flipped[[1, 7, 8]] = True  # 2 of 3 found (1, 7); 8 missed; 4 flagged clean samples
    m = detection_metrics(FLAGGED, flipped, QUALITY)
    assert (m["flagged"], m["injected"], m["true_positives"], m["flagged_minus_injected"]) == (6, 3, 2, 3)
    assert m["precision"] == pytest.approx(2 / 6)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 * (1 / 3) * (2 / 3) / (1 / 3 + 2 / 3))
    # flipped qualities .05, .1, .6 vs clean .9 .4 .8 .2 .3 .7 .5: pairs with the flipped one lower: 7 + 7 + 3
    assert m["auroc"] == pytest.approx(17 / 21)


def test_undefined_metrics_are_none_not_made_up():
    """Nothing flagged or nothing injected: the undefined scores are None, the defined ones exact."""
    nothing = np.zeros(10, dtype=bool)
    m = detection_metrics(nothing, nothing, QUALITY)
    assert m["precision"] is None and m["recall"] is None and m["f1"] is None and m["auroc"] is None
    m = detection_metrics(FLAGGED, nothing, QUALITY)
    assert m["precision"] == 0 and m["recall"] is None and m["auroc"] is None



# The hand-made run of the cells below: 10 samples, the same 6 flagged, 3 injected flips (1, 7 and 8) of the
# original labels; the suggestions (the next class) with their probabilities.
ORIGINAL = np.array([0, 2, 2, 0, 1, 2, 0, 0, 0, 0])
GIVEN = np.arange(10) % 3  # 0 1 2 0 1 2 0 1 2 0: differs from ORIGINAL at 1, 7 and 8
FLIPPED = GIVEN != ORIGINAL
SUGGESTED = np.where(FLAGGED, (GIVEN + 1) % 3, GIVEN)
SUGGESTED_PROB = np.array([np.nan, 0.97, 0.95, np.nan, 0.5, 0.949, np.nan, 0.99, np.nan, 0.2], dtype=np.float32)
SUGGESTED_PROB[~FLAGGED] = np.nan  # what find_issues writes for an unflagged sample


def cells(thresholds=(0.0, 0.5, 1.0), strategies=STRATEGIES, minimum=0.95, seed=0) -> dict:
    made = training_cells(GIVEN, ORIGINAL, FLIPPED, FLAGGED, QUALITY, SUGGESTED, SUGGESTED_PROB, list(thresholds),
                          list(strategies), minimum, np.random.default_rng(seed))
    return {(strategy, None if math.isnan(share) else share): labels.tolist() for strategy, share, labels in made}


def test_a_run_has_the_baseline_the_grid_then_the_strategies_in_a_fixed_order():
    """Baseline, prune_relabel per threshold, keep_rest per threshold, then perfect detection, random removal, true
    labels and confident relabelling, then issue 28's alternatives (each once, prune share NaN); with no strategies,
    the baseline and the grid."""
    made = training_cells(GIVEN, ORIGINAL, FLIPPED, FLAGGED, QUALITY, SUGGESTED, SUGGESTED_PROB, [0.0, 1.0],
                          list(STRATEGIES), 0.95, np.random.default_rng(0))
    assert [(strategy, None if math.isnan(share) else share) for strategy, share, _ in made] == [
        ("baseline", None), ("prune_relabel", 0.0), ("prune_relabel", 1.0), ("keep_rest", 0.0), ("keep_rest", 1.0),
        ("perfect_detection", None), ("random_removal", None), ("true_labels", None), ("confident_relabel", None),
        ("early_stopping", None), ("gce", None), ("label_smoothing", None), ("gce_prune_all", None)]
    made_cells = {strategy: labels.tolist() for strategy, _, labels in made}
    # The robust ones train on the noisy labels, or (gce_prune_all) on prune-all's: only their training differs.
    assert made_cells["early_stopping"] == made_cells["gce"] == made_cells["label_smoothing"] == GIVEN.tolist()
    assert made_cells["gce_prune_all"] == cells()[("prune_relabel", 1.0)]
    assert all(labels.dtype == np.int64 and labels.shape == (10,) for _, _, labels in made)
    assert list(cells((0.5,), [])) == [("baseline", None), ("prune_relabel", 0.5)]
    assert cells()[("baseline", None)] == GIVEN.tolist()


def test_perfect_detection_prunes_exactly_the_injected_flips():
    assert cells()[("perfect_detection", None)] == [0, -1, 2, 0, 1, 2, 0, -1, -1, 0]


def test_true_labels_are_the_original_labels():
    assert cells()[("true_labels", None)] == ORIGINAL.tolist()


@pytest.mark.parametrize("seed", range(5))
def test_random_removal_prunes_as_many_samples_as_are_flagged_chosen_by_its_generator(seed):
    """6 samples pruned (as many as flagged), the others keep their given label; which 6 is the generator's
    choice (numpy's choice without replacement), so it changes with the seed and not with the other strategies."""
    row = np.array(cells(seed=seed)[("random_removal", None)])
    assert (row == NO_LABEL).sum() == FLAGGED.sum() == 6
    assert np.array_equal(row[row != NO_LABEL], GIVEN[row != NO_LABEL])
    chosen = np.random.default_rng(seed).choice(10, size=6, replace=False)
    assert sorted(np.flatnonzero(row == NO_LABEL).tolist()) == sorted(chosen.tolist())
    assert cells(seed=seed, strategies=["random_removal"])[("random_removal", None)] == row.tolist()


@pytest.mark.parametrize("share, pruned", [(0.0, []), (0.5, [1, 4, 7]), (1.0, [1, 2, 4, 5, 7, 9])])
def test_keep_rest_prunes_what_prune_relabel_prunes_and_keeps_the_other_flagged_as_given(share, pruned):
    """At each threshold keep_rest prunes the very samples prune_relabel prunes (the lowest-quality share) and keeps
    the other flagged samples with their given label, where prune_relabel relabels them."""
    made = cells()
    keep, relabel = np.array(made[("keep_rest", share)]), np.array(made[("prune_relabel", share)])
    assert np.flatnonzero(keep == NO_LABEL).tolist() == np.flatnonzero(relabel == NO_LABEL).tolist() == pruned
    kept = keep != NO_LABEL
    assert np.array_equal(keep[kept], GIVEN[kept])
    assert np.array_equal(keep, kept_labels(GIVEN, FLAGGED, QUALITY, share))


def test_keep_rest_at_0_is_the_baseline_and_at_1_is_prune_all():
    made = cells()
    assert made[("keep_rest", 0.0)] == made[("baseline", None)] == GIVEN.tolist()
    assert made[("keep_rest", 1.0)] == made[("prune_relabel", 1.0)] == [0, -1, -1, 0, -1, -1, 0, -1, 2, -1]


@pytest.mark.parametrize("minimum, row", [
    # flagged 1 (.97), 2 (.95), 4 (.5), 5 (.949), 7 (.99), 9 (.2): relabelled to the next class at >= minimum
    (0.95, [0, 2, 0, 0, -1, -1, 0, 2, 2, -1]),  # .95 itself is sure enough
    (0.98, [0, -1, -1, 0, -1, -1, 0, 2, 2, -1]),
    (1.0, [0, -1, -1, 0, -1, -1, 0, -1, 2, -1]),  # nothing that sure: every flagged sample pruned
    (0.1, [0, 2, 0, 0, 2, 0, 0, 2, 2, 1]),  # everything sure: relabel all (prune_relabel at 0)
])
def test_confident_relabel_relabels_the_sure_flagged_samples_and_prunes_the_others(minimum, row):
    """A flagged sample whose suggested label has probability >= confident_relabel_min takes that label, every
    other flagged sample is pruned, an unflagged one keeps its given label (its NaN probability is never 'sure')."""
    assert cells(minimum=minimum)[("confident_relabel", None)] == row
    if minimum == 0.1:
        assert row == cells()[("prune_relabel", 0.0)]


def stage_folder(tmp_path, params, thresholds, strategies=()) -> None:
    """A checkout with the hand-made run above as the inject_noise and find_issues outputs (one run), and a second
    run on a subsample (samples 2, 3 and 4 outside it) in which only sample 1 is flagged. With `strategies` both
    runs are also the study's, with the same thresholds."""
    params.update(thresholds=thresholds, strategies=list(strategies))
    params["study"] = {**params["study"], "thresholds": thresholds} if strategies else None
    checkout(tmp_path, params)
    write_raw(tmp_path / "raw", np.zeros((10, 1, 2, 2), np.uint8), ORIGINAL, ["a", "b", "c"])
    outside = np.isin(np.arange(10), [2, 3, 4])
    second = np.where(outside, -1, ORIGINAL)
    second[1] = 0  # its one flip
    save_runs(tmp_path / "noisy", np.vstack([GIVEN, second]), np.vstack([FLIPPED, second != np.where(outside, -1,
                                                                                                       ORIGINAL)]),
              [("symmetric", "default", 0), ("class_conditional", "small", 1)], study=bool(strategies))
    flagged2 = np.arange(10) == 1
    arrays = {"flagged": np.vstack([FLAGGED, flagged2]),
              "quality": np.vstack([QUALITY, np.where(outside, np.nan, 0.5)]).astype(np.float32),
              "suggested": np.vstack([SUGGESTED, np.where(flagged2, 2, second)]),
              "suggested_prob": np.vstack([SUGGESTED_PROB, np.where(flagged2, 0.99, np.nan)]).astype(np.float32)}
    (tmp_path / "issues").mkdir()
    for name, array in arrays.items():
        np.save(tmp_path / "issues" / f"{name}.npy", array)


def apply(workdir):
    return run_stage("apply_prune_relabel", workdir, "--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw",
                     "raw", "--noisy", "noisy",
                     "--issues", "issues", "--out", "cleaned")


@pytest.mark.slow
@pytest.mark.parametrize(
    "thresholds, shares, rows",
    [
        ([1.0, 0.5, 0.0], [0.0, 0.5, 1.0], [
            [0, 2, 0, 0, 2, 0, 0, 2, 2, 1],  # relabel all 6 flagged to their suggestion (the next class)
            [0, -1, 0, 0, -1, 0, 0, -1, 2, 1],  # prune the 3 lowest-quality (1, 7, 4), relabel 2, 5, 9
            [0, -1, -1, 0, -1, -1, 0, -1, 2, -1],  # prune all 6
        ]),
        (0.5, [0.5], [[0, -1, 0, 0, -1, 0, 0, -1, 2, 1]]),  # a scalar grid (`-S thresholds=0.5`): one row
    ],
)
def test_the_stage_writes_one_row_per_threshold_of_params_yaml(tmp_path, params, thresholds, shares, rows):
    """apply_prune_relabel reads the grid from params.yaml (a scalar is a one-level grid), sorts it, and writes for
    each run the baseline then one row of labels per prune share, equal to hand-written rows; cells.csv gives each
    row's run, strategy and share. The second run's rows are -1 outside its subsample."""
    stage_folder(tmp_path, params, thresholds)
    result = apply(tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "cleaned").iterdir()) == ["cells.csv", "labels.npy"]
    table = pd.read_csv(tmp_path / "cleaned/cells.csv")
    assert list(table.columns) == ["run", "strategy", "prune_share", "sweep", "study"]
    assert table.sweep.all() and not table.study.any()  # the sweep's runs: every cell of the sweep's grid
    per_run = [("baseline", None)] + [("prune_relabel", share) for share in shares]
    assert [(row.run, row.strategy, None if math.isnan(row.prune_share) else row.prune_share)
            for row in table.itertuples()] == [(run, *cell) for run in (0, 1) for cell in per_run]
    labels = np.load(tmp_path / "cleaned/labels.npy")
    assert labels.dtype == np.int64 and labels.shape == (2 * (1 + len(shares)), 10)
    assert labels[: 1 + len(shares)].tolist() == [GIVEN.tolist(), *rows]
    second = [0, 0, -1, -1, -1, 2, 0, 0, 0, 0]  # ORIGINAL with sample 1 flipped to 0, 2-4 outside the run
    relabelled, pruned = [0, 2, *second[2:]], [0, -1, *second[2:]]  # sample 1 relabelled to 2, or pruned
    assert labels[1 + len(shares):].tolist() == [second] + [relabelled if s < 0.5 else pruned for s in shares]


@pytest.mark.slow
def test_the_stage_writes_every_strategy_of_every_run(tmp_path, params):
    """With every strategy: each run's rows are strategies.training_cells of its members (the generator of random
    removal is the run's own, spawned from its noise generator), -1 outside the run, in cells.csv's order."""
    stage_folder(tmp_path, params, [0.0, 1.0], STRATEGIES)
    result = apply(tmp_path)
    assert result.returncode == 0, result.stderr
    labels, table = np.load(tmp_path / "cleaned/labels.npy"), pd.read_csv(tmp_path / "cleaned/cells.csv")
    # Per run: the baseline, prune_relabel and keep_rest at both shares, every other strategy once.
    assert len(table) == len(labels) == 2 * (1 + 2 * 2 + len(STRATEGIES) - 1)
    noisy, flipped = np.load(tmp_path / "noisy/labels.npy"), np.load(tmp_path / "noisy/flipped.npy")
    issues = {name: np.load(tmp_path / f"issues/{name}.npy") for name in ("flagged", "quality", "suggested",
                                                                          "suggested_prob")}
    for run, (kind, seed) in enumerate([("symmetric", 0), ("class_conditional", 1)]):
        members = noisy[run] != -1
        expected = training_cells(noisy[run, members], ORIGINAL[members], flipped[run, members],
                                  *(issues[name][run, members] for name in ("flagged", "quality", "suggested",
                                                                            "suggested_prob")),
                                  [0.0, 1.0], list(STRATEGIES), params["confident_relabel_min"],
                                  noise_rng(seed, 0.2, kind).spawn(1)[0])
        rows = np.flatnonzero(table.run == run)
        assert table.strategy[rows].tolist() == [strategy for strategy, _, _ in expected]
        # In both grids: the baseline and the thresholds are the sweep's too; every cell is the study's.
        assert table.sweep[rows].tolist() == [s in ("baseline", "prune_relabel") for s, _, _ in expected]
        assert table.study[rows].all()
        for row, (_, _, cell) in zip(rows, expected):
            assert (labels[row, ~members] == -1).all()
            assert labels[row, members].tolist() == cell.tolist()
    assert labels[np.flatnonzero((table.run == 0) & (table.strategy == "perfect_detection"))[0]].tolist() == \
        cells()[("perfect_detection", None)]


def test_the_review_averages_each_sample_over_the_runs_that_hold_it():
    """Three runs, the third on a subsample without sample 1: sample 0 is the mean of three runs' probabilities,
    sample 1 of the first two (a run that never saw it does not dilute it); a sample in no run is refused."""
    probs = np.array([[[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]],
                      [[0.7, 0.3], [0.4, 0.6], [0.6, 0.4]],
                      [[0.2, 0.8], [np.nan, np.nan], [0.3, 0.7]]])
    members = np.array([[True, True, True], [True, True, True], [True, False, True]])
    found = review(np.array([0, 1, 0]), probs, "prune_by_noise_rate", members)
    assert found["runs_averaged"].tolist() == [3, 2, 3]
    assert found["suggested"].tolist() == [0, 1, 0]
    assert found["suggested_prob"] == pytest.approx([0.6, 0.7, 0.5])
    with pytest.raises(ValueError, match="1 samples are in no run"):
        review(np.array([0, 1, 0]), probs, "prune_by_noise_rate", members & np.array([True, False, True]))
