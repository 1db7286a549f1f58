"""`dvc plots show` offline, in headless Chromium: every figure once, none blank, no JavaScript error.

For four sweeps (the default grid; the seed's 11 x 11 grid; one noise level, as `dvc exp run -S noise=0.3`
writes it; a dataset of the user's own with a share grid without 0 and 1), the plot stage runs on made-up inputs
in a fresh git + DVC copy of the project, `dvc plots show` writes its page, and labelsweep/tooling/plots_page.py checks
it and saves a screenshot (<pytest tmp dir>/<case>.png). Skipped only where Chromium is not installed:
apt-get install -y chromium.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labelsweep.tooling import plots_page

from .conftest import dvc, make_project, run, run_stage
from .fake_sweep import CLASSES, write_sweep

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(plots_page.browser() is None,
                                 reason="Chromium is not installed (apt-get install -y chromium)")]

LEVELS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
SHARES = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
CASES = {
    "default": (["fashion_mnist", "roman"], [0.2, 0.4], [0.0, 0.5, 1.0]),
    "seed_grid": (["fashion_mnist", "roman"], LEVELS, SHARES),
    "one_level": (["fashion_mnist", "roman"], 0.3, SHARES),
    "custom": (["roman", "my_photos"], [0.0, 0.25], [0.2, 0.5, 0.8]),
}
FIGURES = ["accuracy_vs_noise.csv", "accuracy_by_share.csv", "differences.csv", "flagged_vs_injected.csv",
           "detection_by_filter.csv", "gallery.png", "sweep_accuracy.csv", "sweep_gain.csv", "sweep_flagged.csv",
           "label_review.png", "noise_matrices.png"]



def render(project: Path, params: dict, datasets: list[str], noise, thresholds) -> Path:
    """A copy of the project with a made-up sweep of `datasets`, plotted; the page `dvc plots show` wrote."""
    params = {**params, "datasets": datasets, "noise": noise, "thresholds": thresholds}
    for name in datasets:
        if name not in params:  # set up like the `custom` section
            params[name] = {"data": {**params["custom"]["data"], "path": "/somewhere"},
                            "train": params["custom"]["train"], "regimes": params["custom"]["regimes"],
                            "confusable": {c: CLASSES[(i + 1) % len(CLASSES)] for i, c in enumerate(CLASSES)}}
    make_project(project, params)  # with the templates (.dvc/plots) and plots.html_template
    run([sys.executable, "-m", "labelsweep.tooling.plots_page", "install",
         str(project / ".venv/share/vega/vega-bundle.js")], project)
    for i, name in enumerate(datasets):
        write_sweep(project, name, noise if isinstance(noise, list) else [noise],
                    thresholds if isinstance(thresholds, list) else [thresholds], seed=i)
        result = run_stage("plot", project, "--dataset", name, "--raw", f"data/{name}/raw", "--summary",
                           f"data/{name}/summary.json", "--noisy", f"data/{name}/noisy", "--issues",
                           f"data/{name}/issues", "--results",
                           f"data/{name}", "--metrics",
                           f"metrics/{name}.json", "--out", f"plots/{name}")
        assert result.returncode == 0, result.stderr
    dvc(project, "plots", "show")
    return project / "dvc_plots" / "index.html"


def check(page: Path, expect: list[str], screenshot: Path | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "labelsweep.tooling.plots_page", "check", str(page), "--expect", *expect]
    return subprocess.run(cmd + (["--screenshot", str(screenshot)] if screenshot else []),
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("case", CASES)
def test_every_figure_is_drawn_once(case, params, tmp_path):
    datasets, noise, thresholds = CASES[case]
    page = render(tmp_path / case, params, datasets, noise, thresholds)
    expect = [f"plots/{name}/{figure}" for name in datasets for figure in FIGURES]
    result = check(page, expect, tmp_path / f"{case}.png")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / f"{case}.png").read_bytes()[:4] == b"\x89PNG"


def test_the_check_fails_without_the_javascript_or_with_a_figure_missing(params, tmp_path):
    page = render(tmp_path / "project", params, ["roman"], [0.0, 0.5], [0.0, 1.0])
    (tmp_path / "project/.venv/share/vega/vega-bundle.js").unlink()
    result = check(page, [f"plots/roman/{figure}" for figure in FIGURES] + ["plots/roman/extra.csv"])
    assert result.returncode == 1
    assert "Vega JavaScript not found" in result.stderr
    assert "plots_roman_accuracy_vs_noise_csv: blank, no chart drawn" in result.stderr
    assert "plots/roman/extra.csv: shown 0 times, expected once" in result.stderr
