"""Reading and checking params.yaml.

Every stage calls :func:`load_params` first, so a bad setting stops the pipeline with one message
naming the key, its value and what is allowed -- before any data is read or any output written.

The schema is declared with pydantic models, one per section (:class:`Params` at the top). Each checked value
carries the text of what is allowed there; :func:`_validate` turns pydantic's first error into the one line
``params.yaml: <key> = <value> is not allowed: <what is allowed>`` (:func:`labelsweep.errors.not_allowed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from labelsweep import strategies
from labelsweep.errors import ConfigError, not_allowed
from labelsweep.noise import NOISE_KINDS, uses_confusable

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
# The registries (labelsweep.noise, labelsweep.strategies; plugins included) are complete once they are imported.
KINDS = tuple(NOISE_KINDS)
# The cells trained at every level besides the baseline and the prune/relabel threshold grid (README, "Strategies").
STRATEGIES = strategies.optional()
MODELS = ("mlp", "cnn")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")  # labelsweep.training.resolve_precision

MAPPING = "a mapping of settings (see params.yaml in the repository)"  # a section that is not a mapping


# -- How a refused value is reported -------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _refuse(allowed: str, **where: Any) -> PydanticCustomError:
    """The error a validator raises: `allowed` is the message's last part. `key` (a name or a list index) is
    appended to the error's location and `value` replaces the value pydantic saw, where the bad part is
    inside that value (a duplicate in a list, the one item of a list)."""
    return PydanticCustomError("not_allowed", "{allowed}", {"allowed": allowed, **where})


def _allowing(allowed: str) -> WrapValidator:
    """Any error of pydantic's own about the annotated value (wrong type, out of range, missing or unknown key)
    reads `allowed` and names the value itself; an error already phrased by an inner value is kept."""
    def wrap(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as err:
            if err.errors()[0]["type"] == "not_allowed":
                raise
            raise _refuse(allowed) from None
    return WrapValidator(wrap)


def _key(prefix: str, loc: tuple | list) -> str:
    """`fashion_mnist.train` + ('epochs',) -> `fashion_mnist.train.epochs`; `` + ('noise', 1) -> `noise[1]`."""
    key = prefix
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def _first_error(err: ValidationError) -> tuple[list, Any, str]:
    """The location, value and allowed text of pydantic's first error. A location element "sections" is left
    out (where :class:`Params` keeps the dataset sections), and `{section}` in the text becomes the key of the
    section the error is in."""
    first = err.errors()[0]
    ctx = first.get("ctx", {})
    loc = [part for part in first["loc"] if part != "sections"]
    allowed = ctx.get("allowed") or (MAPPING if first["type"] in ("model_type", "dict_type") else first["msg"])
    allowed = allowed.replace("{section}", _key("", loc))
    return loc + ([ctx["key"]] if "key" in ctx else []), ctx.get("value", first["input"]), allowed


def _validate(model: type[BaseModel], value: Any, prefix: str) -> Any:
    """`model` checked from `value`; its first error as one ConfigError line, keys named under `prefix`.

    A ConfigError raised inside a validator (the checks across sections) comes through unchanged."""
    try:
        return model.model_validate(value)
    except ValidationError as err:
        error = err.errors()[0].get("ctx", {}).get("error")
        if isinstance(error, ConfigError):
            raise error from None
        loc, value, allowed = _first_error(err)
        raise not_allowed(_key(prefix, loc), value, allowed) from None


# -- Values and lists of values --------------------------------------------------------------------------------------

Number = StrictInt | Annotated[float, Field(strict=True, allow_inf_nan=False)]  # not a bool, not inf or nan


def _choice(choices: tuple[str, ...]) -> Any:
    """One of `choices` (the names the code that reads the setting knows)."""
    return Annotated[Literal[choices], _allowing("one of " + ", ".join(choices))]


def _positive(kind: str = "integer") -> Any:
    base = StrictInt if kind == "integer" else Number
    return Annotated[base, Field(gt=0), _allowing(f"a positive {kind}")]


def _listed(allowed: str, as_list: Callable[[Any], Any], index_from: float = 1) -> WrapValidator:
    """A list whose bad item is named with the item as value, as `key[i]` in a list of at least `index_from`
    items, else as `key`; any other error reads `allowed`. `as_list` makes a list of a single value."""
    def wrap(value: Any, handler: Callable[[Any], Any]) -> Any:
        items = as_list(value)
        try:
            return handler(items)
        except ValidationError as err:
            first = err.errors()[0]
            if first["type"] == "not_allowed" or not first["loc"]:
                raise _refuse(first.get("ctx", {}).get("allowed", allowed)) from None
            i = first["loc"][0]
            if len(items) >= index_from:
                raise _refuse(allowed, key=i, value=items[i]) from None
            raise _refuse(allowed, value=items[i]) from None
    return WrapValidator(wrap)


def _distinct(allowed: str) -> AfterValidator:
    """A non-empty list without duplicates (a duplicate level or seed would run the same cells twice)."""
    def check(values: list) -> list:
        if not values:
            raise _refuse(allowed)
        if len(set(values)) != len(values):
            raise _refuse(f"{allowed} (duplicates found)")
        return values
    return AfterValidator(check)


def _no_duplicates(names: list) -> list:
    if len(set(names)) != len(names):
        raise ValueError("duplicate names")
    return names


def _grid(key: str, upper_inclusive: bool) -> Any:
    """A grid of levels in [0, 1) (noise) or [0, 1] (thresholds); a single number is a one-level grid (what
    `dvc exp run -S noise=0.3` writes)."""
    interval = "[0, 1]" if upper_inclusive else "[0, 1)"
    allowed = f"a number or a non-empty list of distinct numbers in {interval}, e.g. {key}: [0.0, 0.5]"
    level = Annotated[Number, Field(ge=0, le=1) if upper_inclusive else Field(ge=0, lt=1)]
    return Annotated[list[level], _distinct(allowed),
                     _listed(allowed, lambda v: [v] if _is_number(v) else v)]


def _names(item: Any, what: str) -> Any:
    """A list of distinct names (or non-negative integers); a single value is a one-element list."""
    allowed = f"a value or a non-empty list of distinct {what}"
    return Annotated[list[item], _distinct(allowed),
                     _listed(allowed, lambda v: v if isinstance(v, list) else [v], index_from=2)]


NoiseGrid = _grid("noise", upper_inclusive=False)
ThresholdGrid = _grid("thresholds", upper_inclusive=True)
NoiseKinds = _names(Literal[KINDS], ", ".join(KINDS))
RegimeNames = _names(Annotated[StrictStr, Field(min_length=1)], "names")
Seeds = _names(Annotated[StrictInt, Field(ge=0)], "non-negative integers")
# No strategies (null or []) is the baseline and the threshold grid alone; a bad one is named without an index.
Strategies = Annotated[list[Literal[STRATEGIES]],
                       _listed("a list (possibly empty) of " + ", ".join(STRATEGIES),
                               lambda v: [] if not v else v if isinstance(v, list) else [v], index_from=math.inf)]
PositiveInt = _positive()
PositiveNumber = _positive("number")
Size = PositiveInt | None  # a subsample size; null: all of it
FilterBy, RelabelWith, Source = _choice(FILTER_BY), _choice(RELABEL_WITH), _choice(SOURCES)
Model, Device, Precision = _choice(MODELS), _choice(DEVICES), _choice(PRECISIONS)


# -- The sections ---------------------------------------------------------------------------------------------------

class _Section(BaseModel):
    """A mapping of settings: an unknown key (a typo, a setting that does not exist) is refused by name, and a
    missing one is checked as null."""

    model_config = ConfigDict(frozen=True, validate_default=True)
    keys_allowed: ClassVar[str] = ""

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        return tuple(cls.model_fields)

    @model_validator(mode="before")
    @classmethod
    def _known_keys_only(cls, values: Any) -> Any:
        if isinstance(values, dict):
            for key, value in values.items():
                if key not in cls.known_keys():
                    raise _refuse(cls.keys_allowed or "a key of this section: " + ", ".join(cls.known_keys()),
                                  key=key, value=value)
        return values


class Cleanlab(_Section):
    """How cleanlab finds the label issues and suggests labels."""

    folds: Annotated[StrictInt, Field(ge=2), _allowing("an integer >= 2")] = None
    filter_by: FilterBy = None
    relabel_with: RelabelWith = None


class Augment(BaseModel):
    """Each training image's random rotation (degrees), shift and scale (shares of the side); all three given."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    degrees: Annotated[Number, Field(ge=0), _allowing("a number >= 0")]
    translate: Annotated[Number, Field(ge=0, lt=1), _allowing("a number >= 0 and < 1")]
    scale: Annotated[Number, Field(ge=0, lt=1), _allowing("a number >= 0 and < 1")]


class Train(_Section):
    """A training section: a dataset's `train`, or it with a regime's overrides."""

    model: Model = None
    width: PositiveInt = None
    epochs: PositiveInt = None
    batch_size: PositiveInt = None
    lr: PositiveNumber = None
    device: Device = None
    precision: Precision = None
    augment: Annotated[Augment, _allowing("null, or a mapping with degrees, translate and scale")] | None = None


class Regime(_Section):
    """A training regime: settings of the train section to override (checked merged with it), plus the size of
    the stratified subsample it trains on."""

    model_config = ConfigDict(extra="allow")
    keys_allowed: ClassVar[str] = "a key of the train section, or train_size"
    train_size: Size = None

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        return ("train_size", *Train.model_fields)


class Data(_Section):
    """Where a dataset's images come from (read by the download stage). An image_folder dataset needs its
    folder, its training folders, a test share and an image size; a `url` comes with the `manifest` its files
    are checked against."""

    source: Source = None
    train_subsample: Size = None
    test_subsample: Size = None
    path: Annotated[StrictStr, _allowing("a folder path or null")] | None = None
    train_dirs: Annotated[list[Annotated[StrictStr, Field(min_length=1)]], Field(min_length=1),
                          _allowing("a non-empty list of folder names under data.path")] | None = None
    test_dir: Annotated[StrictStr, _allowing("a folder name under data.path, or null")] | None = None
    test_share: Annotated[Number, Field(gt=0, lt=1), _allowing("a number in (0, 1)")] | None = None
    image_size: Size = None
    url: Annotated[StrictStr, Field(pattern="://"),
                   _allowing("null, or the URL of a zip or tar archive of the class folders")] | None = None
    manifest: Annotated[StrictStr, Field(min_length=1),
                        _allowing("null, or the path of a manifest file in the repository")] | None = None

    @model_validator(mode="after")
    def _image_folder_settings(self) -> Data:
        if self.source == "image_folder":
            required = {"path": "the folder of an image_folder dataset (one sub-folder per class)",
                        "train_dirs": "a non-empty list of folder names under data.path",
                        "test_share": "a number in (0, 1)", "image_size": "a positive integer"}
            for key, allowed in required.items():
                if not getattr(self, key):
                    raise _refuse(allowed, key=key, value=getattr(self, key))
        if self.url is not None and self.manifest is None:
            raise _refuse("a manifest file to check {section}.url's files against", key="manifest", value=None)
        return self


REGIMES = "a mapping from regime name to settings that override train (or null)"
OVERRIDES = "null, or a mapping of train settings to override, plus an optional train_size"


class Dataset(_Section):
    """A dataset's section: `data` (read by download), `train` (read by every stage that fits a model), its
    training regimes besides `default` (null: not run), and each class's confusable class (class_conditional
    noise)."""

    data: Data = None
    train: Train = None
    regimes: Annotated[dict[StrictStr, Annotated[Regime, _allowing(OVERRIDES)] | None],
                       _allowing(REGIMES)] | None = None
    confusable: Annotated[dict[StrictStr, StrictStr],
                          _allowing("a mapping from every class name to another class name")] | None = None

    @field_validator("regimes", mode="before")
    @classmethod
    def _default_is_taken(cls, regimes: Any) -> Any:
        if isinstance(regimes, dict) and "default" in regimes:
            raise _refuse("another name: `default` is the dataset's own train section", key="default",
                          value=regimes["default"])
        return regimes

    @model_validator(mode="after")
    def _regimes_train(self) -> Dataset:
        """Each regime's train section (this one with its overrides) is checked, named under the regime."""
        for name, regime in (self.regimes or {}).items():
            if regime is not None:
                try:
                    Train.model_validate({**self.train.model_dump(), **regime.model_extra})
                except ValidationError as err:
                    loc, value, allowed = _first_error(err)
                    raise _refuse(allowed, key=_key(f"regimes.{name}", loc), value=value) from None
        return self


class RunGrid(_Section):
    """The runs of a level: noise kinds x regimes x seeds, each a list (a single value is a list of one)."""

    noise_kinds: NoiseKinds = None
    regimes: RegimeNames = None
    seeds: Seeds = None


STUDY = "null, or a mapping with noise, noise_kinds, regimes, seeds and thresholds"


class Study(RunGrid):
    """The study: its runs at its levels (those also in `noise` run it), with its threshold grid."""

    noise: NoiseGrid = None
    thresholds: ThresholdGrid = None


def _check_against(grid: RunGrid, dataset_sections: Mapping[str, Mapping], prefix: str) -> None:
    """Every regime of `grid` is `default` or named under every dataset's `regimes` (null there: that dataset
    does not run it); class_conditional noise needs every dataset's confusable classes."""
    for regime in grid.regimes:
        for name, section in dataset_sections.items():
            if regime != "default" and regime not in (section.get("regimes") or {}):
                raise not_allowed(f"{prefix}.regimes", regime, f"default, or a regime named under {name}.regimes "
                                  f"({', '.join(section.get('regimes') or {}) or 'none'})")
    for kind in uses_confusable(grid.noise_kinds)[:1]:
        for name, section in dataset_sections.items():
            if not section.get("confusable"):
                raise not_allowed(f"{name}.confusable", section.get("confusable"), "a mapping from every class "
                                  f"name to a confusable class ({kind} noise is in {prefix})")


class Params(BaseModel):
    """params.yaml: the grids, the seed, cleanlab's settings, the strategies, and the section of every dataset
    in `datasets` (kept in `sections`); other top-level keys (datasets not run) are not checked."""

    model_config = ConfigDict(frozen=True, validate_default=True, extra="ignore")
    datasets: Annotated[list[Annotated[StrictStr, Field(min_length=1)]], Field(min_length=1),
                        AfterValidator(_no_duplicates),
                        _allowing("a non-empty list of distinct dataset names, each with its own section")] = None
    noise: NoiseGrid = None
    thresholds: ThresholdGrid = None
    seed: Annotated[StrictInt, Field(ge=0), _allowing("a non-negative integer")] = None
    cleanlab: Cleanlab = None
    strategies: Strategies = None
    confident_relabel_min: Annotated[Number, Field(gt=0, le=1), _allowing("a probability in (0, 1]")] = None
    sections: dict[str, Dataset] = {}
    runs: RunGrid = None
    study: Annotated[Study, _allowing(STUDY)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _gather_sections(cls, values: Any) -> Any:
        names = values.get("datasets") if isinstance(values, dict) else None
        if isinstance(names, list) and all(isinstance(name, str) for name in names):
            return {**values, "sections": {name: values.get(name) for name in names}}
        return values

    @model_validator(mode="after")
    def _runs_in_every_dataset(self) -> Params:
        sections = {name: section.model_dump() for name, section in self.sections.items()}
        _check_against(self.runs, sections, "runs")
        if self.study is not None:
            _check_against(self.study, sections, "study")
        return self


# -- What the stages call ---------------------------------------------------------------------------------------

def check_train(train: dict, prefix: str) -> None:
    """Check a training section (a dataset's `train`, or it with a regime's overrides), naming keys under
    `prefix`."""
    _validate(Train, train, prefix)


def check_runs(runs: dict, dataset_sections: dict[str, dict], prefix: str = "runs.") -> dict:
    """Check the `runs` grids (noise kinds, regimes, seeds), each as a list; every regime must be `default`
    or named under every dataset's `regimes` (null there: that dataset does not run it)."""
    grid = _validate(RunGrid, runs, prefix.rstrip("."))
    _check_against(grid, dataset_sections, prefix.rstrip("."))
    return grid.model_dump()


def _read(path: Path) -> dict:
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run the stages from the repository root") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must be a mapping of settings, got {params!r}")
    return params


def load_model(path: str | Path = "params.yaml") -> Params:
    """params.yaml checked, as typed settings (:class:`Params`)."""
    return _validate(Params, _read(Path(path)), "")


def load_params(dataset: str | None = None, path: str | Path = "params.yaml") -> dict:
    """Load and check params.yaml: the grids, the seed, cleanlab's settings and every dataset's section. The
    settings as in the file, with the grids, runs and strategies as lists and the study as a dict of lists (or
    None); a `dataset` not in `datasets` is refused."""
    params = _read(Path(path))
    model = _validate(Params, params, "")
    if dataset is not None and dataset not in model.datasets:
        raise ConfigError(f"dataset {dataset!r} is not in params.yaml datasets {model.datasets}")
    params.update(noise=model.noise, thresholds=model.thresholds, strategies=model.strategies,
                  runs=model.runs.model_dump(), study=None if model.study is None else model.study.model_dump())
    return params


def check_level(value: float, name: str, upper_inclusive: bool) -> float:
    """Check a grid value that reached a stage through its command line."""
    if not _is_number(value) or value < 0 or value > 1 or (value == 1 and not upper_inclusive):
        interval = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ConfigError(f"--{name} = {value!r} is not allowed: a number in {interval}")
    return value
