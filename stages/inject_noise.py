"""Stage inject_noise: the noisy training labels of every run of one noise level.

A run is a noise kind x regime x seed (labelsweep.runs): the seed's sweep (params.yaml `runs`) at
every level, and the study's runs (`study`) at its levels (at 0 %, `real_errors`' for its datasets). Its
training set is the whole training set,
or a regime's stratified `train_size` subsample drawn with the run's seed; in it exactly
round(noise_level * n) labels are flipped (labelsweep.noise), each to another class -- but for the
`matrix` kind, whose flips are drawn per class from a generated noise matrix (params.yaml noise_matrix).
The test set is never touched. Writes a folder: `labels.npy` (one row per run, -1 outside a run's
training set), `flipped.npy` (the ground-truth mask of flipped samples, same shape), `runs.csv` (the row
order) and `noise.json` (per run, in that order: the flips, their realised rate, the difference from
round(p * n), the realised transition matrix and, for `matrix`, the generated one); the original labels
stay in the raw folder.
"""

import json
from pathlib import Path

import numpy as np

from labelsweep import artifacts, runs, stage
from labelsweep.errors import not_allowed
from labelsweep.labels import NO_LABEL
from labelsweep.noise import check_kind_settings, draw_noise, level_limit, noise_record, uses_confusable
from labelsweep.sampling import stratified_indices


def main() -> None:
    args, params = stage.arguments(__doc__, "dataset", "noise-level", "raw", "out")
    section, noise_level = params.dataset(args.dataset), args.noise_level
    plan = runs.level_plan(noise_level, params, section, args.dataset)
    own = params.real_errors_at(noise_level, args.dataset)
    wanted = set(params.runs.regimes) | set(params.study.regimes if params.study else []) | set(
        own.regimes if own else [])
    skipped = sorted(wanted - {run.regime for run in plan})
    if not plan:
        raise not_allowed("runs.regimes", params.runs.regimes, f"it leaves {args.dataset} no run: "
                          f"{args.dataset}.regimes sets {', '.join(skipped)} to null (add default, or a regime this "
                          "dataset runs)")
    if skipped:
        print(f"{args.dataset}: regimes {', '.join(skipped)} set to null under {args.dataset}.regimes: not run")

    true_labels = np.load(Path(args.raw) / "train_labels.npy")
    classes = artifacts.load_classes(args.raw)
    limit = level_limit({run.noise_kind for run in plan}, len(classes))
    if limit is not None and noise_level >= limit[0]:
        raise not_allowed("noise", noise_level, f"{args.dataset}'s labels carry no information at or above "
                          f"{limit[1]} (use levels below {limit[0]:.4g})")
    options = params.noise_matrix.model_dump()
    check_kind_settings({run.noise_kind for run in plan}, noise_level, len(classes), options)
    confusable = None
    if uses_confusable([run.noise_kind for run in plan]):
        mapping = section.confusable
        if sorted(mapping) != sorted(classes) or not set(mapping.values()) <= set(classes) or any(
                mapping[c] == c for c in classes):
            raise not_allowed(f"{args.dataset}.confusable", mapping, "a mapping from every class name to another "
                              f"class name; the classes are {', '.join(classes)}")
        confusable = np.array([classes.index(mapping[c]) for c in classes])

    labels = np.full((len(plan), len(true_labels)), NO_LABEL, dtype=np.int64)
    flipped = np.zeros(labels.shape, dtype=bool)
    records = []
    with stage.work():
        for i, run in enumerate(plan):
            train_size = section.regime(run.regime)[1]
            members = np.arange(len(true_labels))
            if train_size is not None:
                # A stratified subsample needs a sample of every class in it and in what it leaves out.
                if not len(classes) <= train_size <= len(true_labels) - len(classes):
                    raise not_allowed(
                        f"{args.dataset}.regimes.{run.regime}.train_size", train_size,
                        f"there are only {len(true_labels)} training samples in {len(classes)} classes (use between "
                        f"{len(classes)} and {len(true_labels) - len(classes)}: one sample per class on each side)")
                members = np.sort(stratified_indices(true_labels, train_size, run.seed)[0])
            noise = draw_noise(true_labels[members], noise_level, len(classes), run.seed, run.noise_kind, confusable,
                               options)
            labels[i, members], flipped[i, members] = noise.noisy, noise.flipped
            records.append({"noise_kind": run.noise_kind, "regime": run.regime, "seed": run.seed,
                            **noise_record(true_labels[members], noise, noise_level, len(classes))})
            print(f"noise {noise_level} {run}: flipped {flipped[i].sum()} of {len(members)} labels "
                  f"(round(p n) {records[-1]['count_difference']:+d})")
    record = json.dumps({"noise_level": noise_level, "classes": classes, "runs": records}, indent=1) + "\n"
    artifacts.save_arrays(args.out, {"labels": labels, "flipped": flipped},
                          extra={"runs.csv": runs.table_csv(plan), "noise.json": record})


if __name__ == "__main__":
    stage.run(main)
