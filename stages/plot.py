"""Stage plot: one dataset's study as figures (PNG), their data (CSV, for `dvc plots show`) and headline metrics.

Every number is a mean over the seeds of a condition (noise level x noise kind x regime), with the 95 %
t-interval of the mean as an error bar (none with one seed); differences are paired within a seed first
(labelsweep.analysis.summary). One panel per noise kind and regime. For the noise levels and thresholds in
params.yaml (any grid), it draws
1. accuracy_vs_noise: test accuracy vs injected noise of the baseline, cleanlab's cells (prune all, relabel
   all, prune a share and keep the rest, confident relabel) and the controls (random removal of as many
   samples, perfect detection, true labels);
2. gain_by_share: accuracy minus the baseline's vs the share of flagged samples pruned, the rest relabelled
   or kept as labelled;
3. differences: the paired differences the reading (docs/results.md) rests on (summary.COMPARISONS);
4. flagged_vs_injected: labels flipped, samples flagged by cleanlab, and both;
5. detection_by_filter: precision, recall and F1 against the injected flips of every `filter_by` of
   cleanlab.filter.find_label_issues (the configured one decides what is pruned or relabelled); its CSV also
   holds their intervals and paired differences from the configured one;
6. gallery: the 24 flagged samples with the lowest label quality in the first run at the lowest level;
7. alternatives: cleanlab's prune-all and each robust-training alternative minus the baseline (issue 28), with the
   intervals of paired.csv;
8. noise_matrices: per `matrix` noise kind, one run's generated noise matrix, the one its labels realised, and
   their difference.
paired.csv holds every paired comparison of every condition from the per-image correctness of train_eval's
predictions (labelsweep.analysis.paired: intervals with the test set's own sampling error, p-values, Holm's
correction over the dataset); judged.csv the estimates the original study's claims are judged on
(labelsweep.analysis.judged); noise_record.csv what every run's noise realised: its flips against round(p n) and,
for the matrix kinds, how far its realised noise matrix lies from the generated one
(labelsweep.analysis.noise_records).
The CSVs are long tables (one row per point: the shape the templates in .dvc/plots draw), shaped by
labelsweep.tables; results.csv, detection.csv and data.json are docs/results.md's tables (labelsweep.tooling.report);
metrics/<dataset>.json is summary.headline.
"""

import json
from argparse import Namespace
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from labelsweep import artifacts, stage
from labelsweep.analysis import judged, paired, summary
from labelsweep.analysis.figures import (
    draw_accuracy,
    draw_alternatives,
    draw_by_filter,
    draw_counts,
    draw_differences,
    draw_gain,
    draw_gallery,
    write_figure,
    write_sweep,
)
from labelsweep.analysis.noise_records import draw_matrices, read_noise_records
from labelsweep.analysis.tables import (
    accuracy_lines,
    detection_by_filter,
    flagged_vs_injected,
    gain_by_share,
    read_study,
    with_panels,
)

LIBRARIES = ("torch", "torchvision", "cleanlab", "dvc", "numpy", "pandas", "matplotlib")


def main() -> None:
    args, params = stage.arguments(__doc__, "dataset", "raw", "summary", "noisy", "issues", "results", "metrics",
                                   "out", help={"out": "output folder of the figures and their data"})
    levels, filter_by = sorted(params.noise), params.cleanlab.filter_by
    out, name = Path(args.out), summary.TITLES.get(args.dataset, args.dataset)

    every_accuracy, every_detection = read_study(Path(args.results), levels)
    accuracy, detection = every_accuracy, every_detection
    # The study's figures draw the study's runs; a grid without a study level (`-S noise=0.3`) the sweep's.
    study_levels = sorted(set(levels) & set(params.study.noise if params.study else []))
    if study_levels:  # (a study run at another level is one of real_errors', at 0 %: not the study's figures)
        accuracy = accuracy[accuracy.study & accuracy.noise_level.isin(study_levels)]
        detection = detection[detection.study & detection.noise_level.isin(study_levels)]
    with stage.work():
        detected, results = summary.detection_summary(detection), summary.cells(accuracy)
        lines, gains, bars = accuracy_lines(results), gain_by_share(accuracy), flagged_vs_injected(detected)
        compared = with_panels(summary.differences(accuracy))
        filters = detection_by_filter(detection, filter_by)
        gallery_level = (study_levels or levels)[0]
        level_name = artifacts.level_name(gallery_level)
        gallery = draw_gallery(name, gallery_level, Path(args.noisy) / level_name, Path(args.issues) / level_name,
                               Path(args.raw))
        for stem, data in [("accuracy_vs_noise", lines), ("accuracy_by_share", gains), ("differences", compared),
                           ("flagged_vs_injected", bars), ("detection_by_filter", filters),
                           ("results", results), ("detection", detected),
                           ("memorisation", summary.memorisation(accuracy)),
                           ("noise_record", read_noise_records(args.noisy, levels))]:
            artifacts.save_csv(out / f"{stem}.csv", data)
        for stem, fig in [("accuracy_vs_noise", draw_accuracy(lines, name)), ("gain_by_share", draw_gain(gains, name)),
                          ("differences", draw_differences(compared, name)),
                          ("flagged_vs_injected", draw_counts(bars, name)),
                          ("detection_by_filter", draw_by_filter(filters, name, filter_by)),
                          ("gallery", gallery), ("noise_matrices", draw_matrices(args.noisy, levels, name))]:
            write_figure(fig, out / f"{stem}.png")
        write_paired(args, every_accuracy, every_detection, levels, out, name)
        write_sweep(args.dataset, Path(args.raw), Path(args.issues), every_accuracy, every_detection, levels, name,
                    out)
        # The data's summary and the versions of the libraries the pipeline ran with (every stage runs in the
        # environment this one runs in; the model stages also record theirs in data/<dataset>/pred_probs).
        libraries = {package: version(package) for package in LIBRARIES}
        artifacts.save_json(out / "data.json", {**json.loads(Path(args.summary).read_text()), "libraries": libraries})
        artifacts.save_json(args.metrics, summary.headline(accuracy, detection))


def write_paired(args: Namespace, accuracy: pd.DataFrame, detection: pd.DataFrame, levels: list[float], out: Path,
                 name: str) -> None:
    """paired.csv, judged.csv and the alternatives figure, from every level's per-image correctness."""
    correct = paired.read_correct(args.results, args.raw, levels, len(accuracy))
    table = paired.paired_table(accuracy, correct)
    train_samples = json.loads(Path(args.summary).read_text())["train_samples"]
    artifacts.save_csv(out / "paired.csv", table)
    artifacts.save_csv(out / "judged.csv", judged.estimates(accuracy, correct, detection, table, train_samples))
    write_figure(draw_alternatives(table, name), out / "alternatives.png")


if __name__ == "__main__":
    stage.run(main)
