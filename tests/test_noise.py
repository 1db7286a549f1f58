"""Label noise: the exact count, the ground-truth mask, reproducibility, uniform new classes (symmetric), the
confusable class (class_conditional); and the inject_noise stage, which writes every run of a level."""

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from labelsweep import noise, runs
from labelsweep.labels import NO_LABEL
from labelsweep.noise import NOISE_KINDS, inject_noise, noise_rng, stream_key

from .conftest import checkout, run_stage, set_runs, write_raw

REGISTERED = dict(NOISE_KINDS)  # the kinds the package registers, in their order


@pytest.fixture
def labels():
    return np.random.default_rng(1).integers(0, 10, size=10_001)


@pytest.mark.parametrize(
    "n, noise_level, flips",
    [  # p * n, then Python's round(): the nearest integer, a tie (x.5) to the even one
        (10_001, 0.0, 0),
        (10_001, 0.05, 500),  # 500.05
        (10_001, 0.333, 3330),  # 3330.333
        (10_001, 0.5, 5000),  # 5000.5: a tie, to the even 5000
        (36, 0.2, 7),  # 7.2 (the tiny image-folder sweep)
        (2000, 0.2, 400),
        (10, 0.25, 2),  # 2.5: a tie, down to the even 2
        (14, 0.25, 4),  # 3.5: a tie, up to the even 4
        (6, 0.25, 2),  # 1.5 -> 2
        (2, 0.25, 0),  # 0.5 -> 0: nothing flipped
        (4, 0.375, 2),  # 1.5 -> 2
        (10, 0.9, 9),
    ],
)
def test_flips_exactly_round_p_n_labels_each_to_another_class(n, noise_level, flips):
    """The documented count, round(p * n) with Python's ties-to-even, checked against hand-counted numbers; the
    flipped labels all changed, the others did not."""
    labels = np.random.default_rng(1).integers(0, 10, size=n)
    noisy, flipped = inject_noise(labels, noise_level, n_classes=10, seed=0)
    assert flipped.sum() == flips
    assert np.array_equal(noisy != labels, flipped)  # every chosen label really changed, no other one did
    assert noisy.min() >= 0 and noisy.max() <= 9


def test_same_seed_same_noise_other_seed_other_noise(labels):
    """The noise is a function of (labels, level, seed): rerunning a stage reproduces it, another seed changes it."""
    a = inject_noise(labels, 0.3, 10, seed=0)
    b = inject_noise(labels, 0.3, 10, seed=0)
    c = inject_noise(labels, 0.3, 10, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[1], c[1])


def test_a_level_written_differently_gives_the_same_noise(labels):
    """0.3 and 0.1 + 0.2 (= 0.30000000000000004) are one level: the generator is keyed on the level in millionths."""
    a = inject_noise(labels, 0.3, 10, seed=0)
    b = inject_noise(labels, 0.1 + 0.2, 10, seed=0)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_new_class_is_uniform_over_the_other_classes():
    """45,000 flips from class 0 land on each of the 9 other classes about 5,000 times (within 5 sigma), never on 0."""
    labels = np.zeros(90_000, dtype=np.int64)
    noisy, flipped = inject_noise(labels, 0.5, n_classes=10, seed=3)
    counts = np.bincount(noisy[flipped], minlength=10)
    assert counts[0] == 0
    expected = flipped.sum() / 9
    assert np.all(np.abs(counts[1:] - expected) < 5 * np.sqrt(expected))  # ~5 sigma


def test_does_not_modify_its_input(labels):
    """The caller's labels (the raw folder's truth) are left as they were."""
    before = labels.copy()
    inject_noise(labels, 0.4, 10, seed=0)
    assert np.array_equal(labels, before)


@pytest.mark.parametrize("noise_level", [-0.1, 1.0, 1.5])
def test_rejects_levels_outside_0_1(labels, noise_level):
    """A level below 0 or at or above 1 is refused, naming the argument."""
    with pytest.raises(ValueError, match="noise_level"):
        inject_noise(labels, noise_level, 10, seed=0)


def keyed_symmetric_noise(labels: np.ndarray, noise_level: float, n_classes: int, seed: int):
    """Symmetric noise written out from its generator key [seed, level in millionths, the kind's name key]."""
    n_flips = int(round(noise_level * len(labels)))
    rng = np.random.default_rng([seed, int(round(noise_level * 1_000_000)), stream_key("symmetric")])
    chosen = rng.choice(len(labels), size=n_flips, replace=False)
    offsets = rng.integers(1, n_classes, size=n_flips)
    noisy = labels.copy()
    noisy[chosen] = (labels[chosen] + offsets) % n_classes
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[chosen] = True
    return noisy, flipped


@pytest.mark.parametrize("seed, noise_level", [(0, 0.3), (0, 0.05), (2, 0.4), (7, 0.2)])
def test_symmetric_noise_is_drawn_from_its_named_key(labels, seed, noise_level):
    """Symmetric noise's generator key is [seed, level in millionths, stream_key("symmetric")] (issue 25: seeded
    by the kind's name, no longer by its position), through inject_noise(kind="symmetric") and the default alike."""
    expected = keyed_symmetric_noise(labels, noise_level, 10, seed)
    for new in (inject_noise(labels, noise_level, 10, seed, "symmetric"),
                inject_noise(labels, noise_level, 10, seed)):
        assert np.array_equal(new[0], expected[0]) and np.array_equal(new[1], expected[1])


def test_a_kind_registered_first_changes_no_other_kinds_noise(labels, monkeypatch):
    """Registering a new kind, even ahead of the others, leaves every existing kind's noise as it was."""
    before = inject_noise(labels, 0.3, 10, seed=3, kind="class_conditional", confusable=CONFUSABLE)
    monkeypatch.setattr(noise, "NOISE_KINDS", {})
    noise.noise_kind("aaa_first", lambda k: (0.5, "test"))(lambda chosen, rng, k, confusable: (chosen + 1) % k)
    for name, kind in REGISTERED.items():
        noise.NOISE_KINDS[name] = kind
    after = inject_noise(labels, 0.3, 10, seed=3, kind="class_conditional", confusable=CONFUSABLE)
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert stream_key("aaa_first") != stream_key("class_conditional")


# A many-to-one map (classes 4 and 5 both go to 3) with no fixed point.
CONFUSABLE = np.array([6, 0, 1, 4, 3, 3, 0, 8, 9, 7])


@pytest.mark.parametrize("n, noise_level, flips", [(10_001, 0.05, 500), (10_001, 0.5, 5000), (36, 0.2, 7),
                                                   (10, 0.25, 2), (14, 0.25, 4), (2, 0.25, 0)])
def test_class_conditional_flips_exactly_round_p_n_labels_each_to_its_confusable_class(n, noise_level, flips):
    """class_conditional: round(p * n) flips (the same hand-counted numbers as symmetric noise), each from class c
    to CONFUSABLE[c], never to c itself; no other label changes."""
    labels = np.random.default_rng(1).integers(0, 10, size=n)
    noisy, flipped = inject_noise(labels, noise_level, 10, seed=0, kind="class_conditional", confusable=CONFUSABLE)
    assert flipped.sum() == flips
    assert np.array_equal(noisy[flipped], CONFUSABLE[labels[flipped]])
    assert np.array_equal(noisy != labels, flipped)  # never a flip to itself, no other change
    assert np.array_equal(noisy[~flipped], labels[~flipped])


def test_every_class_flips_to_its_confusable_class_only(labels):
    """Over 10,001 labels at 40 %, each class's flipped labels all land on its one confusable class."""
    noisy, flipped = inject_noise(labels, 0.4, 10, seed=3, kind="class_conditional", confusable=CONFUSABLE)
    for c in range(10):
        assert set(noisy[flipped & (labels == c)].tolist()) == {CONFUSABLE[c]}


def test_noise_kinds_draw_apart_and_each_kind_reproduces(labels):
    """The kind is part of the generator's key: symmetric and class_conditional noise of one seed and level choose
    different samples (as if drawn independently); each kind reproduces itself;
    each kind's key ends in its name's key."""
    symmetric = inject_noise(labels, 0.3, 10, seed=0, kind="symmetric")
    conditional = inject_noise(labels, 0.3, 10, seed=0, kind="class_conditional", confusable=CONFUSABLE)
    assert symmetric[1].sum() == conditional[1].sum() == 3000
    assert not np.array_equal(symmetric[1], conditional[1])
    # Two independent draws of 3,000 of 10,001 share about 900: far from all of them (one draw) or none.
    assert 700 < (symmetric[1] & conditional[1]).sum() < 1100
    again = inject_noise(labels, 0.3, 10, seed=0, kind="class_conditional", confusable=CONFUSABLE)
    assert all(np.array_equal(x, y) for x, y in zip(conditional, again))
    draws = [noise_rng(0, 0.3, kind).integers(0, 2**62) for kind in NOISE_KINDS]
    assert len(set(draws)) == len(NOISE_KINDS)
    assert draws == [np.random.default_rng([0, 300_000, stream_key(kind)]).integers(0, 2**62) for kind in NOISE_KINDS]


@pytest.mark.parametrize("confusable", [np.array([1, 1, 3, 2]), np.array([1, 0, 3]), None],
                         ids=["class 1 to itself", "a class missing", "no map"])
def test_class_conditional_noise_rejects_a_map_that_is_not_one_other_class_per_class(confusable):
    """A map that sends a class to itself (a 'flip' that changes nothing), misses a class, or is absent is refused."""
    with pytest.raises((ValueError, TypeError)):
        inject_noise(np.arange(40) % 4, 0.2, 4, seed=0, kind="class_conditional", confusable=confusable)


def test_an_unknown_noise_kind_is_refused(labels):
    with pytest.raises(ValueError, match="noise kind"):
        inject_noise(labels, 0.2, 10, seed=0, kind="asymmetric")


# The inject_noise stage on a raw folder of 100 samples in 4 classes of 40, 30, 20 and 10, at noise 0.3, with a
# `memorise` regime on a stratified 50-sample subsample (20, 15, 10 and 5 of each class).
CLASSES = ["a", "b", "c", "d"]
TRUTH = np.repeat(np.arange(4), [40, 30, 20, 10])[np.random.default_rng(5).permutation(100)]
MAP = {"a": "b", "b": "a", "c": "d", "d": "a"}


@pytest.fixture
def stage_dir(tmp_path, params):
    params.update(datasets=["fashion_mnist"])
    params["fashion_mnist"]["regimes"] = {"memorise": {"train_size": 50, "epochs": 2}}
    params["fashion_mnist"]["confusable"] = MAP
    checkout(tmp_path, params)
    write_raw(tmp_path / "raw", np.zeros((100, 1, 2, 2), np.uint8), TRUTH, CLASSES)
    return tmp_path


def inject(workdir, *run_args: str, level: str = "0.3"):
    """inject_noise at `level` with the runs `run_args` (spelled as options, written to params.yaml's `runs`)."""
    set_runs(workdir, *run_args)
    return run_stage("inject_noise", workdir, "--dataset", "fashion_mnist", "--noise-level", level, "--raw", "raw",
                     "--out", "noisy")


@pytest.mark.slow
def test_the_stage_writes_every_run_and_a_regime_draws_its_stratified_subsample(stage_dir):
    """Two kinds x two regimes x two seeds: runs.csv lists the 8 runs in runs.plan's order (regime, kind, seed);
    a default run covers all 100 samples with round(0.3 * 100) = 30 flips; a memorise run has exactly its 50
    members (label != -1; 20/15/10/5 per class, nothing flipped outside) with round(0.3 * 50) = 15 flips; the
    runs of one seed share their members across noise kinds, the two seeds do not; and each row is
    noise.inject_noise of its members' labels with the run's seed and kind."""
    r = inject(stage_dir, "--noise_kinds", "symmetric", "class_conditional", "--regimes", "default", "memorise",
               "--seeds", "0", "1")
    assert r.returncode == 0, r.stderr
    noisy = stage_dir / "noisy"
    assert sorted(p.name for p in noisy.iterdir()) == ["flipped.npy", "labels.npy", "noise.json", "runs.csv"]
    plan = [(k, reg, s) for reg in ("default", "memorise") for k in ("symmetric", "class_conditional") for s in (0, 1)]
    assert [tuple(row) for row in pd.read_csv(noisy / "runs.csv").itertuples(index=False)] == [
        (*run, True, False) for run in plan]  # every run the sweep's, none the study's (params.yaml study: null)
    assert [(run.noise_kind, run.regime, run.seed) for run in runs.load(noisy)] == plan
    labels, flipped = np.load(noisy / "labels.npy"), np.load(noisy / "flipped.npy")
    assert labels.shape == flipped.shape == (8, 100) and labels.dtype == np.int64 and flipped.dtype == bool
    confusable = np.array([CLASSES.index(MAP[c]) for c in CLASSES])
    members = {}
    for row, (kind, regime, seed) in enumerate(plan):
        inside = labels[row] != NO_LABEL
        members[kind, regime, seed] = inside
        size, flips = (100, 30) if regime == "default" else (50, 15)
        assert inside.sum() == size and flipped[row].sum() == flips and not flipped[row, ~inside].any()
        if regime == "memorise":
            assert np.bincount(TRUTH[inside], minlength=4).tolist() == [20, 15, 10, 5]
        expected = inject_noise(TRUTH[inside], 0.3, 4, seed, kind, confusable)
        assert np.array_equal(labels[row, inside], expected[0]) and np.array_equal(flipped[row, inside], expected[1])
        assert np.array_equal(labels[row, inside] != TRUTH[inside], flipped[row, inside])
        if kind == "class_conditional":
            assert np.array_equal(labels[row, flipped[row]], confusable[TRUTH[flipped[row]]])
    for seed in (0, 1):
        assert np.array_equal(members["symmetric", "memorise", seed], members["class_conditional", "memorise", seed])
    assert not np.array_equal(members["symmetric", "memorise", 0], members["symmetric", "memorise", 1])
    assert "flipped 15 of 50 labels" in r.stdout and "flipped 30 of 100 labels" in r.stdout


@pytest.mark.slow
def test_a_regime_set_to_null_is_not_run_and_the_stage_says_so(stage_dir, params):
    """`memorise: null` under the dataset's regimes: its runs are left out of every array and of runs.csv, and the
    stage prints which regime it left out and why."""
    settings = copy.deepcopy(params)
    settings.update(datasets=["fashion_mnist"])
    settings["fashion_mnist"]["regimes"] = {"memorise": None}
    settings["fashion_mnist"]["confusable"] = MAP
    checkout(stage_dir / "null", settings)
    write_raw(stage_dir / "null" / "raw", np.zeros((100, 1, 2, 2), np.uint8), TRUTH, CLASSES)
    r = inject(stage_dir / "null", "--noise_kinds", "symmetric", "--regimes", "default", "memorise", "--seeds", "0",
               "3")
    assert r.returncode == 0, r.stderr
    assert "fashion_mnist: regimes memorise set to null under fashion_mnist.regimes: not run" in r.stdout
    noisy = stage_dir / "null" / "noisy"
    assert pd.read_csv(noisy / "runs.csv").values.tolist() == [["symmetric", "default", 0, True, False],
                                                               ["symmetric", "default", 3, True, False]]
    assert np.load(noisy / "labels.npy").shape == (2, 100) and (np.load(noisy / "labels.npy") >= 0).all()


@pytest.mark.slow
@pytest.mark.parametrize("mapping", [
    {"a": "b", "b": "a", "c": "d"},  # d missing
    {"a": "b", "b": "b", "c": "d", "d": "a"},  # b to itself
    {"a": "b", "b": "a", "c": "e", "d": "a"},  # e is no class
], ids=["a class missing", "a class to itself", "an unknown class"])
def test_a_confusable_map_that_does_not_fit_the_classes_stops_the_stage_in_one_line(stage_dir, mapping):
    """class_conditional noise with a map that misses a class, sends one to itself or to no class: exit 2, one
    line naming fashion_mnist.confusable and the classes, nothing written."""
    settings = yaml.safe_load((stage_dir / "params.yaml").read_text())
    settings["fashion_mnist"]["confusable"] = mapping
    (stage_dir / "params.yaml").write_text(yaml.safe_dump(settings))
    r = inject(stage_dir, "--noise_kinds", "symmetric", "class_conditional", "--regimes", "default", "--seeds", "0")
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("error: params.yaml: fashion_mnist.confusable ") and "a, b, c, d" in r.stderr
    assert not (stage_dir / "noisy").exists()


@pytest.mark.slow
@pytest.mark.parametrize("run_args, named", [
    (["--noise_kinds", "symmetric", "gaussian", "--regimes", "default", "--seeds", "0"], "'gaussian'"),
    (["--noise_kinds", "symmetric", "--regimes", "default", "overfit", "--seeds", "0"], "'overfit'"),
    (["--noise_kinds", "symmetric", "--regimes", "default", "--seeds", "0", "0"], "[0, 0]"),
    (["--noise_kinds", "symmetric", "--regimes", "default", "--seeds", "-1"], "-1"),
], ids=["unknown kind", "unknown regime", "duplicate seed", "negative seed"])
def test_a_bad_run_on_the_command_line_stops_the_stage_in_one_line(stage_dir, run_args, named):
    """The runs come from the command line (DVC spells out params.yaml `runs`): a bad one is exit 2 and one line
    naming the value, no traceback, nothing written."""
    r = inject(stage_dir, *run_args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.startswith("error: ") and named in r.stderr and "not allowed" in r.stderr
    assert not (stage_dir / "noisy").exists()

