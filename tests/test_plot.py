"""The plot stage on a made-up sweep: its tables hold what summary and the per-level inputs give, for any grid."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from labelsweep import stage, summary
from stages import plot

from .conftest import ROOT
from .fake_sweep import write_sweep

FIGURES = ["accuracy_vs_noise.png", "gain_heatmap.png", "flagged_vs_injected.png", "gallery.png"]
TABLES = ["accuracy_vs_noise.csv", "accuracy_by_share.csv", "flagged_vs_injected.csv"]


def run_plot(project: Path, params: dict, dataset: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write params.yaml and the dataset's fake inputs in `project`, run the stage there; its output folder."""
    params = copy.deepcopy(params)
    if dataset not in params:  # a dataset of the user's own, set up like `custom`
        params[dataset] = {**copy.deepcopy(params["custom"])}
        params[dataset]["data"]["path"] = "/somewhere"
    params["datasets"] = [dataset]
    project.mkdir(parents=True, exist_ok=True)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    grid = [params["noise"]] if np.isscalar(params["noise"]) else params["noise"]
    shares = [params["thresholds"]] if np.isscalar(params["thresholds"]) else params["thresholds"]
    write_sweep(project, dataset, grid, shares)
    monkeypatch.chdir(project)
    monkeypatch.setattr(sys, "argv", ["plot", "--dataset", dataset, "--raw", f"data/{dataset}/raw",
                                      "--summary", f"data/{dataset}/summary.json",
                                      "--issues", f"data/{dataset}/issues", "--results", f"data/{dataset}",
                                      "--metrics", f"metrics/{dataset}.json", "--out", f"plots/{dataset}"])
    plot.main()
    return project / "plots" / dataset


def expected(project: Path, dataset: str, levels: list[float]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    accuracy = summary.read_accuracy(project / "data" / dataset, levels)
    detection = summary.read_detection(project / "data" / dataset, levels)
    return accuracy, detection, summary.by_share(accuracy)


def test_tables_and_headline_hold_the_sweep(params, tmp_path, monkeypatch):
    params.update(noise=[0.3, 0.0, 0.1], thresholds=[0.0, 0.5, 1.0])
    out = run_plot(tmp_path, params, "roman", monkeypatch)
    accuracy, detection, table = expected(tmp_path, "roman", [0.0, 0.1, 0.3])

    cells = pd.read_csv(out / "accuracy_by_share.csv")
    assert list(cells.columns) == ["noise_percent", "prune_share_percent", "test_accuracy", "gain_over_baseline"]
    assert len(cells) == 3 * 3
    for row in cells.itertuples():
        level, share = round(row.noise_percent / 100, 6), round(row.prune_share_percent / 100, 6)
        assert row.test_accuracy == table.loc[level, share]
        assert row.gain_over_baseline == pytest.approx(table.loc[level, share] - table.loc[level, "baseline"], abs=1e-6)

    lines = pd.read_csv(out / "accuracy_vs_noise.csv")
    assert list(lines.strategy.unique()) == ["baseline (noisy labels)", "cleanlab: prune all flagged",
                                             "cleanlab: relabel all flagged",
                                             "cleanlab: best share per level (picked on test)"]
    by_line = {name: line.set_index("noise_percent") for name, line in lines.groupby("strategy")}
    assert list(by_line["baseline (noisy labels)"].index) == [0.0, 10.0, 30.0]
    assert by_line["baseline (noisy labels)"].test_accuracy.tolist() == table.baseline.tolist()
    assert by_line["cleanlab: prune all flagged"].test_accuracy.tolist() == table[1.0].tolist()
    assert by_line["cleanlab: relabel all flagged"].test_accuracy.tolist() == table[0.0].tolist()
    best = by_line["cleanlab: best share per level (picked on test)"]
    assert best.test_accuracy.tolist() == table[[0.0, 0.5, 1.0]].max(axis=1).tolist()
    assert (best.prune_share_percent / 100).tolist() == table[[0.0, 0.5, 1.0]].idxmax(axis=1).tolist()

    bars = pd.read_csv(out / "flagged_vs_injected.csv").pivot(index="noise_percent", columns="count", values="samples")
    assert bars["labels flipped (injected)"].tolist() == detection.injected.tolist()
    assert bars["samples flagged by cleanlab"].tolist() == detection.flagged.tolist()
    assert bars["flagged and flipped"].tolist() == detection.true_positives.tolist()

    headline = json.loads((tmp_path / "metrics/roman.json").read_text())
    assert headline == summary.headline(accuracy, detection)
    for name in FIGURES:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_heatmap_draws_accuracy_minus_baseline(params, tmp_path, monkeypatch):
    params.update(noise=[0.0, 0.4], thresholds=[0.25, 0.75])
    run_plot(tmp_path, params, "my_photos", monkeypatch)
    table = expected(tmp_path, "my_photos", [0.0, 0.4])[2]
    cells = plot.accuracy_by_share(table)
    fig = plot.draw_gain(cells, "my_photos")
    ax = fig.axes[0]
    gain = table[[0.25, 0.75]].sub(table.baseline, axis=0).to_numpy()
    np.testing.assert_allclose(ax.images[0].get_array(), gain, atol=1e-6)
    assert [t.get_text() for t in ax.texts] == [f"{v:+.3f}" for v in gain.round(6).ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["25", "75"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "40"]
    assert ax.images[0].norm.vmin == -ax.images[0].norm.vmax  # diverging, centred on 0
    assert ax.get_title() == "my_photos: test accuracy minus the baseline's"  # a dataset's key when it has no name


def test_one_noise_level_as_dvc_exp_run_writes_it(params, tmp_path, monkeypatch):
    params.update(noise=0.3, thresholds=[0.0, 0.1, 1.0])  # `dvc exp run -S noise=0.3`
    out = run_plot(tmp_path, params, "fashion_mnist", monkeypatch)
    table = expected(tmp_path, "fashion_mnist", [0.3])[2]
    lines = pd.read_csv(out / "accuracy_vs_noise.csv")
    assert lines.noise_percent.tolist() == [30.0] * 4
    assert pd.read_csv(out / "accuracy_by_share.csv").test_accuracy.tolist() == table.iloc[0, 1:].tolist()
    assert len(pd.read_csv(out / "flagged_vs_injected.csv")) == 3
    headline = json.loads((tmp_path / "metrics/fashion_mnist.json").read_text())
    assert headline["baseline"] == round(table.baseline[0.3], 4)


def test_shares_without_0_and_1_draw_the_baseline_and_the_best_share(params, tmp_path, monkeypatch):
    params.update(noise=[0.0, 0.2], thresholds=[0.2, 0.6])
    out = run_plot(tmp_path, params, "roman", monkeypatch)
    lines = pd.read_csv(out / "accuracy_vs_noise.csv")
    assert list(lines.strategy.unique()) == ["baseline (noisy labels)",
                                             "cleanlab: best share per level (picked on test)"]
    assert set(lines.prune_share_percent.dropna()) <= {20.0, 60.0}
    assert sorted(pd.read_csv(out / "accuracy_by_share.csv").prune_share_percent.unique()) == [20.0, 60.0]
    headline = json.loads((tmp_path / "metrics/roman.json").read_text())
    assert headline["prune_all"] is None and headline["relabel_all"] is None


def test_only_the_grids_cells_are_drawn_and_a_missing_one_is_a_data_error(params, tmp_path, monkeypatch):
    params.update(noise=[0.0, 0.2], thresholds=[0.0, 1.0])
    params_wider = {**params, "thresholds": [0.0, 0.5, 1.0]}
    run_plot(tmp_path, params_wider, "roman", monkeypatch)  # results of a wider share grid
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params_wider, "datasets": ["roman"],
                                                          "thresholds": [0.0, 1.0]}))
    plot.main()
    assert sorted(pd.read_csv(tmp_path / "plots/roman/accuracy_by_share.csv").prune_share_percent.unique()) == [0, 100]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params_wider, "datasets": ["roman"],
                                                          "thresholds": [0.0, 0.7]}))
    with pytest.raises(stage.DataError, match=r"noise_0.0.csv: 0 rows for prune share 0.7"):
        plot.main()
    (tmp_path / "data/roman/detection/noise_0.2.json").unlink()
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({**params_wider, "datasets": ["roman"]}))
    with pytest.raises(stage.DataError, match=r"noise_0.2.json is missing"):
        plot.main()


def test_the_stage_writes_what_dvc_yaml_lists_and_the_plots_read_its_columns(params, tmp_path, monkeypatch):
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())
    stage_spec = spec["stages"]["plot"]
    listed = [next(iter(e)) if isinstance(e, dict) else e
              for key in ("outs", "plots", "metrics") for e in stage_spec.get(key, [])]
    out = run_plot(tmp_path, params, "roman", monkeypatch)
    written = sorted(str(p.relative_to(tmp_path)) for p in [*out.iterdir(), tmp_path / "metrics/roman.json"])
    assert sorted(p.replace("${item.dataset}", "roman") for p in listed) == written
    definitions = [e for e in spec.get("plots", []) if isinstance(e, dict)] + [
        {path.replace("${item.dataset}", "roman"): props}
        for e in stage_spec.get("plots", []) if isinstance(e, dict) for path, props in e.items()]
    for definition in definitions:
        (path, props), = definition.items()
        if path.endswith(".csv") and props and "template" in props:
            assert (ROOT / ".dvc/plots" / f"{props['template']}.json").is_file()
            columns = pd.read_csv(out / Path(path).name).columns
            assert {props["x"], props["y"]} <= set(columns), path


def test_gallery_titles_tell_image_files_apart():
    ids = ["train/i/ab9fb784-ce5d-11eb-b317-38f9d35ea60f.png", "val/ii/b16ab574-ce5d-11eb-b317-38f9d35ea60f.png"]
    assert [plot.short_id(i) for i in ids] == ["train/i/ab9fb784", "val/ii/b16ab574"]
    assert plot.short_id("12345") == "12345"  # a Fashion-MNIST index stays as it is
