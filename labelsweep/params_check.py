"""Unknown keys anywhere in params.yaml, refused by name with the closest key that exists.

The settings models (:mod:`labelsweep.config`) check the sections the stages read, but DVC runs a stage only when a
setting it lists changes: a misspelt key (`-S +cleanlab.filterby=x`, a top-level `threshold:`) reaches no stage,
and the run would end with the old results. The ``check_inputs`` stage depends on the whole file and calls
:func:`refuse_unknown_keys` on every run. The keys allowed are read from the models themselves, so this check
never lists a setting of its own.
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel

from labelsweep.config import Dataset, Params, Regime, Train
from labelsweep.errors import not_allowed

ANY_KEY = "*"  # in a schema: a mapping whose keys are names (regimes, classes), each holding the same schema


def _models_in(annotation: Any) -> dict | None:
    """The schema a field's annotation holds: a model's, `{ANY_KEY: ...}` for a mapping of names to models or
    values, or None for a value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return schema(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict:
        return {ANY_KEY: _models_in(args[1])}
    if origin in (typing.Annotated, typing.Union, types.UnionType):
        for arg in args[:1] if origin is typing.Annotated else args:
            found = _models_in(arg)
            if found is not None:
                return found
    return None


def schema(model: type[BaseModel]) -> dict:
    """Every key `model` allows, with the schema of what it holds (None: a value)."""
    fields = dict(model.model_fields)
    if model is Regime:  # a regime overrides settings of the train section besides its own train_size
        fields.update(Train.model_fields)
    return {key: _models_in(field.annotation) for key, field in fields.items()}


def _closest(key: str, allowed: list[str]) -> str:
    return (difflib.get_close_matches(key, allowed, n=1, cutoff=0) or allowed)[0]


def _check(values: dict, allowed: dict, prefix: str) -> None:
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        sub = allowed.get(key, allowed.get(ANY_KEY, ...)) if isinstance(key, str) else ...
        if sub is ...:
            keys = [k for k in allowed if k != ANY_KEY]
            closest = f"{prefix}.{_closest(str(key), keys)}" if prefix else _closest(str(key), keys)
            raise not_allowed(name, value, f"no such setting (the closest is {closest})")
        if sub is not None and isinstance(value, dict):
            _check(value, sub, name)


def refuse_unknown_keys(params: dict) -> None:
    """Raise ConfigError naming the first key of `params` (params.yaml as read) that no setting has, at any depth,
    and the closest key allowed there. A top-level mapping with a `data` key, or named in `datasets`, is a
    dataset's section (run or not); any other top-level key must be one of :class:`Params`."""
    top = {key: sub for key, sub in schema(Params).items() if key != "sections"}
    names = params.get("datasets") if isinstance(params.get("datasets"), list) else []
    sections = {key for key, value in params.items() if key not in top and isinstance(value, dict)
                and ("data" in value or key in names)}
    _check(params, {**top, **dict.fromkeys(sections, schema(Dataset))}, "")
