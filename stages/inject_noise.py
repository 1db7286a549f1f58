"""Stage inject_noise: the noisy training labels of every run of one noise level.

A run is a noise kind x regime x seed (labelsweep.runs): the seed's sweep (params.yaml `runs`) at
every level, and the study's runs (`study`) at its levels (at 0 %, `real_errors`' for its datasets). Its
training set is the whole training set,
or a regime's stratified `train_size` subsample drawn with the run's seed; in it exactly
round(noise_level * n) labels are flipped (labelsweep.noise), each to another class. The test set is
never touched. Writes a folder: `labels.npy` (one row per run, -1 outside a run's training set),
`flipped.npy` (the ground-truth mask of flipped samples, same shape) and `runs.csv` (the row order);
the original labels stay in the raw folder.
"""

from pathlib import Path

import numpy as np

from labelsweep import artifacts, runs, stage
from labelsweep.errors import not_allowed
from labelsweep.labels import NO_LABEL
from labelsweep.noise import inject_noise, level_limit, uses_confusable
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
            labels[i, members], flipped[i, members] = inject_noise(
                true_labels[members], noise_level, len(classes), run.seed, run.noise_kind, confusable)
            print(f"noise {noise_level} {run}: flipped {flipped[i].sum()} of {len(members)} labels")
    artifacts.save_arrays(args.out, {"labels": labels, "flipped": flipped}, extra={"runs.csv": runs.table_csv(plan)})


if __name__ == "__main__":
    stage.run(main)
