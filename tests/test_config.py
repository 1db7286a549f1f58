"""Bad settings stop a stage before any heavy work, with a message naming the key, value and what is allowed."""

import subprocess
import sys

import pytest
import yaml

from labelsweep.config import ConfigError, load_params

from .conftest import ROOT


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
    ("noise", 0.3, "noise"),
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
]


@pytest.mark.parametrize("key, value, named", BAD, ids=[f"{k}={v!r}" for k, v, _ in BAD])
def test_bad_setting_is_named_with_what_is_allowed(tmp_path, params, key, value, named):
    set_key(params, key, value)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError) as err:
        load_params(path=path)
    assert named in str(err.value)
    assert "allowed" in str(err.value) or "not in params.yaml" in str(err.value)


def test_the_committed_params_are_valid():
    load_params(path=ROOT / "params.yaml")


@pytest.mark.parametrize(
    "script, args",
    [
        ("download.py", ["--dataset", "fashion_mnist", "--out", "out"]),
        ("inject_noise.py", ["--noise-level", "0.2", "--raw", "raw", "--out", "out"]),
        ("apply_prune_relabel.py", ["--prune-share", "0.5", "--noisy", "n", "--issues", "i", "--out", "out"]),
    ],
)
def test_a_stage_with_a_bad_setting_exits_2_with_one_line_and_writes_nothing(tmp_path, params, script, args):
    params["cleanlab"]["folds"] = 1
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, str(ROOT / "stages" / script), *args], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params.yaml: cleanlab.folds = 1 is not allowed: an integer >= 2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


@pytest.mark.parametrize("value", ["1.0", "-0.1", "nan"])
def test_a_grid_value_outside_its_range_on_the_command_line_is_refused(tmp_path, params, value):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([sys.executable, str(ROOT / "stages" / "inject_noise.py"), "--noise-level", value,
                             "--raw", "raw", "--out", "out"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 2 and "--noise-level" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
