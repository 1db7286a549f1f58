"""A strategy added without editing the package: a plugin module named in LABELSWEEP_PLUGINS registers it, a tiny
grid runs end to end through DVC (every stage in a process of its own), and the strategy is in the results, the
tables and the figures' data under its name and its labels."""

from __future__ import annotations

import pandas as pd
import pytest

from .conftest import dvc, make_project, tiny_custom_params
from .test_pipeline import base_params, images  # noqa: F401 (images: the generated image folder fixture)

pytestmark = pytest.mark.slow

NAME, LABEL, HEADER = "toy_every_other", "control: toy, every other sample", "toy every other"
PLUGIN = f'''"""A toy control: prune every other training sample, whatever cleanlab says."""
import numpy as np

from labelsweep.labels import NO_LABEL
from labelsweep.strategies import CONTROL, Strategy, register

register(Strategy({NAME!r}, lambda e, share: np.where(np.arange(len(e.given)) % 2 == 0, e.given, NO_LABEL),
                  lambda share: {LABEL!r}, lambda share: {HEADER!r}, kind=CONTROL))
'''


def test_a_plugin_strategy_runs_through_dvc_into_results_tables_and_figures(tmp_path, images):  # noqa: F811
    plugin = tmp_path / "toy_plugin.py"
    plugin.write_text(PLUGIN)
    params = tiny_custom_params(base_params(), images)
    grid = {"noise_kinds": ["symmetric"], "regimes": ["default"], "seeds": [0]}
    params.update(runs=grid, study={"noise": [0.0, 0.2], **grid, "thresholds": [0.0, 1.0]},
                  strategies=["random_removal", NAME])
    project = make_project(tmp_path / "project", params)
    dvc(project, "repro", LABELSWEEP_PLUGINS=str(plugin))

    for level in ("0.0", "0.2"):
        accuracy = pd.read_csv(project / f"data/custom/accuracy/noise_{level}.csv")
        toy = accuracy[accuracy.strategy == NAME]
        assert len(toy) == 1 and toy.study.all()
        assert toy.train_samples.iloc[0] == (accuracy[accuracy.strategy == "baseline"].train_samples.iloc[0] + 1) // 2
    plots = project / "plots/custom"
    assert NAME in (plots / "results.csv").read_text()
    assert LABEL in set(pd.read_csv(plots / "accuracy_vs_noise.csv").strategy)
    assert (plots / "accuracy_vs_noise.png").stat().st_size > 0
    # Without the plugin, the name is refused in one line, like any unknown strategy.
    result = dvc(project, "repro", "--force", "inject_noise", check=False)
    assert f"strategies = '{NAME}' is not allowed" in result.stderr + result.stdout
