"""Pruning and relabelling the flagged samples (the lowest-quality share pruned), the apply_prune_relabel stage,
and the detection scores against the injected flips."""

import numpy as np
import pytest

from labelsweep.cleaning import PRUNED, cleaned_labels, detection_metrics, split_flagged

from .conftest import checkout, run_stage

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
    assert labels[[1, 4, 7]].tolist() == [PRUNED] * 3
    assert labels[[2, 5, 9]].tolist() == [9, 9, 9]
    assert np.array_equal(labels[~FLAGGED], given[~FLAGGED])
    assert (cleaned_labels(given, FLAGGED, QUALITY, suggested, 0.0) != PRUNED).all()
    assert (cleaned_labels(given, FLAGGED, QUALITY, suggested, 1.0)[FLAGGED] == PRUNED).all()


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


def stage_folder(tmp_path, params, thresholds) -> None:
    """A checkout with the hand-made case above as the inject_noise and find_issues outputs."""
    params["thresholds"] = thresholds
    checkout(tmp_path, params)
    given = np.arange(10) % 3  # 0 1 2 0 1 2 0 1 2 0
    suggested = np.where(FLAGGED, (given + 1) % 3, given)
    for folder, arrays in [("noisy", {"labels": given, "flipped": FLAGGED}),
                           ("issues", {"given": given, "flagged": FLAGGED, "quality": QUALITY.astype(np.float32),
                                       "suggested": suggested})]:
        (tmp_path / folder).mkdir()
        for name, array in arrays.items():
            np.save(tmp_path / folder / f"{name}.npy", array)


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
    """apply_prune_relabel reads the grid from params.yaml (a scalar is a one-level grid), sorts it, and writes one
    row of labels per prune share, equal to hand-written rows."""
    stage_folder(tmp_path, params, thresholds)
    result = run_stage("apply_prune_relabel", tmp_path, "--noisy", "noisy", "--issues", "issues", "--out", "cleaned")
    assert result.returncode == 0, result.stderr
    assert np.load(tmp_path / "cleaned/prune_shares.npy").tolist() == shares
    assert np.load(tmp_path / "cleaned/labels.npy").tolist() == rows
    assert sorted(p.name for p in (tmp_path / "cleaned").iterdir()) == ["labels.npy", "prune_shares.npy"]
