"""The result tables of docs/results.md, generated from the committed results: ``python -m labelsweep.tooling.report``.

Per dataset: what the data is (sizes, what deduplication removed), and per condition (noise level x
noise kind x regime) the test accuracy of every strategy and control as mean and 95 % t-interval over the
seeds, the paired differences the reading rests on (bold where the interval excludes 0), and cleanlab's
detection against the injected flips; first, the headline metrics DVC shows. Everything comes from files
the plot stage commits (metrics/<dataset>.json, plots/<dataset>/{results,differences,detection}.csv and
data.json), so a fresh clone reproduces the tables, and a test fails when the documents and the results drift
apart. ``--write`` replaces the text between the report markers and every claims block (labelsweep.analysis.claims)
in whichever documents hold them (:func:`documents`: README.md and the pages of docs/), so a block can move
between pages without a code change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from labelsweep.analysis import claims
from labelsweep.analysis.summary import (
    COMPARISONS,
    CONDITION,
    DETECTION_SPREAD,
    ORIGINAL,
    SLOPE,
    TITLES,
    ensure_intervals,
)
from labelsweep.analysis.text import condition, fmt, interval, mean_interval, num
from labelsweep.config import Params, load_params
from labelsweep.errors import ConfigError
from labelsweep.noise import SYMMETRIC
from labelsweep.strategies import Cell, in_reading_order

BEGIN, END = "<!-- labelsweep.report: begin -->", "<!-- labelsweep.report: end -->"


def columns(keys: set[str]) -> dict[str, str]:
    """The accuracy table's columns among the cells `keys` (cell key -> header): every strategy in reading order,
    a shared one at the shares it shows."""
    cells = [Cell(s.name, share) for s in in_reading_order() for share in (s.shown if s.shared else [None])]
    return {cell.key: cell.header for cell in cells if cell.key in keys}


def data_line(name: str, data: dict) -> str:
    line = (f"{data['train_samples']:,} training and {data['test_samples']:,} test images, "
            f"{len(data['classes'])} classes, {'×'.join(map(str, data['image_shape']))} pixels")
    dedup = data.get("dedup")
    if dedup:
        line += (f"; deduplicated by decoded pixels: {dedup['train_duplicates_removed']:,} of "
                 f"{dedup['train_loaded']:,} training images were copies of another "
                 f"({dedup['train_label_conflicts']} with conflicting labels), and "
                 f"{dedup['test_overlap_removed']:,} of {dedup['test_loaded']:,} test images were training images")
    libraries = data.get("libraries")  # recorded by the plot stage since issue 18
    if libraries:
        line += "; run with " + ", ".join(f"{package} {v}" for package, v in libraries.items())
    return f"{TITLES.get(name, name)}: {line}."


def accuracy_table(results: pd.DataFrame) -> list[str]:
    """Test accuracy per condition, mean and 95 % interval over the seeds, for the cells the grid has."""
    headers = columns(set(results.cell))
    wide = ensure_intervals(results).pivot_table(index=CONDITION, columns="cell", values=["mean", "ci_low", "ci_high"],
                                                 sort=False, dropna=False)
    seeds = int(results.n.max())
    lines = [f"| noise | kind | regime | {' | '.join(headers.values())} |",
             "|---|---|---|" + "---|" * len(headers)]
    for key, row in wide.iterrows():
        cells = [mean_interval(row["mean"][c], row["ci_low"][c], row["ci_high"][c]) for c in headers]
        lines.append(f"| {condition(pd.Series(dict(zip(CONDITION, key))))} | {' | '.join(cells)} |")
    return [f"Test accuracy, mean [95 % t-interval of the mean] over {seeds} seeds:", "", *lines]


def with_paired_intervals(differences: pd.DataFrame, folder: Path) -> tuple[pd.DataFrame, str]:
    """differences.csv's rows with the intervals of paired.csv (seeds and test images) where the results have it,
    and what the intervals are over."""
    if not (folder / "paired.csv").is_file():
        return ensure_intervals(differences), "the seeds"
    keys = [*CONDITION, "comparison"]
    paired = claims.paired_table(folder)[[*keys, "ci_low", "ci_high", "excludes_zero"]]
    kept = differences.drop(columns=[c for c in ("ci_low", "ci_high", "excludes_zero") if c in differences])
    return kept.merge(paired, on=keys, how="left"), "the seeds and the test images"


def differences_table(differences: pd.DataFrame, over: str = "the seeds") -> list[str]:
    """The paired differences per condition: mean and 95 % interval (over `over`), in bold where the interval
    excludes 0."""
    if differences.empty:
        return []
    differences = ensure_intervals(differences)
    names = [name for name in [*(name for name, *_ in COMPARISONS), SLOPE] if name in set(differences.comparison)]
    lines = [f"| noise | kind | regime | {' | '.join(names)} |", "|---|---|---|" + "---|" * len(names)]
    for _, group in differences.groupby(CONDITION, sort=False):
        by_name = group.set_index("comparison")
        cells = [difference_cell(by_name.loc[n]) if n in by_name.index else "–" for n in names]
        lines.append(f"| {condition(group.iloc[0])} | {' | '.join(cells)} |")
    slope = (" (the slope: accuracy change from relabelling all to pruning all, on a least-squares line over the "
             "shares, per seed)") if SLOPE in names else ""
    return ["Paired differences in test accuracy, within each seed: mean [95 % interval of the mean over "
            f"{over}], **bold** where the interval excludes 0{slope}:", "", *lines]


def difference_cell(row: pd.Series) -> str:
    mean = num(row["mean"], sign="+")
    return f"{f'**{mean}**' if row.excludes_zero else mean} {interval(row.ci_low, row.ci_high, sign='+')}".rstrip()


def detection_table(detection: pd.DataFrame) -> list[str]:
    lines = ["| noise | kind | regime | injected | flagged | flagged − injected | precision | recall "
             "| suggested label right | wrong labels: given | after relabel all | after prune all |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    detection = ensure_intervals(detection, tuple(f"{key}_" for key in DETECTION_SPREAD if f"{key}_sd" in detection))
    for _, d in detection.iterrows():
        lines.append(
            f"| {condition(d)} | {d.injected:,.0f} | {d.flagged:,.0f} | {d.flagged_minus_injected:+,.0f} "
            f"| {mean_interval(d.precision, d.precision_ci_low, d.precision_ci_high, 2)} "
            f"| {mean_interval(d.recall, d.recall_ci_low, d.recall_ci_high, 2)} | {fmt(d.suggested_right, 2)} "
            f"| {fmt(d.wrong_given)} | {fmt(d.wrong_after_relabel_all)} | {fmt(d.wrong_after_prune_all)} |")
    return ["cleanlab's detection against the injected flips (means over the seeds; precision and recall with "
            "their 95 % intervals):", "", *lines]


def headline_table(names: list[str], metrics: Path) -> list[str]:
    heads = {name: json.loads((metrics / f"{name}.json").read_text()) for name in names}
    keys = list(next(iter(heads.values())))
    lines = ["| metric (mean over every condition and seed) | " + " | ".join(TITLES.get(n, n) for n in names) + " |",
             "|---|" + "---|" * len(names)]
    lines += [f"| `{key}` | " + " | ".join(fmt(heads[n].get(key)) for n in names) + " |" for key in keys]
    return lines


def study_table(results: pd.DataFrame) -> list[str]:
    """Fashion-MNIST next to the original study (symmetric noise) at the levels both have, per regime."""
    published = ORIGINAL["fashion_mnist"]
    symmetric = results[results.noise_kind == SYMMETRIC]
    common = [level for level in next(iter(published.values())) if level in set(symmetric.noise_level)]
    if not common:
        return []
    lines = ["| Fashion-MNIST, symmetric noise | original study | " + " | ".join(
        f"here, {regime} model" for regime in symmetric.regime.unique()) + " |",
        "|---|---|" + "---|" * symmetric.regime.nunique()]
    for cell, theirs in published.items():
        ours = [symmetric[(symmetric.regime == regime) & (symmetric.cell == cell.key)].set_index("noise_level")["mean"]
                for regime in symmetric.regime.unique()]
        lines.append(f"| {cell.header}, {' → '.join(f'{100 * p:g}' for p in common)} % noise "
                     f"| {' → '.join(f'{theirs[p]:.3f}' for p in common)} | "
                     + " | ".join(" → ".join(fmt(series.get(p)) for p in common) for series in ours) + " |")
    return ["Next to the original study (its single runs, read off its plots):", "", *lines]


def render(params: Params, metrics: Path = Path("metrics"), plots: Path = Path("plots")) -> str:
    names = params.datasets
    lines = ["Headline metrics (`metrics/<dataset>.json`, what `dvc exp show` and `dvc metrics diff` compare):", "",
             *headline_table(names, metrics)]
    for name in names:
        folder = plots / name
        data = json.loads((folder / "data.json").read_text())
        results = pd.read_csv(folder / "results.csv")
        differences, over = with_paired_intervals(pd.read_csv(folder / "differences.csv"), folder)
        detection = pd.read_csv(folder / "detection.csv")
        lines += ["", f"#### {TITLES.get(name, name)}", "", data_line(name, data), "", *accuracy_table(results), "",
                  *differences_table(differences, over), "", *detection_table(detection)]
        if name == "fashion_mnist":
            table = study_table(results)
            lines += ["", *table] if table else []
    return "\n".join(lines) + "\n"


def replace_between_markers(document: str, text: str, begin: str = BEGIN, end: str = END) -> str:
    """`document` with the lines between its `begin` and `end` markers replaced by `text`."""
    if begin not in document or end not in document:
        raise ConfigError(f"the document has no {begin} ... {end} markers")
    head, rest = document.split(begin, 1)
    return f"{head}{begin}\n{text}{end}{rest.split(end, 1)[1]}"


def documents(root: Path = Path(".")) -> list[Path]:
    """The Markdown documents (README.md, docs/*.md) that hold a generated block: the report's or a claims block."""
    candidates = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return [path for path in candidates
            if path.is_file() and (BEGIN in path.read_text() or claims.blocks(path.read_text()))]


def write(text: str, params: Params, paths: list[Path], plots: Path = Path("plots")) -> list[Path]:
    """Replace the report block (`text`) and fill every claims block in each of `paths` (every document that
    holds a generated block, when `paths` is empty)."""
    paths = paths or documents()
    if not any(BEGIN in path.read_text() for path in paths):
        raise ConfigError(f"no document (README.md, docs/*.md) holds the {BEGIN} ... {END} markers")
    for path in paths:
        document = path.read_text()
        if BEGIN in document:
            document = replace_between_markers(document, text)
        path.write_text(claims.fill(document, params, plots))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", metavar="DOCUMENT", nargs="*",
                        help="replace the text between the report markers, in the documents named or, with none "
                             "named, in every document that holds them")
    args = parser.parse_args()
    try:
        params = load_params()
        text = render(params)
        if args.write is not None:
            for path in write(text, params, [Path(name) for name in args.write]):
                print(f"wrote {path}")
        else:
            print(text, end="")
    except (ConfigError, FileNotFoundError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
