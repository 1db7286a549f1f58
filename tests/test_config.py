"""Bad settings stop a stage before any heavy work, with a message naming the key, value and what is allowed."""

import pytest
import yaml

from labelsweep.config import load_params
from labelsweep.errors import ConfigError

from .conftest import ROOT, checkout, run_stage


def set_key(params: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for key in parents:
        params = params[key]
    if value is DELETE:
        del params[last]
    else:
        params[last] = value


DELETE = object()
BAD = [  # (key, value, the key as the message names it)
    ("noise", [0.0, 1.0], "noise[1]"),
    ("noise", [0.1, -0.05], "noise[1]"),
    ("noise", [0.1, "x"], "noise[1]"),
    ("noise", [0.1, True], "noise[1]"),
    ("noise", [0.1, 0.1], "noise"),
    ("noise", [], "noise"),
    ("noise", 1.0, "noise[0]"),  # a scalar is a one-level grid, checked like a list's values
    ("noise", "0.3", "noise"),
    ("thresholds", 1.5, "thresholds[0]"),
    ("thresholds", [0.5, 1.2], "thresholds[1]"),
    ("thresholds", [-0.1], "thresholds[0]"),
    ("thresholds", [0.5, 0.5], "thresholds"),
    ("thresholds", [], "thresholds"),
    ("datasets", [], "datasets"),
    ("datasets", ["fashion_mnist", "fashion_mnist"], "datasets"),
    ("datasets", ["imagenet"], "imagenet"),
    ("seed", -1, "seed"),
    ("seed", "zero", "seed"),
    ("cleanlab.folds", 1, "cleanlab.folds"),
    ("cleanlab.folds", 2.5, "cleanlab.folds"),
    ("cleanlab.filter_by", "magic", "cleanlab.filter_by"),
    ("cleanlab.relabel_with", "oracle", "cleanlab.relabel_with"),
    ("fashion_mnist.data.source", "mnist", "fashion_mnist.data.source"),
    ("fashion_mnist.data.train_subsample", 0, "fashion_mnist.data.train_subsample"),
    ("fashion_mnist.data.test_subsample", -5, "fashion_mnist.data.test_subsample"),
    ("fashion_mnist.train.model", "resnet", "fashion_mnist.train.model"),
    ("fashion_mnist.train.device", "tpu", "fashion_mnist.train.device"),
    ("fashion_mnist.train.epochs", 0, "fashion_mnist.train.epochs"),
    ("fashion_mnist.train.epochs", 2.5, "fashion_mnist.train.epochs"),
    ("fashion_mnist.train.batch_size", -32, "fashion_mnist.train.batch_size"),
    ("fashion_mnist.train.lr", 0, "fashion_mnist.train.lr"),
    ("fashion_mnist.train.lr", "fast", "fashion_mnist.train.lr"),
    ("fashion_mnist.train.width", 0, "fashion_mnist.train.width"),
    ("roman.data.path", None, "roman.data.path"),
    ("roman.data.train_dirs", [], "roman.data.train_dirs"),
    ("roman.data.test_share", 1.0, "roman.data.test_share"),
    ("roman.data.image_size", 0, "roman.data.image_size"),
    ("roman.train", DELETE, "roman.train"),
    # The runs, the strategies and the regimes (issue 12).
    ("runs", DELETE, "runs"),
    ("runs.seeds", [0, 0], "runs.seeds"),
    ("runs.seeds", [0, -1], "runs.seeds[1]"),
    ("runs.seeds", -1, "runs.seeds"),
    ("runs.seeds", [0, 1.5], "runs.seeds[1]"),
    ("runs.seeds", [], "runs.seeds"),
    ("runs.noise_kinds", ["symmetric", "gaussian"], "runs.noise_kinds[1]"),
    ("runs.noise_kinds", "uniform", "runs.noise_kinds"),
    ("runs.noise_kinds", ["symmetric", "symmetric"], "runs.noise_kinds"),
    ("runs.regimes", ["default", "overfit"], "runs.regimes"),  # named under no dataset's regimes
    ("runs.regimes", ["default", "default"], "runs.regimes"),
    ("strategies", ["keep_rest", "magic"], "strategies"),
    ("strategies", "prune_everything", "strategies"),
    ("confident_relabel_min", 0, "confident_relabel_min"),
    ("confident_relabel_min", 1.01, "confident_relabel_min"),
    ("confident_relabel_min", -0.5, "confident_relabel_min"),
    ("confident_relabel_min", "high", "confident_relabel_min"),
    ("confident_relabel_min", DELETE, "confident_relabel_min"),
    ("fashion_mnist.regimes.memorise.dropout", 0.5, "fashion_mnist.regimes.memorise.dropout"),  # not a train key
    ("fashion_mnist.regimes.memorise.train_size", 0, "fashion_mnist.regimes.memorise.train_size"),
    ("fashion_mnist.regimes.memorise.train_size", 2.5, "fashion_mnist.regimes.memorise.train_size"),
    ("fashion_mnist.regimes.memorise.epochs", 0, "fashion_mnist.regimes.memorise.epochs"),
    ("fashion_mnist.regimes.memorise.model", "resnet", "fashion_mnist.regimes.memorise.model"),
    ("fashion_mnist.regimes.memorise", 60, "fashion_mnist.regimes.memorise"),
    ("fashion_mnist.regimes.default", {"epochs": 2}, "fashion_mnist.regimes.default"),
    ("fashion_mnist.regimes", ["memorise"], "fashion_mnist.regimes"),
    ("roman.regimes", None, "runs.regimes"),  # runs.regimes names memorise, roman no longer does
    ("fashion_mnist.confusable", None, "fashion_mnist.confusable"),  # class_conditional is in runs
    ("roman.confusable", ["i", "ii"], "roman.confusable"),
    ("roman.confusable", {"i": 2}, "roman.confusable"),
]


def _bad(key, value, named):
    return pytest.param(key, value, named, id=f"{key}={value!r}")


@pytest.mark.parametrize("key, value, named", [_bad(*case) for case in BAD])
def test_bad_setting_is_named_with_what_is_allowed(tmp_path, params, key, value, named):
    """Each bad value is refused with a message naming the key (with the index of a bad grid value)."""
    set_key(params, key, value)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError) as err:
        load_params(path=path)
    assert named in str(err.value)
    assert "allowed" in str(err.value) or "not in params.yaml" in str(err.value)


def test_the_committed_params_are_valid():
    """params.yaml as committed passes every check."""
    load_params(path=ROOT / "params.yaml")


@pytest.mark.parametrize("noise, thresholds", [(0.3, 1), (0, 0.5), ([0.3], [1.0])])
def test_a_scalar_grid_is_a_one_level_grid(tmp_path, params, noise, thresholds):
    """`noise: 0.3` (what `dvc exp run -S noise=0.3` writes) loads as the grid [0.3], like `noise: [0.3]`."""
    params.update(noise=noise, thresholds=thresholds)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    loaded = load_params(path=path)
    as_list = [noise] if not isinstance(noise, list) else noise
    assert loaded["noise"] == as_list and isinstance(loaded["noise"], list)
    assert loaded["thresholds"] == ([thresholds] if not isinstance(thresholds, list) else thresholds)


def write(tmp_path, params: dict):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.parametrize("runs, as_lists", [
    ({"noise_kinds": "class_conditional", "regimes": "default", "seeds": 3},
     {"noise_kinds": ["class_conditional"], "regimes": ["default"], "seeds": [3]}),
    ({"noise_kinds": ["symmetric"], "regimes": ["memorise", "default"], "seeds": [2, 0]},
     {"noise_kinds": ["symmetric"], "regimes": ["memorise", "default"], "seeds": [2, 0]}),
])
def test_a_scalar_run_grid_is_a_one_element_list(tmp_path, params, runs, as_lists):
    """`runs.seeds: 3` (what `dvc exp run -S runs.seeds=3` writes) loads as [3], like every runs grid; lists keep
    their order."""
    params["runs"] = runs
    assert load_params(path=write(tmp_path, params))["runs"] == as_lists


@pytest.mark.parametrize("strategies, loaded", [(None, []), ([], []), ("true_labels", ["true_labels"]),
                                                (["random_removal", "keep_rest"], ["random_removal", "keep_rest"])])
def test_strategies_load_as_a_list(tmp_path, params, strategies, loaded):
    """No strategies (null or []) is the baseline and the threshold grid alone; a single one is a list of one."""
    params["strategies"] = strategies
    assert load_params(path=write(tmp_path, params))["strategies"] == loaded


def test_the_runs_check_is_the_one_stages_give_their_command_line(params):
    """check_runs (what inject_noise calls on its command line) refuses what load_params refuses, naming the key."""
    from labelsweep.config import check_runs

    sections = {"fashion_mnist": params["fashion_mnist"]}
    ok = check_runs({"noise_kinds": ["symmetric"], "regimes": ["default", "memorise"], "seeds": [0, 4]}, sections)
    assert ok == {"noise_kinds": ["symmetric"], "regimes": ["default", "memorise"], "seeds": [0, 4]}
    for runs, named in [({"noise_kinds": ["symmetric"], "regimes": ["tiny"], "seeds": [0]}, "runs.regimes"),
                        ({"noise_kinds": ["class_conditional"], "regimes": ["default"], "seeds": [0]},
                         "custom.confusable")]:
        with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
            check_runs(runs, {"custom": params["custom"]} if "custom" in named else sections)


STAGES = {  # every stage but plot, with all its required arguments
    "download": ["--dataset", "fashion_mnist", "--out", "out", "--summary", "out.json"],
    "inject_noise": ["--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw", "--out", "out"],
    "crossval_probs": ["--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy", "--out", "out"],
    "find_issues": ["--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw", "--noisy", "noisy",
                    "--pred-probs", "probs", "--out", "out", "--detection", "out.json"],
    "apply_prune_relabel": ["--noise-level", "0.2", "--raw", "raw", "--noisy", "noisy", "--issues", "issues",
                            "--out", "out"],
    "train_eval": ["--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw", "--noisy", "noisy",
                   "--cleaned", "cleaned", "--predictions", "out.npy", "--accuracy", "out.csv"],
}


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_with_a_bad_setting_exits_2_with_one_line_and_writes_nothing(tmp_path, params, stage):
    """Every stage checks params.yaml first: a bad setting is one line on stderr, exit 2, and no output."""
    params["cleanlab"]["folds"] = 1
    checkout(tmp_path, params)
    result = run_stage(stage, tmp_path, *STAGES[stage])
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params.yaml: cleanlab.folds = 1 is not allowed: an integer >= 2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labelsweep", "params.yaml", "stages"]


@pytest.mark.slow
@pytest.mark.parametrize("value", ["1.0", "-0.1", "nan"])
def test_a_grid_value_outside_its_range_on_the_command_line_is_refused(tmp_path, params, value):
    """A noise level from the command line outside [0, 1) is refused in one line naming the option."""
    checkout(tmp_path, params)
    result = run_stage("inject_noise", tmp_path, "--dataset", "fashion_mnist", "--noise-level", value, "--raw", "raw",
                       "--out", "out")
    assert result.returncode == 2 and "--noise-level" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
