"""Reading and checking params.yaml.

Every stage calls :func:`load_params` first, so a bad setting stops the pipeline with one message
naming the key, its value and what is allowed -- before any data is read or any output written.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from labelsweep.errors import ConfigError, not_allowed

FILTER_BY = (
    "prune_by_noise_rate",
    "prune_by_class",
    "both",
    "confident_learning",
    "predicted_neq_given",
    "low_normalized_margin",
    "low_self_confidence",
)
RELABEL_WITH = ("pruned_refit", "crossval")
SOURCES = ("fashion_mnist", "image_folder")
NOISE_KINDS = ("symmetric", "class_conditional")  # labelsweep.noise
# The cells trained at every level besides the baseline and the prune/relabel threshold grid (README, "Strategies").
STRATEGIES = ("keep_rest", "perfect_detection", "random_removal", "true_labels", "confident_relabel")
MODELS = ("mlp", "cnn")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")  # labelsweep.training.resolve_precision


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fail(key: str, value: Any, allowed: str) -> None:
    raise not_allowed(key, value, allowed)


def _grid(params: dict, key: str, upper_inclusive: bool, prefix: str = "") -> list[float]:
    """The grid `key` as a list; a single number is a one-level grid (what `dvc exp run -S noise=0.3` writes)."""
    values = params.get(key)
    interval = "[0, 1]" if upper_inclusive else "[0, 1)"
    allowed = f"a number or a non-empty list of distinct numbers in {interval}, e.g. {key}: [0.0, 0.5]"
    if _is_number(values):
        values = [values]
    if not isinstance(values, list) or not values:
        _fail(prefix + key, values, allowed)
    for i, value in enumerate(values):
        if not _is_number(value) or value < 0 or value > 1 or (value == 1 and not upper_inclusive):
            _fail(f"{prefix}{key}[{i}]", value, allowed)
    if len(set(values)) != len(values):
        _fail(prefix + key, values, f"{allowed} (duplicates found)")
    params[key] = values
    return values


def _positive(section: dict, key: str, prefix: str, kind: type = int) -> None:
    value = section.get(key)
    ok = _is_number(value) and value > 0 and (kind is float or isinstance(value, int))
    if not ok:
        _fail(f"{prefix}.{key}", value, f"a positive {'integer' if kind is int else 'number'}")


def _optional_size(section: dict, key: str, prefix: str) -> None:
    if section.get(key) is not None:
        _positive(section, key, prefix)


def _choice(section: dict, key: str, prefix: str, allowed: tuple[str, ...]) -> None:
    if section.get(key) not in allowed:
        _fail(f"{prefix}.{key}", section.get(key), "one of " + ", ".join(allowed))


def _section(parent: dict, key: str, prefix: str) -> dict:
    value = parent.get(key)
    if not isinstance(value, dict):
        _fail(f"{prefix}{key}", value, "a mapping of settings (see params.yaml in the repository)")
    return value


def check_dataset(params: dict, name: str) -> dict:
    """Check the `<name>.data` and `<name>.train` sections; return the dataset's section."""
    section = _section(params, name, "")
    data = _section(section, "data", f"{name}.")
    train = _section(section, "train", f"{name}.")
    _choice(data, "source", f"{name}.data", SOURCES)
    _optional_size(data, "train_subsample", f"{name}.data")
    _optional_size(data, "test_subsample", f"{name}.data")
    path = data.get("path")
    if path is not None and not isinstance(path, str):
        _fail(f"{name}.data.path", path, "a folder path or null")
    if data["source"] == "image_folder":
        if not path:
            _fail(f"{name}.data.path", path, "the folder of an image_folder dataset (one sub-folder per class)")
        dirs = data.get("train_dirs")
        if not isinstance(dirs, list) or not dirs or not all(isinstance(d, str) and d for d in dirs):
            _fail(f"{name}.data.train_dirs", dirs, "a non-empty list of folder names under data.path")
        if data.get("test_dir") is not None and not isinstance(data.get("test_dir"), str):
            _fail(f"{name}.data.test_dir", data.get("test_dir"), "a folder name under data.path, or null")
        share = data.get("test_share")
        if not _is_number(share) or not 0 < share < 1:
            _fail(f"{name}.data.test_share", share, "a number in (0, 1)")
        _positive(data, "image_size", f"{name}.data")
        _check_fetch(data, f"{name}.data")
    check_train(train, f"{name}.train")
    _check_regimes(section, name)
    confusable = section.get("confusable")
    names_only = isinstance(confusable, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                      for k, v in confusable.items())
    if confusable is not None and not names_only:
        _fail(f"{name}.confusable", confusable, "a mapping from every class name to another class name")
    return section


def _check_fetch(data: dict, prefix: str) -> None:
    """`url` (an archive to fetch when `path` is missing) comes with the `manifest` it is checked against."""
    url, manifest = data.get("url"), data.get("manifest")
    if url is not None and not (isinstance(url, str) and "://" in url):
        _fail(f"{prefix}.url", url, "null, or the URL of a zip or tar archive of the class folders")
    if manifest is not None and not (isinstance(manifest, str) and manifest):
        _fail(f"{prefix}.manifest", manifest, "null, or the path of a manifest file in the repository")
    if url is not None and manifest is None:
        _fail(f"{prefix}.manifest", manifest, f"a manifest file to check {prefix}.url's files against")


def check_train(train: dict, prefix: str) -> None:
    """Check a training section (a dataset's `train`, or it with a regime's overrides)."""
    _choice(train, "model", prefix, MODELS)
    _choice(train, "device", prefix, DEVICES)
    _choice(train, "precision", prefix, PRECISIONS)
    _positive(train, "width", prefix)
    _positive(train, "epochs", prefix)
    _positive(train, "batch_size", prefix)
    _positive(train, "lr", prefix, float)
    augment = train.get("augment")
    if augment is not None:
        keys = ("degrees", "translate", "scale")
        if not isinstance(augment, dict) or set(augment) != set(keys):
            _fail(f"{prefix}.augment", augment, "null, or a mapping with degrees, translate and scale")
        for key in keys:
            value = augment[key]
            if not _is_number(value) or value < 0 or (key != "degrees" and value >= 1):
                _fail(f"{prefix}.augment.{key}", value, "a number >= 0" + ("" if key == "degrees" else " and < 1"))


def _check_regimes(section: dict, name: str) -> None:
    regimes = section.get("regimes") or {}
    if not isinstance(regimes, dict):
        _fail(f"{name}.regimes", regimes, "a mapping from regime name to settings that override train (or null)")
    for regime, overrides in regimes.items():
        prefix = f"{name}.regimes.{regime}"
        if regime == "default":
            _fail(prefix, overrides, "another name: `default` is the dataset's own train section")
        if overrides is None:
            continue
        if not isinstance(overrides, dict):
            _fail(prefix, overrides, "null, or a mapping of train settings to override, plus an optional train_size")
        unknown = sorted(set(overrides) - set(section["train"]) - {"train_size", "augment"})
        if unknown:
            _fail(f"{prefix}.{unknown[0]}", overrides[unknown[0]], "a key of the train section, or train_size")
        _optional_size(overrides, "train_size", prefix)
        check_train({**section["train"], **overrides}, prefix)


def _names(params: dict, key: str, allowed: tuple[str, ...] | None, kind: type = str, prefix: str = "") -> list:
    """A list of distinct names (or non-negative integers); a single value is a one-element list. Messages name
    the setting as `prefix` + `key`."""
    values = params.get(key)
    what = "non-negative integers" if kind is int else ("names" if allowed is None else ", ".join(allowed))
    message = f"a value or a non-empty list of distinct {what}"
    if not isinstance(values, list):
        values = [values]
    for i, value in enumerate(values):
        ok = (isinstance(value, int) and not isinstance(value, bool) and value >= 0) if kind is int else (
            isinstance(value, str) and value and (allowed is None or value in allowed))
        if not ok:
            _fail(f"{prefix}{key}[{i}]" if len(values) > 1 else f"{prefix}{key}", value, message)
    if not values or len(set(values)) != len(values):
        _fail(f"{prefix}{key}", params.get(key), message + " (duplicates found)" if values else message)
    return values


def check_runs(runs: dict, dataset_sections: dict[str, dict], prefix: str = "runs.") -> dict:
    """Check the `runs` grids (noise kinds, regimes, seeds), each as a list; every regime must be `default`
    or named under every dataset's `regimes` (null there: that dataset does not run it)."""
    checked = {
        "noise_kinds": _names(runs, "noise_kinds", NOISE_KINDS, prefix=prefix),
        "regimes": _names(runs, "regimes", None, prefix=prefix),
        "seeds": _names(runs, "seeds", None, kind=int, prefix=prefix),
    }
    for regime in checked["regimes"]:
        for name, section in dataset_sections.items():
            if regime != "default" and regime not in (section.get("regimes") or {}):
                _fail(f"{prefix}regimes", regime, f"default, or a regime named under {name}.regimes "
                      f"({', '.join(section.get('regimes') or {}) or 'none'})")
    if "class_conditional" in checked["noise_kinds"]:
        for name, section in dataset_sections.items():
            if not section.get("confusable"):
                _fail(f"{name}.confusable", section.get("confusable"),
                      f"a mapping from every class name to a confusable class (class_conditional noise is in "
                      f"{prefix.rstrip('.')})")
    return checked


def check_study(study: dict | None, dataset_sections: dict[str, dict]) -> dict | None:
    """Check the `study` grid: its levels (a subset of `noise` runs it; others are ignored, so that `dvc exp run
    -S noise=0.3` runs one sweep level), its runs as in :func:`check_runs`, and its threshold grid; null: no study."""
    if study is None:
        return None
    if not isinstance(study, dict):
        _fail("study", study, "null, or a mapping with noise, noise_kinds, regimes, seeds and thresholds")
    checked = check_runs(study, dataset_sections, prefix="study.")
    levels = {"noise": study.get("noise"), "thresholds": study.get("thresholds")}
    checked["noise"] = _grid(levels, "noise", upper_inclusive=False, prefix="study.")
    checked["thresholds"] = _grid(levels, "thresholds", upper_inclusive=True, prefix="study.")
    return checked


def load_params(dataset: str | None = None, path: str | Path = "params.yaml") -> dict:
    """Load and check params.yaml: the grids, the seed, cleanlab's settings and `dataset`'s section."""
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run the stages from the repository root") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must be a mapping of settings, got {params!r}")

    names = params.get("datasets")
    if not isinstance(names, list) or not names or len(set(map(str, names))) != len(names):
        _fail("datasets", names, "a non-empty list of distinct dataset names, each with its own section")
    _grid(params, "noise", upper_inclusive=False)
    _grid(params, "thresholds", upper_inclusive=True)
    seed = params.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        _fail("seed", seed, "a non-negative integer")
    cleanlab = _section(params, "cleanlab", "")
    folds = cleanlab.get("folds")
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 2:
        _fail("cleanlab.folds", folds, "an integer >= 2")
    _choice(cleanlab, "filter_by", "cleanlab", FILTER_BY)
    _choice(cleanlab, "relabel_with", "cleanlab", RELABEL_WITH)
    strategies = params.get("strategies") or []
    if not isinstance(strategies, list):
        strategies = [strategies]
    for strategy in strategies:
        if strategy not in STRATEGIES:
            _fail("strategies", strategy, "a list (possibly empty) of " + ", ".join(STRATEGIES))
    params["strategies"] = strategies
    minimum = params.get("confident_relabel_min")
    if not _is_number(minimum) or not 0 < minimum <= 1:
        _fail("confident_relabel_min", minimum, "a probability in (0, 1]")
    sections = {name: check_dataset(params, name) for name in names}
    params["runs"] = check_runs(_section(params, "runs", ""), sections)
    params["study"] = check_study(params.get("study"), sections)
    if dataset is not None and dataset not in names:
        raise ConfigError(f"dataset {dataset!r} is not in params.yaml datasets {names}")
    return params


def check_level(value: float, name: str, upper_inclusive: bool) -> float:
    """Check a grid value that reached a stage through its command line."""
    if not _is_number(value) or value < 0 or value > 1 or (value == 1 and not upper_inclusive):
        interval = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ConfigError(f"--{name} = {value!r} is not allowed: a number in {interval}")
    return value
