"""The plot stage on a made-up study: its tables hold what the per-level inputs give, for any grid.

Every expected number is recomputed here from the train_eval tables and detection records with plain pandas
and scipy (means, sample standard deviations and 95 % t-intervals over the seeds, differences taken within a
seed), not with the functions of labelsweep.analysis.summary that the stage uses.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from labelsweep.analysis import sweep, tables
from labelsweep.errors import DataError
from stages import plot

from .conftest import ROOT
from .fake_sweep import CLASSES, RUNS, write_sweep

FIGURES = ["accuracy_vs_noise.png", "gain_by_share.png", "differences.png", "flagged_vs_injected.png",
           "detection_by_filter.png", "gallery.png", "noise_matrices.png"]
CONDITION = ["noise_level", "noise_kind", "regime"]


def run_plot(project: Path, params: dict, dataset: str, monkeypatch: pytest.MonkeyPatch, **sweep) -> Path:
    """Write params.yaml and the dataset's fake inputs in `project`, run the stage there; its output folder."""
    params = copy.deepcopy(params)
    if dataset not in params:  # a dataset of the user's own, set up like `custom`
        params[dataset] = {**copy.deepcopy(params["custom"])}
        params[dataset]["data"]["path"] = "/somewhere"
        params[dataset]["confusable"] = {c: CLASSES[(i + 1) % len(CLASSES)] for i, c in enumerate(CLASSES)}
    params["datasets"] = [dataset]
    project.mkdir(parents=True, exist_ok=True)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    grid = [params["noise"]] if np.isscalar(params["noise"]) else params["noise"]
    shares = [params["thresholds"]] if np.isscalar(params["thresholds"]) else params["thresholds"]
    write_sweep(project, dataset, grid, shares, **sweep)
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", ["plot", "--dataset", dataset, "--raw", f"data/{dataset}/raw",
                                      "--summary", f"data/{dataset}/summary.json", "--noisy", f"data/{dataset}/noisy",
                                      "--issues", f"data/{dataset}/issues", "--results", f"data/{dataset}",
                                      "--metrics", f"metrics/{dataset}.json", "--out", f"plots/{dataset}"])
    plot.main()
    return project / "plots" / dataset


def inputs(project: Path, dataset: str) -> tuple[pd.DataFrame, list[dict]]:
    folder = project / "data" / dataset
    accuracy = pd.concat([pd.read_csv(p) for p in sorted((folder / "accuracy").glob("*.csv"))], ignore_index=True)
    records = [{"noise_level": json.loads(p.read_text())["noise_level"], **run}
               for p in sorted((folder / "detection").glob("*.json")) for run in json.loads(p.read_text())["runs"]]
    return accuracy, records


def cell(accuracy: pd.DataFrame, strategy: str, share: float | None = None) -> pd.Series:
    """One cell's accuracy per (condition, seed)."""
    rows = accuracy[(accuracy.strategy == strategy)
                    & (accuracy.prune_share.isna() if share is None else np.isclose(accuracy.prune_share, share))]
    return rows.set_index([*CONDITION, "seed"]).test_accuracy.sort_index()


def interval(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The 95 % t-interval of the mean of `values` per condition, with scipy's own interval function."""
    groups = values.groupby(level=CONDITION)
    bounds = {key: stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v)) for key, v in groups}
    return (pd.Series({k: b[0] for k, b in bounds.items()}).sort_index(),
            pd.Series({k: b[1] for k, b in bounds.items()}).sort_index())


def test_tables_and_headline_hold_the_study(params, tmp_path, monkeypatch):
    params.update(noise=[0.3, 0.0, 0.1], thresholds=[0.0, 0.5, 1.0])
    out = run_plot(tmp_path, params, "roman", monkeypatch)
    accuracy, records = inputs(tmp_path, "roman")
    seeds = sorted({run.seed for run in RUNS})

    results = pd.read_csv(out / "results.csv")
    # levels x (kind, regime) x cells: baseline, 3 + 3 shares, 4 strategies and controls, issue 28's 4 alternatives
    assert len(results) == 3 * 4 * 15
    prune_all = results[results.cell == "prune_relabel@1"].set_index(CONDITION).sort_index()
    expected = cell(accuracy, "prune_relabel", 1.0).groupby(level=CONDITION)
    np.testing.assert_allclose(prune_all["mean"], expected.mean(), atol=1e-9)
    np.testing.assert_allclose(prune_all["sd"], expected.std(ddof=1), atol=1e-9)
    low, high = interval(cell(accuracy, "prune_relabel", 1.0))
    np.testing.assert_allclose(prune_all.ci_low, low, atol=1e-9)
    np.testing.assert_allclose(prune_all.ci_high, high, atol=1e-9)
    assert (prune_all.n == len(seeds)).all()
    assert set(prune_all.label) == {"cleanlab: prune all flagged"}

    gains = pd.read_csv(out / "accuracy_by_share.csv")
    kept_half = gains[(gains.rest == "the rest kept as labelled") & (gains.prune_share_percent == 50)]
    paired = (cell(accuracy, "keep_rest", 0.5) - cell(accuracy, "baseline")).groupby(level=CONDITION)
    by_panel = kept_half.set_index(["noise_percent", "panel"]).sort_index()
    for (level, kind, regime), mean in paired.mean().items():
        row = by_panel.loc[(100 * level, tables.panel(kind, regime))]
        assert row.gain_over_baseline == pytest.approx(mean, abs=1e-9)
        assert row.sd == pytest.approx(paired.std(ddof=1)[(level, kind, regime)], abs=1e-9)

    differences = pd.read_csv(out / "differences.csv")
    random = differences[differences.comparison == "cleanlab (prune all) − random removal"].set_index(CONDITION)
    paired = cell(accuracy, "prune_relabel", 1.0) - cell(accuracy, "random_removal")
    np.testing.assert_allclose(random.sort_index()["mean"], paired.groupby(level=CONDITION).mean(), atol=1e-9)
    np.testing.assert_array_equal(random.sort_index().above_zero, (paired > 0).groupby(level=CONDITION).sum())
    low, high = interval(paired)
    np.testing.assert_allclose(random.sort_index().ci_low, low, atol=1e-9)
    np.testing.assert_allclose(random.sort_index().ci_high, high, atol=1e-9)
    np.testing.assert_array_equal(random.sort_index().excludes_zero, (low > 0) | (high < 0))

    bars = pd.read_csv(out / "flagged_vs_injected.csv")
    flagged = bars[bars["count"] == "samples flagged by cleanlab"].set_index(["noise_percent", "panel"]).samples
    means = pd.DataFrame(records).groupby(CONDITION).flagged.mean()
    for (level, kind, regime), mean in means.items():
        assert flagged[(100 * level, tables.panel(kind, regime))] == pytest.approx(mean, abs=0.05)

    filters = pd.read_csv(out / "detection_by_filter.csv")
    f1 = filters[filters.measure == "f1"].set_index([*CONDITION, "filter_by"]).sort_index()
    configured = params["cleanlab"]["filter_by"]
    assert (f1.xs(configured, level="filter_by").vs_configured_mean == 0).all()
    scores = pd.DataFrame([{**{k: r[k] for k in (*CONDITION, "seed")}, "filter_by": method, "f1": s["f1"]}
                           for r in records if r["injected"] > 0 for method, s in r["by_filter"].items()])
    wide = scores.pivot_table(index=[*CONDITION, "seed"], columns="filter_by", values="f1")
    other = next(method for method in wide if method != configured)
    low, high = interval(wide[other] - wide[configured])
    np.testing.assert_allclose(f1.xs(other, level="filter_by").vs_configured_ci_low, low, atol=1e-9)
    np.testing.assert_allclose(f1.xs(other, level="filter_by").vs_configured_ci_high, high, atol=1e-9)

    headline = json.loads((tmp_path / "metrics/roman.json").read_text())
    assert headline["baseline"] == round(accuracy[accuracy.strategy == "baseline"].test_accuracy.mean(), 4)
    assert headline["keep_rest"] == round(cell(accuracy, "keep_rest", 0.5).mean(), 4)  # the grid's only inner share
    assert headline["true_labels"] == round(cell(accuracy, "true_labels").mean(), 4)
    noisy = [r for r in records if r["injected"] > 0]
    assert headline["detection_recall"] == round(float(np.mean([r["recall"] for r in noisy])), 4)
    for name in FIGURES:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_the_accuracy_figure_draws_the_means_with_their_spread(params, tmp_path, monkeypatch):
    params.update(noise=[0.0, 0.4], thresholds=[0.0, 1.0])
    out = run_plot(tmp_path, params, "my_photos", monkeypatch)
    lines = pd.read_csv(out / "accuracy_vs_noise.csv")
    fig = plot.draw_accuracy(lines, "my_photos")
    panels = list(dict.fromkeys(lines.panel))
    assert [ax.get_title() for ax in fig.axes] == panels
    first = lines[(lines.panel == panels[0]) & (lines.strategy == "baseline (noisy labels)")]
    container = fig.axes[0].containers[0]  # the first errorbar: the baseline's
    np.testing.assert_allclose(np.asarray(container.lines[0].get_ydata(), dtype=float), first.test_accuracy)
    segments = container.lines[2][0].get_segments()  # the bars: the 95 % intervals
    np.testing.assert_allclose([s[0, 1] for s in segments], first.ci_low.fillna(first.test_accuracy), atol=1e-9)
    np.testing.assert_allclose([s[1, 1] for s in segments], first.ci_high.fillna(first.test_accuracy), atol=1e-9)
    assert fig._suptitle.get_text() == "my_photos: test accuracy by strategy"  # a dataset's key when it has no name


def test_one_noise_level_as_dvc_exp_run_writes_it(params, tmp_path, monkeypatch):
    params.update(noise=0.3, thresholds=[0.0, 0.1, 1.0])  # `dvc exp run -S noise=0.3`
    out = run_plot(tmp_path, params, "fashion_mnist", monkeypatch)
    for name in ("accuracy_vs_noise.csv", "accuracy_by_share.csv", "differences.csv", "flagged_vs_injected.csv"):
        assert set(pd.read_csv(out / name).noise_percent) == {30.0}, name
    assert set(pd.read_csv(out / "results.csv").noise_level) == {0.3}


def test_the_seeds_grid_without_strategies_and_shares_without_0_and_1(params, tmp_path, monkeypatch):
    params.update(noise=[0.0, 0.2], thresholds=[0.2, 0.6], study=None)
    out = run_plot(tmp_path, params, "roman", monkeypatch, plan=[("symmetric", "default", 0)], strategies=[])
    lines = pd.read_csv(out / "accuracy_vs_noise.csv")
    assert list(lines.strategy.unique()) == ["baseline (noisy labels)"]  # the inner shares are figure 2's
    assert lines.sd.isna().all() and lines.ci_low.isna().all()  # one seed: no spread, no interval
    assert sorted(pd.read_csv(out / "accuracy_by_share.csv").prune_share_percent.unique()) == [20.0, 60.0]
    assert pd.read_csv(out / "differences.csv").empty
    headline = json.loads((tmp_path / "metrics/roman.json").read_text())
    assert headline["prune_all"] is None and headline["relabel_all"] is None and headline["keep_rest"] is None
    assert headline["baseline"] is not None


def test_a_missing_or_doubled_result_is_a_data_error(params, tmp_path, monkeypatch):
    params.update(noise=[0.0, 0.2], thresholds=[0.0, 1.0])
    run_plot(tmp_path, params, "roman", monkeypatch)
    table = tmp_path / "data/roman/accuracy/noise_0.2.csv"
    rows = pd.read_csv(table)
    pd.concat([rows, rows.iloc[:1]]).to_csv(table, index=False)
    with pytest.raises(DataError, match=r"noise_0.2.csv: cell baseline appears twice for one run"):
        plot.main()
    rows.to_csv(table, index=False)
    (tmp_path / "data/roman/detection/noise_0.2.json").unlink()
    with pytest.raises(DataError, match=r"noise_0.2.json is missing"):
        plot.main()


@pytest.mark.slow  # about 15 s: every figure of the study and the sweep, drawn
def test_the_stage_writes_what_dvc_yaml_lists_and_the_plots_read_its_columns(params, tmp_path, monkeypatch):
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    stage_spec = spec["stages"]["plot"]
    listed = [next(iter(e)) if isinstance(e, dict) else e
              for key in ("outs", "plots", "metrics") for e in stage_spec.get(key, [])]
    out = run_plot(tmp_path, params, "roman", monkeypatch)
    written = sorted(str(p.relative_to(tmp_path)) for p in [*out.iterdir(), tmp_path / "metrics/roman.json"])
    assert sorted(p.replace("${item.dataset}", "roman") for p in listed) == written
    for entry in stage_spec["plots"]:
        (path, props), = entry.items()
        if path.endswith(".csv"):
            template = json.loads((ROOT / ".dvc/plots" / f"{props['template']}.json").read_text())
            columns = set(pd.read_csv(out / Path(path).name).columns)
            assert {props["x"], props["y"]} <= columns, path
            # every other column a template reads by name
            fields = ("panel", "sd", "n", "rest", "strategy", "count", "filter_by", "measure", "noise_percent",
                      "above_zero", "ci_low", "ci_high", "excludes_zero")
            named = {field for field in fields if f'"{field}"' in json.dumps(template)
                     or f"datum.{field}" in json.dumps(template)}
            assert named <= columns, (path, named - columns)


def test_gallery_titles_tell_image_files_apart():
    ids = ["train/i/ab9fb784-ce5d-11eb-b317-38f9d35ea60f.png", "val/ii/b16ab574-ce5d-11eb-b317-38f9d35ea60f.png"]
    assert [sweep.short_id(i) for i in ids] == ["train/i/ab9fb784", "val/ii/b16ab574"]
    assert sweep.short_id("12345") == "12345"  # a Fashion-MNIST index stays as it is
