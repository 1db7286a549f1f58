"""Print the README's result tables from a finished sweep: ``python -m labelsweep.report``.

Per dataset and noise level: test accuracy of the baseline and of cleanlab at 100 % prune, 50/50 and
100 % relabel, the best threshold, and the detection figures. With the cached data of the sweep at hand
(``data/``), also how many labels are still wrong after pruning or relabelling every flagged sample,
measured against the original labels (which explains why the two end up close).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from labelsweep.artifacts import accuracy_json, detection_json, issues_dir
from labelsweep.config import load_params


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def accuracy_table(name: str, levels: list[float], shares: list[float]) -> list[str]:
    metrics = Path("metrics") / name
    lines = ["| noise | baseline | cleanlab, 100 % prune | 50 % prune / 50 % relabel | 100 % relabel | best threshold "
             "| injected | flagged | flagged − injected | precision | recall | AUROC |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for level in levels:
        cells = {t: _json(accuracy_json(metrics, level, t))["test_accuracy"] for t in shares}
        best = max(cells, key=cells.get)
        d = _json(detection_json(metrics, level))
        baseline = _json(accuracy_json(metrics, level, None))["test_accuracy"]
        lines.append(
            f"| {100 * level:.0f} % | {baseline:.3f} | {_fmt(cells.get(1.0))} | {_fmt(cells.get(0.5))} "
            f"| {_fmt(cells.get(0.0))} | {cells[best]:.3f} (t={best}) "
            f"| {d['injected']:,} | {d['flagged']:,} | {d['flagged_minus_injected']:+,} | {_fmt(d['precision'])} "
            f"| {_fmt(d['recall'])} | {_fmt(d['auroc'])} |")
    return lines


def label_error_table(name: str, levels: list[float]) -> list[str]:
    data = Path("data") / name
    if not (data / "raw").is_dir():
        return [f"(no data/{name}: run the sweep to see the label-error table)"]
    original = np.load(data / "raw/train_labels.npy")
    lines = ["| noise | flagged | suggested label right | wrong labels: as given | after 100 % relabel "
             "| after 100 % prune (of those kept) |", "|---|---|---|---|---|---|"]
    for level in levels:
        issues = issues_dir(data / "issues", level)
        given, flagged, suggested = (np.load(issues / f"{k}.npy") for k in ("given", "flagged", "suggested"))
        relabelled = np.where(flagged, suggested, given)
        right = (suggested[flagged] == original[flagged]).mean() if flagged.any() else None
        lines.append(f"| {100 * level:.0f} % | {int(flagged.sum()):,} | {_fmt(right)} "
                     f"| {(given != original).mean():.3f} | {(relabelled != original).mean():.3f} "
                     f"| {(given[~flagged] != original[~flagged]).mean():.3f} |")
    return lines


def main() -> None:
    params = load_params()
    levels, shares = sorted(params["noise"]), sorted(params["thresholds"])
    for name in params["datasets"]:
        print(f"\n{name}\n")
        print("\n".join(accuracy_table(name, levels, shares)))
        print()
        print("\n".join(label_error_table(name, levels)))


if __name__ == "__main__":
    main()
