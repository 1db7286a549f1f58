"""The README's result tables, generated from the committed results: ``python -m labelsweep.report``.

Per dataset: what the data is (sizes, what deduplication removed), the headline metrics DVC shows,
and per noise level the test accuracy of the baseline and of cleanlab at 100 % prune, 50/50 and
100 % relabel, the best threshold, the detection figures, and how many labels are still wrong after
pruning or relabelling every flagged sample. Everything comes from files the plot stage commits
(metrics/<dataset>.json, plots/<dataset>/levels.csv and data.json), so a fresh clone reproduces the
tables, and a test fails when README.md and the results drift apart. ``--write README.md`` replaces
the text between the README's report markers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from labelsweep.config import ConfigError, load_params
from labelsweep.summary import TITLES

BEGIN, END = "<!-- labelsweep.report: begin -->", "<!-- labelsweep.report: end -->"


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"  # value != value: NaN


def read_levels(plots: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A dataset's levels.csv as (accuracy: baseline + one column per prune share, detection), by noise level."""
    levels = pd.read_csv(plots / name / "levels.csv").set_index("noise_level")
    shares = {column: float(column.removeprefix("prune_")) for column in levels if column.startswith("prune_")}
    accuracy = levels[["baseline", *shares]].rename(columns=shares)
    return accuracy, levels.drop(columns=["baseline", *shares])


def data_line(name: str, data: dict) -> str:
    line = (f"{data['train_samples']:,} training and {data['test_samples']:,} test images, "
            f"{len(data['classes'])} classes, {'×'.join(map(str, data['image_shape']))} pixels")
    dedup = data.get("dedup")
    if dedup:
        line += (f"; deduplicated by decoded pixels: {dedup['train_duplicates_removed']:,} of "
                 f"{dedup['train_loaded']:,} training images were copies of another "
                 f"({dedup['train_label_conflicts']} with conflicting labels), and "
                 f"{dedup['test_overlap_removed']:,} of {dedup['test_loaded']:,} test images were training images")
    return f"{TITLES.get(name, name)}: {line}."


def level_table(name: str, plots: Path) -> list[str]:
    table, detection = read_levels(plots, name)
    shares = [c for c in table.columns if c != "baseline"]
    lines = ["| noise | baseline | 100 % prune | 50/50 | 100 % relabel | best share | injected | flagged "
             "| flagged − injected | precision | recall | suggested label right | wrong labels: given "
             "| after 100 % relabel | after 100 % prune |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for level, row in table.iterrows():
        # Ties go to the larger share: pruning is the cheaper action when it does as well.
        best = max(reversed(shares), key=lambda share: row[share])
        d = detection.loc[level]
        lines.append(
            f"| {100 * level:.0f} % | {row.baseline:.3f} | {_fmt(row.get(1.0))} | {_fmt(row.get(0.5))} "
            f"| {_fmt(row.get(0.0))} | {row[best]:.3f} (t={best:g}) | {int(d.injected):,} | {int(d.flagged):,} "
            f"| {int(d.flagged_minus_injected):+,} | {_fmt(d.precision)} | {_fmt(d.recall)} "
            f"| {_fmt(d.suggested_right)} "
            f"| {_fmt(d.wrong_given)} | {_fmt(d.wrong_after_relabel_all)} | {_fmt(d.wrong_after_prune_all)} |")
    return lines


def findings(name: str, plots: Path) -> list[str]:
    """The numbers the README's reading rests on, as sentences (so that no number in it is typed by hand)."""
    table, detection = read_levels(plots, name)
    lines = [f"- Baseline: {table.baseline.iloc[0]:.3f} at {100 * table.index[0]:.0f} % noise, "
             f"{table.baseline.iloc[-1]:.3f} at {100 * table.index[-1]:.0f} %."]
    if 1.0 in table:
        gain = table[1.0] - table.baseline
        lines.append(f"- 100 % prune minus baseline: {gain.mean():+.3f} on average, from {gain.min():+.3f} to "
                     f"{gain.max():+.3f}; above the baseline at {int((gain > 0).sum())} of {len(gain)} levels.")
    if 1.0 in table and 0.0 in table:
        edge = table[1.0] - table[0.0]
        lines.append(f"- 100 % prune minus 100 % relabel: {edge.mean():+.3f} on average, from {edge.min():+.3f} "
                     f"to {edge.max():+.3f}; prune ahead at {int((edge > 0).sum())} of {len(edge)} levels.")
    shares = table.drop(columns="baseline")
    if len(shares.columns) > 2:
        spread = shares.max(axis=1) - shares.min(axis=1)
        lines.append(f"- Spread between the prune shares of a level (best − worst): {spread.min():.3f} to "
                     f"{spread.max():.3f}.")
    noisy = detection[detection.injected > 0]
    if len(noisy):
        lines.append(f"- Detection where noise was injected: precision {noisy.precision.min():.2f}–"
                     f"{noisy.precision.max():.2f}, recall {noisy.recall.min():.2f}–{noisy.recall.max():.2f}; "
                     f"suggested label right for {noisy.suggested_right.min():.2f}–{noisy.suggested_right.max():.2f} "
                     "of the flagged samples.")
    return lines


def headline_table(names: list[str], metrics: Path) -> list[str]:
    heads = {name: json.loads((metrics / f"{name}.json").read_text()) for name in names}
    keys = list(next(iter(heads.values())))
    lines = ["| metric (mean over the noise levels) | " + " | ".join(TITLES.get(n, n) for n in names) + " |",
             "|---|" + "---|" * len(names)]
    lines += [f"| `{key}` | " + " | ".join(_fmt(heads[n].get(key)) for n in names) + " |" for key in keys]
    return lines


# The original study's single runs (Fashion-MNIST), read off its plots: noise level -> accuracy.
ORIGINAL_STUDY = {"baseline": {0.0: 0.886, 0.3: 0.781, 0.45: 0.659},
                  "cleanlab, 100 % prune": {0.0: 0.887, 0.3: 0.862, 0.45: 0.836}}


def study_table(plots: Path) -> list[str]:
    """Fashion-MNIST next to the original study at the levels both have."""
    table, detection = read_levels(plots, "fashion_mnist")
    common = [level for level in ORIGINAL_STUDY["baseline"] if level in table.index]
    if not common:
        return []
    ours = {"baseline": table.baseline, "cleanlab, 100 % prune": table.get(1.0)}
    excess = detection.flagged_minus_injected
    arrow = " → "
    lines = ["| Fashion-MNIST | original study | here |", "|---|---|---|"]
    for name, theirs in ORIGINAL_STUDY.items():
        if ours[name] is None:
            continue
        lines.append(f"| {name}, {arrow.join(f'{100 * p:.0f}' for p in common)} % noise "
                     f"| {arrow.join(f'{theirs[p]:.3f}' for p in common)} "
                     f"| {arrow.join(f'{ours[name][p]:.3f}' for p in common)} |")
    lines.append(f"| flagged − injected | about +4.5k | {excess.min():+,} to {excess.max():+,} |")
    return lines


def render(params: dict, metrics: Path = Path("metrics"), plots: Path = Path("plots")) -> str:
    names = params["datasets"]
    lines = ["Headline metrics (`metrics/<dataset>.json`, what `dvc exp show` and `dvc metrics diff` compare):", "",
             *headline_table(names, metrics)]
    if "fashion_mnist" in names:
        lines += ["", "Next to the original study (its single runs, read off its plots):", "",
                  *study_table(plots)]
    for name in names:
        data = json.loads((plots / name / "data.json").read_text())
        lines += ["", f"#### {TITLES.get(name, name)}", "", data_line(name, data), "",
                  *level_table(name, plots), "", *findings(name, plots)]
    return "\n".join(lines) + "\n"


def replace_between_markers(document: str, text: str, begin: str = BEGIN, end: str = END) -> str:
    """`document` with the lines between its `begin` and `end` markers replaced by `text`."""
    if begin not in document or end not in document:
        raise ConfigError(f"the document has no {begin} ... {end} markers")
    head, rest = document.split(begin, 1)
    return f"{head}{begin}\n{text}{end}{rest.split(end, 1)[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", metavar="README.md", help="replace the text between the report markers")
    args = parser.parse_args()
    try:
        text = render(load_params())
        if args.write:
            path = Path(args.write)
            path.write_text(replace_between_markers(path.read_text(), text))
        else:
            print(text, end="")
    except (ConfigError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
