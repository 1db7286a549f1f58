"""params.yaml as typed settings: :func:`load_params` returns :class:`Params`, and the stages read its attributes.

Every stage calls :func:`load_params` first, so a bad setting stops the pipeline with one message naming the key,
its value and what is allowed -- before any data is read or any output written. The schema is one pydantic model
per section; the values and the formatter of pydantic's errors are in :mod:`labelsweep.checks`.

A *regime* is a training setting: ``default`` is a dataset's ``train`` section; any other is an entry of
``<dataset>.regimes`` in params.yaml (overrides of ``train``, plus an optional ``train_size``), checked by
:class:`Regime` and resolved by :meth:`Dataset.regime`, the one place the stages get a regime's settings from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from labelsweep import checks
from labelsweep.errors import ConfigError, not_allowed
from labelsweep.grids import REAL_ERRORS, STUDY, RealErrors, RunGrid, Study
from labelsweep.noise import uses_confusable

DEFAULT_REGIME = "default"  # a dataset's own train section


# -- The sections ---------------------------------------------------------------------------------------------------

class Cleanlab(checks.Section):
    """How cleanlab finds the label issues and suggests labels."""

    folds: Annotated[StrictInt, Field(ge=2), checks.allowing("an integer >= 2")] = None
    filter_by: checks.FilterBy = None
    relabel_with: checks.RelabelWith = None


class Augment(BaseModel):
    """Each training image's random rotation (degrees), shift and scale (shares of the side); all three given."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    degrees: Annotated[checks.Number, Field(ge=0), checks.allowing("a number >= 0")]
    translate: Annotated[checks.Number, Field(ge=0, lt=1), checks.allowing("a number >= 0 and < 1")]
    scale: Annotated[checks.Number, Field(ge=0, lt=1), checks.allowing("a number >= 0 and < 1")]


class Train(checks.Section):
    """A training section: a dataset's `train`, or it with a regime's overrides."""

    model: checks.Model = None
    width: checks.PositiveInt = None
    epochs: checks.PositiveInt = None
    batch_size: checks.PositiveInt = None
    lr: checks.PositiveNumber = None
    device: checks.Device = None
    precision: checks.Precision = None
    augment: Annotated[Augment, checks.allowing("null, or a mapping with degrees, translate and scale")] | None = None


class Regime(checks.Section):
    """A training regime: settings of the train section to override (checked merged with it), plus the size of
    the stratified subsample it trains on."""

    model_config = ConfigDict(extra="allow")
    keys_allowed: ClassVar[str] = "a key of the train section, or train_size"
    train_size: checks.Size = None

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        return ("train_size", *Train.model_fields)


class Data(checks.Section):
    """Where a dataset's images come from (read by the download stage). An image_folder dataset needs its
    folder, its training folders, a test share and an image size; a `url` comes with the `manifest` its files
    are checked against."""

    source: checks.Source = None
    train_subsample: checks.Size = None
    test_subsample: checks.Size = None
    path: Annotated[StrictStr, checks.allowing("a folder path or null")] | None = None
    train_dirs: Annotated[list[Annotated[StrictStr, Field(min_length=1)]], Field(min_length=1),
                          checks.allowing("a non-empty list of folder names under data.path")] | None = None
    test_dir: Annotated[StrictStr, checks.allowing("a folder name under data.path, or null")] | None = None
    test_share: Annotated[checks.Number, Field(gt=0, lt=1), checks.allowing("a number in (0, 1)")] | None = None
    image_size: checks.Size = None
    url: Annotated[StrictStr, Field(pattern="://"),
                   checks.allowing("null, or the URL of a zip or tar archive of the class folders")] | None = None
    manifest: Annotated[StrictStr, Field(min_length=1),
                        checks.allowing("null, or the path of a manifest file in the repository")] | None = None

    @model_validator(mode="after")
    def _image_folder_settings(self) -> Data:
        if self.source == "image_folder":
            required = {"path": "the folder of an image_folder dataset (one sub-folder per class)",
                        "train_dirs": "a non-empty list of folder names under data.path",
                        "test_share": "a number in (0, 1)", "image_size": "a positive integer"}
            for key, allowed in required.items():
                if not getattr(self, key):
                    raise checks.refuse(allowed, key=key, value=getattr(self, key))
        if self.url is not None and self.manifest is None:
            raise checks.refuse("a manifest file to check {section}.url's files against", key="manifest", value=None)
        return self


class EarlyStopping(checks.Section):
    """The early_stopping strategy's holdout: the share of a run's noisy training labels held out."""

    holdout: Annotated[checks.Number, Field(gt=0, lt=1), checks.allowing("a share in (0, 1), e.g. 0.1")] = None


SPARSITY = ("a share of the off-diagonal noise rates set to 0, in [0, 1) (the Confident Learning paper: 0, 0.2, 0.4, "
            "0.6)")


class NoiseMatrix(checks.Section):
    """The matrix noise kinds' settings: the share of the noise matrix's off-diagonal rates set to 0, for `matrix`
    and for `sparse_matrix` (labelsweep.noise_matrix.SETTING)."""

    frac_zero_noise_rates: Annotated[checks.Number, Field(ge=0, lt=1), checks.allowing(SPARSITY)] = None
    sparse_frac_zero_noise_rates: Annotated[checks.Number, Field(ge=0, lt=1), checks.allowing(SPARSITY)] = None


REGIMES = "a mapping from regime name to settings that override train (or null)"
OVERRIDES = "null, or a mapping of train settings to override, plus an optional train_size"


class Dataset(checks.Section):
    """A dataset's section: `data` (read by download), `train` (read by every stage that fits a model), its
    training regimes besides `default` (null: not run), and each class's confusable class (class_conditional
    noise)."""

    data: Data = None
    train: Train = None
    regimes: Annotated[dict[StrictStr, Annotated[Regime, checks.allowing(OVERRIDES)] | None],
                       checks.allowing(REGIMES)] | None = None
    confusable: Annotated[dict[StrictStr, StrictStr],
                          checks.allowing("a mapping from every class name to another class name")] | None = None

    @field_validator("regimes", mode="before")
    @classmethod
    def _default_is_taken(cls, regimes: Any) -> Any:
        if isinstance(regimes, dict) and "default" in regimes:
            raise checks.refuse("another name: `default` is the dataset's own train section", key="default",
                          value=regimes["default"])
        return regimes

    @model_validator(mode="after")
    def _regimes_train(self) -> Dataset:
        """Each regime's train section (this one with its overrides) is checked, named under the regime."""
        for name, regime in (self.regimes or {}).items():
            if regime is not None:
                try:
                    self.regime(name)
                except ValidationError as err:
                    loc, value, allowed = checks.first_error(err)
                    raise checks.refuse(allowed, key=checks.key_name(f"regimes.{name}", loc), value=value) from None
        return self

    def runs(self, regime: str) -> bool:
        """Whether this dataset runs `regime`: `default`, or one named under its `regimes` and not null there."""
        return regime == DEFAULT_REGIME or (self.regimes or {}).get(regime) is not None

    def regime(self, name: str) -> tuple[Train, int | None]:
        """``(train, train_size)``: the training settings under regime `name` (this dataset's `train` with the
        regime's overrides) and the size of its stratified subsample (None: the whole training set)."""
        if name == DEFAULT_REGIME:
            return self.train, None
        regime = self.regimes[name]
        return Train.model_validate({**self.train.model_dump(), **regime.model_extra}), regime.train_size


def _check_against(grid: RunGrid, sections: dict[str, Dataset], prefix: str) -> None:
    """Every regime of `grid` is `default` or named under every dataset's `regimes` (null there: that dataset
    does not run it); class_conditional noise needs every dataset's confusable classes."""
    for key, regimes in (("regimes", grid.regimes), ("regime_seeds", grid.regime_seeds or {})):
        for regime in regimes:
            for name, section in sections.items():
                if regime != DEFAULT_REGIME and regime not in (section.regimes or {}):
                    raise not_allowed(f"{prefix}.{key}", regime, f"default, or a regime named under {name}.regimes "
                                      f"({', '.join(section.regimes or {}) or 'none'})")
    for kind in uses_confusable(grid.noise_kinds)[:1]:
        for name, section in sections.items():
            if not section.confusable:
                raise not_allowed(f"{name}.confusable", section.confusable, "a mapping from every class "
                                  f"name to a confusable class ({kind} noise is in {prefix})")


class Params(BaseModel):
    """params.yaml: the grids, the seed, cleanlab's settings, the strategies, and the section of every dataset
    in `datasets` (kept in `sections`); other top-level keys (datasets not run) are not checked."""

    model_config = ConfigDict(frozen=True, validate_default=True, extra="ignore")
    datasets: Annotated[list[Annotated[StrictStr, Field(min_length=1)]], Field(min_length=1),
                        AfterValidator(checks.no_duplicates),
                        checks.allowing("a non-empty list of distinct dataset names, each with its own section")] = None
    noise: checks.NoiseGrid = None
    thresholds: checks.ThresholdGrid = None
    seed: Annotated[StrictInt, Field(ge=0), checks.allowing("a non-negative integer")] = None
    cleanlab: Cleanlab = None
    strategies: checks.Strategies = None
    confident_relabel_min: Annotated[checks.Number, Field(gt=0, le=1),
                                     checks.allowing("a probability in (0, 1]")] = None
    early_stopping: EarlyStopping = None
    noise_matrix: NoiseMatrix = None
    sections: dict[str, Dataset] = {}
    runs: RunGrid = None
    study: Annotated[Study, checks.allowing(STUDY)] | None = None
    real_errors: Annotated[RealErrors, checks.allowing(REAL_ERRORS)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _gather_sections(cls, values: Any) -> Any:
        listed_names = values.get("datasets") if isinstance(values, dict) else None
        if isinstance(listed_names, list) and all(isinstance(name, str) for name in listed_names):
            return {**values, "sections": {name: values.get(name) for name in listed_names}}
        return values

    @model_validator(mode="after")
    def _runs_in_every_dataset(self) -> Params:
        _check_against(self.runs, self.sections, "runs")
        if self.study is not None:
            _check_against(self.study, self.sections, "study")
        if self.real_errors is not None:
            _check_against(self.real_errors, {name: section for name, section in self.sections.items()
                                              if name in self.real_errors.datasets}, "real_errors")
        return self

    def real_errors_at(self, noise_level: float, dataset: str) -> RealErrors | None:
        """The grid of the dataset's own labels where `dataset` runs it at `noise_level` (0 % only), else None."""
        grid = self.real_errors
        return grid if grid is not None and noise_level == 0 and dataset in grid.datasets else None

    def dataset(self, name: str) -> Dataset:
        """The section of dataset `name`; one of `datasets`, else refused."""
        if name not in self.sections:
            raise ConfigError(f"dataset {name!r} is not in params.yaml datasets {self.datasets}")
        return self.sections[name]


# -- What the stages call ---------------------------------------------------------------------------------------

def parse(settings: dict, prefix: str = "") -> Params:
    """`settings` (params.yaml as read) checked, as :class:`Params`; the first refusal as one ConfigError line."""
    try:
        return Params.model_validate(settings)
    except ValidationError as err:
        raise checks.one_line(err, prefix) from None


def load_params(dataset: str | None = None, path: str | Path = "params.yaml") -> Params:
    """params.yaml read and checked, as :class:`Params` (the grids, runs and strategies as lists, the study as
    :class:`Study` or None); a `dataset` not in `datasets` is refused."""
    path = Path(path)
    try:
        settings = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run the stages from the repository root") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from None
    if not isinstance(settings, dict):
        raise ConfigError(f"{path} must be a mapping of settings, got {settings!r}")
    params = parse(settings)
    if dataset is not None:
        params.dataset(dataset)
    return params
