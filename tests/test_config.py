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


class _Delete:
    """The value that removes a key. Its repr is fixed, so that the parametrized test ids are the same in every
    process (pytest-xdist's workers must collect the same ids)."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()
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
    assert loaded.noise == as_list and isinstance(loaded.noise, list)
    assert loaded.thresholds == ([thresholds] if not isinstance(thresholds, list) else thresholds)


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
    assert load_params(path=write(tmp_path, params)).runs.model_dump(exclude_none=True) == as_lists


@pytest.mark.parametrize("strategies, loaded", [(None, []), ([], []), ("true_labels", ["true_labels"]),
                                                (["random_removal", "keep_rest"], ["random_removal", "keep_rest"])])
def test_strategies_load_as_a_list(tmp_path, params, strategies, loaded):
    """No strategies (null or []) is the baseline and the threshold grid alone; a single one is a list of one."""
    params["strategies"] = strategies
    assert load_params(path=write(tmp_path, params)).strategies == loaded


def test_the_runs_are_checked_against_the_datasets_run(params):
    """`runs` names only regimes every dataset of `datasets` defines, and class_conditional noise needs every
    dataset's confusable classes: the check across sections names the key."""
    from labelsweep.config import parse

    params["datasets"] = ["fashion_mnist"]
    params["custom"]["data"]["path"] = "images"  # the custom dataset's own settings are valid
    params["runs"] = {"noise_kinds": ["symmetric"], "regimes": ["default", "memorise"], "seeds": [0, 4]}
    assert parse(params).runs.model_dump(exclude_none=True) == params["runs"]
    for runs, named in [({"noise_kinds": ["symmetric"], "regimes": ["tiny"], "seeds": [0]}, "runs.regimes"),
                        ({"noise_kinds": ["class_conditional"], "regimes": ["default"], "seeds": [0]},
                         "custom.confusable")]:
        changed = {**params, "runs": runs, "study": None,
                   "datasets": ["custom"] if "custom" in named else ["fashion_mnist"]}
        with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
            parse(changed)


STAGES = {  # every stage but plot, with all its required arguments
    "download": ["--dataset", "fashion_mnist", "--out", "out", "--summary", "out.json"],
    "inject_noise": ["--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw", "--out", "out"],
    "crossval_probs": ["--dataset", "fashion_mnist", "--raw", "raw", "--noisy", "noisy", "--out", "out"],
    "find_issues": ["--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw", "--noisy", "noisy",
                    "--pred-probs", "probs", "--out", "out", "--detection", "out.json"],
    "apply_prune_relabel": ["--dataset", "fashion_mnist", "--noise-level", "0.2", "--raw", "raw", "--noisy", "noisy",
                            "--issues", "issues",
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


# The schema is declared with pydantic (labelsweep.config): what it adds, and that its errors stay one line.

@pytest.mark.parametrize("key, value, named", [_bad(*case) for case in BAD])
def test_every_refusal_is_one_line_in_the_same_form(tmp_path, params, key, value, named):
    """No pydantic text and no traceback: `params.yaml: <key> = <value> is not allowed: <what is allowed>`."""
    set_key(params, key, value)
    with pytest.raises(ConfigError) as err:
        load_params(path=write(tmp_path, params))
    message = str(err.value)
    assert "\n" not in message and "validation error" not in message.lower() and "pydantic" not in message
    assert message.startswith(f"params.yaml: {named} = ") and " is not allowed: " in message


@pytest.mark.parametrize("key, value, message", [
    ("noise", [0.1, 1.0], "noise[1] = 1.0 is not allowed: a number or a non-empty list of distinct numbers in "
                          "[0, 1), e.g. noise: [0.0, 0.5]"),
    ("runs.seeds", [0, -1], "runs.seeds[1] = -1 is not allowed: a value or a non-empty list of distinct "
                            "non-negative integers"),
    ("runs.seeds", -1, "runs.seeds = -1 is not allowed: a value or a non-empty list of distinct non-negative integers"),
    ("study.noise", [1.5], "study.noise[0] = 1.5 is not allowed: a number or a non-empty list of distinct numbers "
                           "in [0, 1), e.g. noise: [0.0, 0.5]"),
    ("fashion_mnist.train.epochs", 0, "fashion_mnist.train.epochs = 0 is not allowed: a positive integer"),
    ("fashion_mnist.regimes.memorise.epochs", 0,
     "fashion_mnist.regimes.memorise.epochs = 0 is not allowed: a positive integer"),
    ("strategies", ["keep_rest", "magic"], "strategies = 'magic' is not allowed: a list (possibly empty) of "
                                           "keep_rest, perfect_detection, random_removal, true_labels, "
                                           "confident_relabel, early_stopping, gce, label_smoothing, gce_prune_all"),
    ("roman.data.url", "https://example.org/roman.zip", None),  # with the committed manifest: allowed
    ("seed", -1, "seed = -1 is not allowed: a non-negative integer"),
])
def test_the_messages_read_as_before(tmp_path, params, key, value, message):
    """The exact wording of a few refusals, as the hand-written checks gave them."""
    set_key(params, key, value)
    if message is None:
        load_params(path=write(tmp_path, params))
        return
    with pytest.raises(ConfigError) as err:
        load_params(path=write(tmp_path, params))
    assert str(err.value) == f"params.yaml: {message}"


@pytest.mark.parametrize("key, value, message", [
    ("fashion_mnist.train.dropout", 0.5, "fashion_mnist.train.dropout = 0.5 is not allowed: a key of this section: "
                                         "model, width, epochs, batch_size, lr, device, precision, augment"),
    ("cleanlab.fold", 5, "cleanlab.fold = 5 is not allowed: a key of this section: folds, filter_by, relabel_with"),
    ("runs.seed", [0], "runs.seed = [0] is not allowed: a key of this section: noise_kinds, regimes, seeds, "
                       "regime_seeds"),
    ("study.strategies", [], "study.strategies = [] is not allowed: a key of this section: noise_kinds, regimes, "
                             "seeds, regime_seeds, noise, thresholds"),
    ("roman.data.paht", "x", "roman.data.paht = 'x' is not allowed: a key of this section: source, "
                             "train_subsample, test_subsample, path, train_dirs, test_dir, test_share, image_size, "
                             "url, manifest"),
    ("roman.train.augment.shear", 0.1, "roman.train.augment = {'degrees': 10, 'scale': 0.1, 'shear': 0.1, "
                                       "'translate': 0.1} is not allowed: null, or a mapping with degrees, translate "
                                       "and scale"),  # as before: the augment mapping as a whole
])
def test_an_unknown_key_is_named_in_one_line(tmp_path, params, key, value, message):
    """A typo in a section's key is refused by name, with the keys the section has (it used to be ignored)."""
    set_key(params, key, value)
    with pytest.raises(ConfigError) as err:
        load_params(path=write(tmp_path, params))
    assert str(err.value) == f"params.yaml: {message}"


@pytest.mark.parametrize("key, value, message", [
    ("fashion_mnist.train.width", "wide", "fashion_mnist.train.width = 'wide' is not allowed: a positive integer"),
    ("fashion_mnist.train.width", 16.0, "fashion_mnist.train.width = 16.0 is not allowed: a positive integer"),
    ("fashion_mnist.train.lr", float("inf"), "fashion_mnist.train.lr = inf is not allowed: a positive number"),
    ("fashion_mnist.train", [1], "fashion_mnist.train = [1] is not allowed: a mapping of settings (see params.yaml "
                                 "in the repository)"),
    ("cleanlab.folds", "5", "cleanlab.folds = '5' is not allowed: an integer >= 2"),
    ("roman.confusable", {"i": ["ii"]}, "roman.confusable = {'i': ['ii']} is not allowed: a mapping from every "
                                        "class name to another class name"),
    ("study", "yes", "study = 'yes' is not allowed: null, or a mapping with noise, noise_kinds, regimes, seeds and "
                     "thresholds"),
])
def test_a_wrong_type_is_named_in_one_line(tmp_path, params, key, value, message):
    """A value of the wrong type (a string for a number, a float for an integer, a list for a mapping) is
    refused like an out-of-range one, not with pydantic's own text."""
    set_key(params, key, value)
    with pytest.raises(ConfigError) as err:
        load_params(path=write(tmp_path, params))
    assert str(err.value) == f"params.yaml: {message}"


def test_a_url_needs_its_manifest(tmp_path, params):
    """An image_folder dataset fetched from a URL is checked against a manifest; the message names the URL's key."""
    params["roman"]["data"].update(url="https://example.org/roman.zip", manifest=None)
    with pytest.raises(ConfigError) as err:
        load_params(path=write(tmp_path, params))
    assert str(err.value) == ("params.yaml: roman.data.manifest = None is not allowed: a manifest file to check "
                              "roman.data.url's files against")


def test_the_typed_settings_hold_the_file(tmp_path, params):
    """load_params gives params.yaml as typed objects: grids as lists, sections as models with the file's values."""
    from labelsweep.config import Params

    loaded = load_params(path=write(tmp_path, params))
    assert isinstance(loaded, Params)
    assert loaded.noise == params["noise"] and loaded.thresholds == params["thresholds"]
    assert loaded.runs.model_dump(exclude_none=True) == params["runs"]
    assert loaded.study.model_dump(exclude_none=True) == params["study"]
    assert loaded.dataset("roman").train.augment.degrees == params["roman"]["train"]["augment"]["degrees"]
    assert loaded.dataset("fashion_mnist").regimes["memorise"].train_size == 5000
    assert loaded.dataset("fashion_mnist").train.model_dump() == {**params["fashion_mnist"]["train"], "augment": None}
    with pytest.raises(ConfigError, match="'custom' is not in params.yaml datasets"):
        loaded.dataset("custom")


def test_a_regime_is_its_dataset_train_with_its_overrides_named_under_the_regime(params):
    """Dataset.regime: a regime's settings are the dataset's train section with the regime's overrides; a bad
    override is named under the regime."""
    from labelsweep.config import parse

    params["roman"]["regimes"] = {"memorise": None, "overfit_15k": None, "big": {"model": "mlp", "train_size": 100}}
    roman = parse(params).dataset("roman")
    big, train_size = roman.regime("big")
    assert big.model == "mlp" and big.epochs == params["roman"]["train"]["epochs"] and train_size == 100
    assert roman.regime("default") == (roman.train, None)
    assert roman.runs("big") and roman.runs("default") and not roman.runs("memorise")
    params["roman"]["regimes"]["big"]["model"] = "vit"
    with pytest.raises(ConfigError, match=r"^params\.yaml: roman\.regimes\.big\.model = 'vit' is not allowed: "
                                          r"one of mlp, cnn$"):
        parse(params)
