"""The plot stage's helpers: gallery titles and the file names it shares with the report."""

import importlib.util
from pathlib import Path

from labelsweep import artifacts

ROOT = Path(__file__).parent.parent
_spec = importlib.util.spec_from_file_location("plot_stage", ROOT / "stages" / "plot.py")
plot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot)


def test_gallery_titles_tell_image_files_apart():
    ids = ["train/i/ab9fb784-ce5d-11eb-b317-38f9d35ea60f.png", "val/ii/b16ab574-ce5d-11eb-b317-38f9d35ea60f.png"]
    titles = [plot.short_id(i) for i in ids]
    assert titles == ["train/i/ab9fb784", "val/ii/b16ab574"]
    assert plot.short_id("12345") == "12345"  # a Fashion-MNIST index stays as it is


def test_metrics_file_names_match_dvc_yaml():
    dvc_yaml = (ROOT / "dvc.yaml").read_text()
    assert "metrics/${item.dataset}/accuracy/noise_${item.noise}_prune_${item.threshold}.json" in dvc_yaml
    assert "metrics/${item.dataset}/accuracy/noise_${item.noise}_baseline.json" in dvc_yaml
    assert "metrics/${item.dataset}/detection/noise_${item.noise}.json" in dvc_yaml
    metrics = Path("metrics/roman")
    assert artifacts.accuracy_json(metrics, 0.3, 1.0) == metrics / "accuracy/noise_0.3_prune_1.0.json"
    assert artifacts.accuracy_json(metrics, 0.3, None) == metrics / "accuracy/noise_0.3_baseline.json"
    assert artifacts.detection_json(metrics, 0.05) == metrics / "detection/noise_0.05.json"
    assert "data/${item.dataset}/issues/noise_${item.noise}" in dvc_yaml
    assert artifacts.issues_dir("data/roman/issues", 0.3) == Path("data/roman/issues/noise_0.3")
