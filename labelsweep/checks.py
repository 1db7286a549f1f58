"""The checked values of params.yaml (pydantic annotations), and the one formatter of a refusal.

Each annotation carries the text of what is allowed there; :func:`one_line` turns pydantic's first error into
``params.yaml: <key> = <value> is not allowed: <what is allowed>`` (:func:`labelsweep.errors.not_allowed`). The
sections built from these values are in :mod:`labelsweep.config`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    WrapValidator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from labelsweep import strategies
from labelsweep.errors import ConfigError, not_allowed
from labelsweep.noise import NOISE_KINDS

MAPPING = "a mapping of settings (see params.yaml in the repository)"  # a section that is not a mapping


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def refuse(allowed: str, **where: Any) -> PydanticCustomError:
    """The error a validator raises: `allowed` is the message's last part. `key` (a name or a list index) is
    appended to the error's location and `value` replaces the value pydantic saw, where the bad part is
    inside that value (a duplicate in a list, the one item of a list)."""
    return PydanticCustomError("not_allowed", "{allowed}", {"allowed": allowed, **where})


def allowing(allowed: str) -> WrapValidator:
    """Any error of pydantic's own about the annotated value (wrong type, out of range, missing or unknown key)
    reads `allowed` and names the value itself; an error already phrased by an inner value is kept."""
    def wrap(value: Any, handler: Callable[[Any], Any]) -> Any:
        try:
            return handler(value)
        except ValidationError as err:
            if err.errors()[0]["type"] == "not_allowed":
                raise
            raise refuse(allowed) from None
    return WrapValidator(wrap)


def key_name(prefix: str, loc: tuple | list) -> str:
    """`fashion_mnist.train` + ('epochs',) -> `fashion_mnist.train.epochs`; `` + ('noise', 1) -> `noise[1]`."""
    key = prefix
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key


def first_error(err: ValidationError) -> tuple[list, Any, str]:
    """The location, value and allowed text of pydantic's first error. A location element "sections" is left
    out (where :class:`labelsweep.config.Params` keeps the dataset sections), and `{section}` in the text
    becomes the key of the section the error is in."""
    first = err.errors()[0]
    ctx = first.get("ctx", {})
    loc = [part for part in first["loc"] if part != "sections"]
    allowed = ctx.get("allowed") or (MAPPING if first["type"] in ("model_type", "dict_type") else first["msg"])
    allowed = allowed.replace("{section}", key_name("", loc))
    return loc + ([ctx["key"]] if "key" in ctx else []), ctx.get("value", first["input"]), allowed


def one_line(err: ValidationError, prefix: str = "") -> ConfigError:
    """pydantic's first error as the one line a person reads, keys named under `prefix`; a ConfigError raised
    inside a validator (the checks across sections) comes through unchanged."""
    error = err.errors()[0].get("ctx", {}).get("error")
    if isinstance(error, ConfigError):
        return error
    loc, value, allowed = first_error(err)
    return not_allowed(key_name(prefix, loc), value, allowed)


class Section(BaseModel):
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
                    raise refuse(cls.keys_allowed or "a key of this section: " + ", ".join(cls.known_keys()),
                                  key=key, value=value)
        return values


# -- Values and lists of values --------------------------------------------------------------------------------------

Number = StrictInt | Annotated[float, Field(strict=True, allow_inf_nan=False)]  # not a bool, not inf or nan


def choice(choices: tuple[str, ...]) -> Any:
    """One of `choices` (the names the code that reads the setting knows)."""
    return Annotated[Literal[choices], allowing("one of " + ", ".join(choices))]


def positive(kind: str = "integer") -> Any:
    base = StrictInt if kind == "integer" else Number
    return Annotated[base, Field(gt=0), allowing(f"a positive {kind}")]


def listed(allowed: str, as_list: Callable[[Any], Any], index_from: float = 1) -> WrapValidator:
    """A list whose bad item is named with the item as value, as `key[i]` in a list of at least `index_from`
    items, else as `key`; any other error reads `allowed`. `as_list` makes a list of a single value."""
    def wrap(value: Any, handler: Callable[[Any], Any]) -> Any:
        items = as_list(value)
        try:
            return handler(items)
        except ValidationError as err:
            first = err.errors()[0]
            if first["type"] == "not_allowed" or not first["loc"]:
                raise refuse(first.get("ctx", {}).get("allowed", allowed)) from None
            i = first["loc"][0]
            if len(items) >= index_from:
                raise refuse(allowed, key=i, value=items[i]) from None
            raise refuse(allowed, value=items[i]) from None
    return WrapValidator(wrap)


def distinct(allowed: str) -> AfterValidator:
    """A non-empty list without duplicates (a duplicate level or seed would run the same cells twice)."""
    def check(values: list) -> list:
        if not values:
            raise refuse(allowed)
        if len(set(values)) != len(values):
            raise refuse(f"{allowed} (duplicates found)")
        return values
    return AfterValidator(check)


def no_duplicates(names: list) -> list:
    if len(set(names)) != len(names):
        raise ValueError("duplicate names")
    return names


def grid(key: str, upper_inclusive: bool) -> Any:
    """A grid of levels in [0, 1) (noise) or [0, 1] (thresholds); a single number is a one-level grid (what
    `dvc exp run -S noise=0.3` writes)."""
    interval = "[0, 1]" if upper_inclusive else "[0, 1)"
    allowed = f"a number or a non-empty list of distinct numbers in {interval}, e.g. {key}: [0.0, 0.5]"
    level = Annotated[Number, Field(ge=0, le=1) if upper_inclusive else Field(ge=0, lt=1)]
    return Annotated[list[level], distinct(allowed), listed(allowed, lambda v: [v] if is_number(v) else v)]


def names(item: Any, what: str) -> Any:
    """A list of distinct names (or non-negative integers); a single value is a one-element list."""
    allowed = f"a value or a non-empty list of distinct {what}"
    return Annotated[list[item], distinct(allowed),
                     listed(allowed, lambda v: v if isinstance(v, list) else [v], index_from=2)]


def check_level(value: float, name: str, upper_inclusive: bool) -> float:
    """Check a grid value that reached a stage through its command line."""
    if not is_number(value) or value < 0 or value > 1 or (value == 1 and not upper_inclusive):
        interval = "[0, 1]" if upper_inclusive else "[0, 1)"
        raise ConfigError(f"--{name} = {value!r} is not allowed: a number in {interval}")
    return value


# -- The values of params.yaml ---------------------------------------------------------------------------------------

FILTER_BY = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given",
             "low_normalized_margin", "low_self_confidence")
RELABEL_WITH = ("pruned_refit", "crossval")
SOURCES = ("fashion_mnist", "image_folder")
# The registries (labelsweep.noise, labelsweep.strategies; plugins included) are complete once they are imported.
KINDS = tuple(NOISE_KINDS)
# The cells trained at every level besides the baseline and the prune/relabel threshold grid (README, "Strategies").
STRATEGIES = strategies.optional()
MODELS = ("mlp", "cnn")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")  # labelsweep.training.resolve_precision

NoiseGrid = grid("noise", upper_inclusive=False)
ThresholdGrid = grid("thresholds", upper_inclusive=True)
NoiseKinds = names(Literal[KINDS], ", ".join(KINDS))
RegimeNames = names(Annotated[StrictStr, Field(min_length=1)], "names")
Seeds = names(Annotated[StrictInt, Field(ge=0)], "non-negative integers")
# No strategies (null or []) is the baseline and the threshold grid alone; a bad one is named without an index.
Strategies = Annotated[list[Literal[STRATEGIES]],
                       listed("a list (possibly empty) of " + ", ".join(STRATEGIES),
                              lambda v: [] if not v else v if isinstance(v, list) else [v], index_from=float("inf"))]
PositiveInt, PositiveNumber = positive(), positive("number")
Size = PositiveInt | None  # a subsample size; null: all of it
FilterBy, RelabelWith, Source = choice(FILTER_BY), choice(RELABEL_WITH), choice(SOURCES)
Model, Device, Precision = choice(MODELS), choice(DEVICES), choice(PRECISIONS)
