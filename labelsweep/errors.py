"""The errors a person must fix, each reported as one line by the stage runner (:func:`labelsweep.stage.run`).

In a module of their own so that the code which raises them (settings, data loading, training) needs neither
the settings checks nor the stage runner.
"""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A setting in params.yaml (or a stage argument) is not allowed."""


class DataError(RuntimeError):
    """An input file or folder is missing, corrupt or unusable."""


def not_allowed(key: str, value: Any, allowed: str) -> ConfigError:
    """The one-line error for a setting of params.yaml: what it is, its value, and what is allowed instead."""
    return ConfigError(f"params.yaml: {key} = {value!r} is not allowed: {allowed}")
